"""The one error middleware answers in each dialect's shape: seed 003's list of messages by
default, a registered shape under its path prefix (as QRadar's routes will register theirs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.core.errors import ERROR_SHAPES, BadRequest, error_middleware, register_error_shape
from domain.errors import NameTaken


@pytest.fixture
def shapes() -> Iterator[None]:
    saved = list(ERROR_SHAPES)
    yield
    ERROR_SHAPES[:] = saved


def _dialect_error(status: int, messages: list[str], code: int | None) -> web.Response:
    body = {"http_response": {"code": status}, "code": code, "message": messages[0]}
    return web.json_response(body, status=status)


async def test_each_prefix_keeps_its_own_error_shape(shapes: None) -> None:
    async def taken(_request: web.Request) -> web.Response:
        raise NameTaken("The 'name' parameter value must be unique.")

    async def bad(_request: web.Request) -> web.Response:
        raise BadRequest(401, "no token", headers={"WWW-Authenticate": "Bearer"})

    register_error_shape("/api/dialect/", _dialect_error)
    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/api/dialect/backups", taken)
    app.router.add_post("/api/v1/backups", taken)
    app.router.add_get("/api/dialect/secret", bad)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        dialect = await client.post("/api/dialect/backups")
        assert dialect.status == 409
        assert await dialect.json() == {
            "http_response": {"code": 409},
            "code": 1005,
            "message": "The 'name' parameter value must be unique.",
        }
        native = await client.post("/api/v1/backups")
        assert native.status == 409 and native.headers["X-Rewind-Error-Code"] == "1005"
        assert await native.json() == ["The 'name' parameter value must be unique."]
        refused = await client.get("/api/dialect/secret")
        assert refused.status == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        assert (await refused.json())["message"] == "no token"
        missing = await client.get("/api/dialect/nothing-here")
        assert missing.status == 404 and "message" in await missing.json()
    finally:
        await client.close()
