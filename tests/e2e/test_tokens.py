"""Token lifecycle against real ``rewind serve`` processes: issue, use through each of the
three headers, expiry, revoke (refused at once here, and within about a second by another
process sharing PostgreSQL), the bootstrap admin token printed once, and REWIND_ADMIN_TOKEN
rotation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_postgres
from tests.support.http import call, wait_for
from tests.support.processes import start_serve
from tests.support.stores import PG_URL, drop_pg_schema, make_pg_schema

ADMIN = "tokens-admin-token-0123456789"
HEADERS: dict[str, Callable[[str], dict[str, str]]] = {
    "Authorization": lambda t: {"Authorization": f"Bearer {t}"},
    "AuthToken": lambda t: {"AuthToken": t},
    "SEC": lambda t: {"SEC": t},
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    serve, url = start_serve(tmp_path_factory.mktemp("tokens") / "data", ADMIN)
    try:
        yield url
    finally:
        serve.stop()


def _issue(base: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"t-{uuid.uuid4().hex[:8]}")
    status, created, _ = call("POST", f"{base}/api/v1/tokens", ADMIN, body)
    assert status == 201, created
    return dict(created)


def _get(base: str, token: str, header: str = "Authorization") -> int:
    status: int = call("GET", f"{base}/api/v1/backups", headers=HEADERS[header](token))[0]
    return status


def test_an_issued_token_works_in_each_header_and_its_secret_is_shown_once(base: str) -> None:
    created = _issue(base, role="viewer")
    assert created["token"].startswith("rw_") and created["status"] == "active"
    for header in HEADERS:
        assert _get(base, created["token"], header) == 200, header
    _, listed, _ = call("GET", f"{base}/api/v1/tokens", ADMIN)
    mine = [t for t in listed["items"] if t["id"] == created["id"]]
    assert mine and "token" not in mine[0] and created["token"] not in str(listed)
    assert mine[0]["created_by"] == "admin" and mine[0]["role"] == "viewer"


def test_bad_tokens_are_401_in_every_header(base: str) -> None:
    for header in HEADERS:
        assert _get(base, "rw_not-a-token", header) == 401
    status, body, headers = call("GET", f"{base}/api/v1/backups")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization" in body[0]
    basic = {"Authorization": "Basic dXNlcjpwdw=="}
    assert call("GET", f"{base}/api/v1/backups", headers=basic)[0] == 401
    # A proxy's Basic credentials do not hide a token in another header.
    assert call("GET", f"{base}/api/v1/backups", headers={**basic, "SEC": ADMIN})[0] == 200


def test_a_token_expires(base: str) -> None:
    created = _issue(base, role="viewer", ttl_seconds=1)
    assert _get(base, created["token"]) == 200
    wait_for(lambda: _get(base, created["token"]) == 401, timeout=5)
    _, listed, _ = call("GET", f"{base}/api/v1/tokens", ADMIN)
    assert {t["id"]: t["status"] for t in listed["items"]}[created["id"]] == "expired"


def test_revoke_refuses_the_token_at_once_and_is_idempotent(base: str) -> None:
    created = _issue(base, role="backup_operator")
    assert _get(base, created["token"], "SEC") == 200
    status, revoked, _ = call("DELETE", f"{base}/api/v1/tokens/{created['id']}", ADMIN)
    assert status == 200 and revoked["status"] == "revoked" and revoked["revoked_by"] == "admin"
    for header in HEADERS:
        assert _get(base, created["token"], header) == 401
    assert call("DELETE", f"{base}/api/v1/tokens/{created['id']}", ADMIN)[0] == 200
    assert call("DELETE", f"{base}/api/v1/tokens/{uuid.uuid4()}", ADMIN)[0] == 404
    # The name is free again once the token is revoked; two active tokens cannot share one.
    again = _issue(base, role="viewer", name=created["name"])
    status, refused, _ = call(
        "POST", f"{base}/api/v1/tokens", ADMIN, {"name": again["name"], "role": "viewer"}
    )
    assert status == 409 and again["name"] in refused[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "root"}, "role"),
        ({"name": "x", "role": "viewer", "ttl_seconds": 0}, "ttl_seconds"),
        ({"name": "x", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "role": "viewer", "tenants": []}, "tenants"),
        ({"name": "x", "role": "viewer", "tenants": ["bad tenant"]}, "tenants"),
        ({"name": "admin", "role": "viewer"}, "name"),
        ({"name": "x", "role": "viewer", "secret": "mine"}, "secret"),
    ],
)
def test_bad_token_requests_name_the_field(base: str, body: dict[str, Any], field: str) -> None:
    status, answer, _ = call("POST", f"{base}/api/v1/tokens", ADMIN, body)
    assert status == 400, answer
    assert answer[0].startswith("Incorrect parameters sent:") and field in answer[0]


def test_first_start_prints_an_admin_token_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    serve, url = start_serve(data_dir, None)
    try:
        line = serve.wait_for_line("admin token (shown once")
        token = line.rsplit(" ", 1)[1].strip()
        assert _get(url, token) == 200
    finally:
        serve.stop()
    serve, url = start_serve(data_dir, None)
    try:
        assert _get(url, token) == 200
    finally:
        serve.stop()  # drains the output: every line it printed is in serve.lines
    assert not any("admin token" in line for line in serve.lines)


def test_rotating_rewind_admin_token_revokes_the_old_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    serve, url = start_serve(data_dir, "first-admin-token-0123456789")
    try:
        assert _get(url, "first-admin-token-0123456789") == 200
    finally:
        serve.stop()
    serve, url = start_serve(data_dir, "second-admin-token-0123456789")
    try:
        assert _get(url, "second-admin-token-0123456789") == 200
        assert _get(url, "first-admin-token-0123456789") == 401
    finally:
        serve.stop()


@pytest.mark.postgres
def test_a_revoke_reaches_another_process_on_postgres(tmp_path: Path) -> None:
    """Two servers share one PostgreSQL store: a token revoked through one is refused by the
    other within about a second (its cache trusts a lookup for at most one second)."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    make_pg_schema(schema)
    env = {
        "REWIND_DATABASE_URL": f"{PG_URL}?schema={schema}",
        "REWIND_SECRET_KEY": "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=",
    }
    one, url_one = start_serve(tmp_path / "one", ADMIN, env=env)
    two, url_two = start_serve(tmp_path / "two", ADMIN, env=env)
    try:
        created = _issue(url_one, role="viewer")
        assert _get(url_two, created["token"], "AuthToken") == 200
        assert _get(url_two, created["token"], "AuthToken") == 200  # now cached there
        assert call("DELETE", f"{url_one}/api/v1/tokens/{created['id']}", ADMIN)[0] == 200
        revoked_at = time.monotonic()
        wait_for(lambda: _get(url_two, created["token"], "AuthToken") == 401, timeout=5)
        assert time.monotonic() - revoked_at < 2.5
    finally:
        one.stop()
        two.stop()
        drop_pg_schema(schema)
