"""A dialect is one package with an ``install(app)``: installed through the app factory's
own path, a minimal dialect's route answers, appears in the OpenAPI document, and is held
to the role policy like every other route (a viewer may read it, no token may not)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel

from adapters.secrets import hash_token
from adapters.settings import Settings
from api.core import errors, openapi, policy
from api.core.app import ServeOptions, create_app
from api.core.openapi import Operation, declare
from api.core.policy import Permission, Rule, allows, register_rules, rule_for
from api.dialects import DIALECTS
from domain.token import Role

ECHO = "/api/v1/echo"
ROOT = "root-token"


class Echo(BaseModel):
    said: str


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"said": "hello"})


def install_echo(app: web.Application) -> None:
    """What a new dialect's package provides: routes, rules, declarations."""
    app.router.add_get(ECHO, _echo)
    register_rules({("GET", ECHO): Rule(Permission.READ)})
    declare("GET", ECHO, Operation("say hello", {200: Echo}, tags=("echo",)))


@pytest.fixture(autouse=True)
def _restore_registries() -> Iterator[None]:
    """The registries are process-wide: leave them as the real dialects made them."""
    rules = dict(policy.POLICY)
    operations = dict(openapi.OPERATIONS)
    shapes = list(errors.ERROR_SHAPES)
    yield
    policy.POLICY.clear()
    policy.POLICY.update(rules)
    openapi.OPERATIONS.clear()
    openapi.OPERATIONS.update(operations)
    errors.ERROR_SHAPES[:] = shapes


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    options = ServeOptions(
        settings=Settings(data_dir=tmp_path), admin_token_hash=hash_token(ROOT), run_worker=False
    )
    app = create_app(options, dialects=(*DIALECTS, install_echo))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_an_installed_dialect_answers_and_is_documented(
    client: TestClient[web.Request, web.Application],
) -> None:
    auth = {"Authorization": f"Bearer {ROOT}"}
    answer = await client.get(ECHO, headers=auth)
    assert answer.status == 200
    assert await answer.json() == {"said": "hello"}
    document = await (await client.get("/api/v1/openapi.json", headers=auth)).json()
    operation = document["paths"][ECHO]["get"]
    assert operation["summary"] == "say hello"
    assert operation["tags"] == ["echo"]
    assert "Echo" in document["components"]["schemas"]


async def test_an_installed_dialect_is_in_the_role_matrix(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert (await client.get(ECHO)).status == 401
    rule = rule_for("HEAD", ECHO + "/")
    assert rule is not None
    assert {role for role in Role if allows(role, rule)} == set(Role)


async def test_a_route_without_rules_is_refused_to_every_token(tmp_path: Path) -> None:
    def install_unruled(app: web.Application) -> None:
        app.router.add_get("/api/v1/unruled", _echo)

    options = ServeOptions(
        settings=Settings(data_dir=tmp_path), admin_token_hash=hash_token(ROOT), run_worker=False
    )
    app = create_app(options, dialects=(*DIALECTS, install_unruled))
    async with TestClient(TestServer(app)) as client:
        auth = {"Authorization": f"Bearer {ROOT}"}
        assert (await client.get("/api/v1/unruled", headers=auth)).status == 403
