"""Tokens in the event store (SQLite and PostgreSQL): found by hash, revoked for good, names
unique among active tokens, the bootstrap admin token pinned or made once; and, in-process,
the policy's deny-by-default for a route nobody gave an entry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.secrets import hash_token
from adapters.settings import Settings
from api.core.app import ServeOptions, create_app
from api.core.auth import UNCACHED, TokenCache
from api.core.services import SERVICES
from domain.application import RewindApplication
from domain.token import Role, TokenNameTaken, TokenSpec, token_uuid
from tests.support.stores import StoreTarget


@pytest.fixture
def app(store: StoreTarget) -> Any:
    application = store.open()
    try:
        yield application
    finally:
        application.close()


def _spec(name: str, **extra: Any) -> TokenSpec:
    return TokenSpec(name=name, role=Role.VIEWER, **extra)


def test_issue_find_revoke(app: RewindApplication) -> None:
    token = app.issue_token(hash_token("secret-1"), _spec("ops", tenants=("t02", "t01")), "admin")
    assert token.id == token_uuid(hash_token("secret-1"))
    found = app.find_token(hash_token("secret-1"))
    assert found is not None and found.spec.tenants == ("t01", "t02")
    assert app.find_token(hash_token("secret-2")) is None
    revoked = app.revoke_token(token.id, "admin")
    again = app.revoke_token(token.id, "admin")
    assert revoked.revoked_by == "admin" and again.version == revoked.version
    reread = app.find_token(hash_token("secret-1"))
    assert reread is not None and not reread.is_valid_at(datetime.now(UTC))
    history = app.history(token.id)
    assert [e.type for e in history] == ["Token.Issued", "Token.Revoked"]
    assert history[0].payload["token_hash"] == "<redacted>"


def test_expiry_is_part_of_validity(app: RewindApplication) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=30)
    token = app.issue_token(hash_token("s"), _spec("short", expires_at=soon), "admin")
    assert token.is_valid_at(soon - timedelta(seconds=1))
    assert not token.is_valid_at(soon)


def test_active_names_are_unique_and_freed_by_revoke(app: RewindApplication) -> None:
    first = app.issue_token(hash_token("a"), _spec("ci"), "admin")
    with pytest.raises(TokenNameTaken):
        app.issue_token(hash_token("b"), _spec("ci"), "admin")
    assert app.find_token(hash_token("b")) is None
    app.revoke_token(first.id, "admin")
    app.issue_token(hash_token("b"), _spec("ci"), "admin")
    assert sorted(t.spec.name for t in app.list_tokens()) == ["ci", "ci"]


def test_bootstrap_admin_made_once_unless_pinned(app: RewindApplication) -> None:
    assert app.bootstrap_admin(hash_token("first"), pinned=False) is True
    assert app.bootstrap_admin(hash_token("other"), pinned=False) is False
    assert app.find_token(hash_token("other")) is None
    # REWIND_ADMIN_TOKEN set: it replaces the bootstrap token and revokes the old one.
    assert app.bootstrap_admin(hash_token("pinned"), pinned=True) is True
    assert app.bootstrap_admin(hash_token("pinned"), pinned=True) is False
    old = app.find_token(hash_token("first"))
    new = app.find_token(hash_token("pinned"))
    now = datetime.now(UTC)
    assert old is not None and not old.is_valid_at(now) and old.revoked_by == "system"
    assert new is not None and new.is_valid_at(now) and new.spec.role is Role.ADMIN
    assert new.spec.name == "admin"
    # A revoked pinned token is not brought back by a restart.
    app.revoke_token(new.id, "admin")
    assert app.bootstrap_admin(hash_token("pinned"), pinned=True) is False
    again = app.find_token(hash_token("pinned"))
    assert again is not None and not again.is_valid_at(now)


async def test_a_route_without_a_policy_entry_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", verify_sample_share=0)
    options = ServeOptions(settings=settings, admin_token_hash=hash_token("root-token"))
    app = create_app(options)

    async def unlisted(_request: web.Request) -> web.Response:
        return web.json_response({"reached": True})

    app.router.add_get("/api/v1/unlisted", unlisted)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        headers = {"Authorization": "Bearer root-token"}
        response = await client.get("/api/v1/unlisted", headers=headers)
        assert response.status == 403
        assert "no access policy" in (await response.json())[0]
        assert (await client.get("/api/v1/unlisted")).status == 401
        assert (await client.get("/api/v1/hosts", headers=headers)).status == 200
    finally:
        await client.close()


async def test_the_token_cache_reads_ahead_and_a_revoke_here_is_not_undone(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", verify_sample_share=0)
    options = ServeOptions(settings=settings, admin_token_hash=hash_token("root-token"))
    app = create_app(options)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        services, root = app[SERVICES], hash_token("root-token")
        # An entry in use past half its life is read again in the background, so it is
        # still trusted when the first read's second is up: requests never all wait.
        cache = TokenCache(ttl=1.0)
        first = await cache.lookup(services, root)
        assert first is not None and first.name == "admin"
        await asyncio.sleep(0.6)
        assert cache.fresh(services, root) == first
        await asyncio.sleep(0.6)
        assert cache.fresh(services, root) == first
        # A read in progress when this process revokes (forgets) the token answers its
        # callers but does not put the entry back: the next request asks the store again.
        cache = TokenCache()
        reading = asyncio.ensure_future(cache.lookup(services, root))
        for _ in range(3):
            await asyncio.sleep(0)  # the read has begun: it is waiting for the store
        cache.forget(root)
        assert await reading == first
        assert cache.fresh(services, root) is UNCACHED
    finally:
        await client.close()
