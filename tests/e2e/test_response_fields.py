"""The native API's answers carry exactly the fields they are documented to carry (keys
checked recursively, written out here by hand), and none of them carries a secret in any
form: not a PBX credential in plain or sealed form, not a token nor a token's hash.

A field added by mistake (say the host's sealed credentials next to ``has_credentials``)
fails the pinned key set even when its value looks harmless; and ``Server.call`` checks every
string of every answer against the installation's own sealing key, the shape of a sealed
value, the tokens in play and their hashes, so a secret smuggled into a pinned field fails
too. Real ``rewind serve`` and ``rewind sandbox`` processes. Restore answers are not pinned
here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.secrets import Sealer, load_sealer
from tests.support.http import call, wait_backup_finished
from tests.support.processes import start_sandbox, start_serve

ADMIN = "fields-admin-token-0123456789abcdef"
CREDENTIALS = "rewind-backup:Fields-Pa55word-91d2"

HOST = {
    "id",
    "name",
    "base_url",
    "has_credentials",
    "active",
    "is_console",
    "stores_data",
    "data_backups_configured",
}
TOKEN = {
    "id",
    "name",
    "role",
    "tenants",
    "expires_at",
    "created_at",
    "created_by",
    "revoked_at",
    "revoked_by",
    "status",
}
ISSUED_TOKEN = TOKEN | {"token"}
ACCEPTED_BACKUP = {"id", "reference_id", "status"}
BACKUP = {
    "id",
    "reference_id",
    "name",
    "description",
    "status",
    "tenant_id",
    "group_id",
    "host_id",
    "type",
    "kind",
    "progress",
    "successful_calls",
    "error_calls",
    "has_errors",
    "start_datetime",
    "end_datetime",
    "failure_reason",
    "is_valid",
    "is_version_compatible",
    "size_on_disk",
    "initiated_by",
    "backup_type",
    "base_backup_id",
    "unchanged_entities",
}
PROGRESS = {"done", "total"}
PLAN = {
    "id",
    "name",
    "revision",
    "paused",
    "deployed",
    "staged",
    "has_staged_changes",
    "next_run",
    "last_tick",
    "last_backup_id",
    "last_skip_reason",
}
PLAN_SETTINGS = {
    "name",
    "host_id",
    "tenant_id",
    "group_id",
    "group",
    "user",
    "formats",
    "download_announcement_files",
    "type",
    "kind",
    "cron",
    "overlap",
    "retention_days",
    "keep_last",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
}
LIST = {"total", "items"}

SEALED_SHAPE = re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}")
"""How a sealed value (a Fernet token: version byte 0x80, then a timestamp) begins."""


@dataclass
class Server:
    """A running server; every answer it gives the tests goes through the secret scan."""

    base: str
    sealer: Sealer
    tokens: list[str] = field(default_factory=lambda: [ADMIN])
    """Every token secret in play: the admin's and each one issued."""

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, answer, _ = call(method, self.base + path, ADMIN, body)
        what = f"{method} {path}"
        if what == "POST /api/v1/tokens" and got == 201:
            self.tokens.append(answer["token"])  # shown here once, by design
            self.scan(what, {k: v for k, v in answer.items() if k != "token"})
        else:
            self.scan(what, answer)
        assert got == status, (what, got, answer)
        return answer

    def scan(self, what: str, answer: Any) -> None:
        """No string in the answer is a sealed value (in shape, or one this installation's
        key opens), a token, a token's hash, or the PBX password."""
        hashes = {hashlib.sha256(t.encode()).hexdigest() for t in self.tokens}
        password = CREDENTIALS.split(":", 1)[1]
        for text in strings(answer):
            assert not SEALED_SHAPE.search(text), f"{what}: a sealed value {text!r}"
            with pytest.raises(ValueError):
                self.sealer.unseal(text)
            assert text not in hashes, f"{what}: a token hash"
            assert password not in text, f"{what}: the PBX password"
            assert not [t for t in self.tokens if t in text], f"{what}: a token"


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("fields") / "data"
    sandbox, pbx = start_sandbox("--tenants", "1", "--groups", "1", "--users", "2")
    try:
        serve, base = start_serve(data_dir, ADMIN, "--pbx", pbx)
        try:
            yield Server(base, load_sealer(data_dir))
        finally:
            serve.stop()
    finally:
        sandbox.stop()


def keys(value: Any) -> set[str]:
    assert isinstance(value, dict), value
    return set(value)


def test_host_answers_carry_exactly_their_fields(server: Server) -> None:
    body = {"id": "sealed", "name": "sealed", "base_url": "http://127.0.0.1:9/"}
    registered = server.call("POST", "/api/v1/hosts", {**body, "credentials": CREDENTIALS}, 201)
    assert keys(registered) == HOST
    assert registered["has_credentials"] is True
    listed = server.call("GET", "/api/v1/hosts")
    assert keys(listed) == LIST and listed["total"] == len(listed["items"]) == 2
    for item in listed["items"]:
        assert keys(item) == HOST
    assert {item["id"]: item["has_credentials"] for item in listed["items"]} == {
        "default": False,
        "sealed": True,
    }


def test_token_answers_carry_exactly_their_fields(server: Server) -> None:
    issued = server.call("POST", "/api/v1/tokens", {"name": "reader", "role": "viewer"}, 201)
    assert keys(issued) == ISSUED_TOKEN
    listed = server.call("GET", "/api/v1/tokens")
    assert keys(listed) == LIST and listed["items"]
    for item in listed["items"]:
        assert keys(item) == TOKEN
    assert issued["id"] in {item["id"] for item in listed["items"]}


def test_backup_answers_carry_exactly_their_fields(server: Server) -> None:
    scope = {"tenant_id": "t01", "group_id": "t01-g01"}
    accepted = server.call("POST", "/api/v1/backups", scope, 202)
    assert keys(accepted) == ACCEPTED_BACKUP
    backup_id = accepted["id"]
    wait_backup_finished(server.base, ADMIN, backup_id)
    view = server.call("GET", f"/api/v1/backups/{backup_id}")
    assert keys(view) == BACKUP and keys(view["progress"]) == PROGRESS
    assert view["status"] == "SUCCESS", view
    listed = server.call("GET", "/api/v1/backups")
    assert keys(listed) == LIST and listed["items"]
    for item in listed["items"]:
        assert keys(item) == BACKUP and keys(item["progress"]) == PROGRESS


def test_plan_answers_carry_exactly_their_fields(server: Server) -> None:
    created = server.call("POST", "/api/v1/plans", {"name": "nightly", "tenant_id": "t01"}, 201)
    assert keys(created) == PLAN and keys(created["deployed"]) == PLAN_SETTINGS
    server.call("PUT", f"/api/v1/plans/{created['id']}", {"cron": "0 3 * * *"})
    listed = server.call("GET", "/api/v1/plans")
    assert keys(listed) == LIST and listed["total"] == len(listed["items"]) == 2
    for item in listed["items"]:
        assert keys(item) == PLAN and keys(item["deployed"]) == PLAN_SETTINGS
        assert item["staged"] is None or keys(item["staged"]) == PLAN_SETTINGS
    staged = [item for item in listed["items"] if item["has_staged_changes"]]
    assert [item["id"] for item in staged] == [created["id"]]
