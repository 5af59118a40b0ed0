"""The remembering router (api.core.routing) answers exactly as aiohttp's own router does, only
faster on a path it has just seen: each request gets its own parameters, the method still
decides between a route and 405, and the memory stays bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.core.routing import MEMO_ENTRIES, MEMO_PATH_CHARS, RememberingRouter, application


async def _echo(request: web.Request) -> web.Response:
    resource = request.match_info.route.resource
    assert resource is not None
    answer = {"route": resource.canonical, **request.match_info}
    # A handler that edits its match must not edit what the router remembers.
    request.match_info["item_id"] = "edited"
    return web.json_response(answer)


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = application(middlewares=[], client_max_size=1024)
    app.router.add_get("/items/{item_id}", _echo)
    app.router.add_post("/items/{item_id}/notes", _echo)
    app.router.add_get("/items/{item_id}/notes/{note_id}", _echo)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _get(client: TestClient[web.Request, web.Application], path: str) -> object:
    response = await client.get(path)
    assert response.status == 200, path
    return await response.json()


async def test_a_remembered_path_gets_its_own_parameters_every_time(
    client: TestClient[web.Request, web.Application],
) -> None:
    for _ in range(3):
        assert await _get(client, "/items/a") == {"route": "/items/{item_id}", "item_id": "a"}
    assert await _get(client, "/items/b") == {"route": "/items/{item_id}", "item_id": "b"}
    assert await _get(client, "/items/a/notes/n1") == {
        "route": "/items/{item_id}/notes/{note_id}",
        "item_id": "a",
        "note_id": "n1",
    }
    router = client.app.router
    assert isinstance(router, RememberingRouter)
    assert router.remembered == 3


async def test_the_method_still_decides_between_a_route_and_405(
    client: TestClient[web.Request, web.Application],
) -> None:
    posted = await client.post("/items/a/notes")
    assert posted.status == 200
    assert (await client.get("/items/a/notes")).status == 405
    assert (await client.post("/items/a/notes")).status == 200
    assert (await client.post("/items/a")).status == 405


async def test_not_found_and_encoded_slashes_are_not_taken_for_a_remembered_path(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert await _get(client, "/items/a") == {"route": "/items/{item_id}", "item_id": "a"}
    assert (await client.get("/items/a/b")).status == 404
    assert await _get(client, "/items/a%2Fb") == {"route": "/items/{item_id}", "item_id": "a/b"}
    router = client.app.router
    assert isinstance(router, RememberingRouter)
    assert router.remembered == 2  # the two matches; the 404 and the 405s are not kept


async def test_the_memory_is_bounded_in_entries_and_path_length(
    client: TestClient[web.Request, web.Application],
) -> None:
    router = client.app.router
    assert isinstance(router, RememberingRouter)
    long_id = "x" * MEMO_PATH_CHARS
    assert await _get(client, f"/items/{long_id}") == {
        "route": "/items/{item_id}",
        "item_id": long_id,
    }
    assert router.remembered == 0
    for number in range(MEMO_ENTRIES + 5):
        await _get(client, f"/items/{number}")
        assert router.remembered <= MEMO_ENTRIES
    assert await _get(client, "/items/7") == {"route": "/items/{item_id}", "item_id": "7"}
