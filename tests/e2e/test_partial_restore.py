"""A backup that could not read part of its group, and its restore, against real processes:
``rewind sandbox`` (its ``/1.0/_faults`` control makes chosen reads fail over HTTP) and
``rewind serve --pbx``, driven as a client would, every answer checked against the server's
OpenAPI document.

The backup ends SUCCESS with errors and every dialect says so; the entities it could not
read are unknown, not absent: the dry run and the restore list them as skipped, a
whole-scope restore needs ``allow_partial`` (409, code 2011, otherwise), and the restore
never deletes or changes them on the PBX.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.support.http import call as pbx_call
from tests.support.http import wait_finished
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import Running, start_sandbox, start_serve

TOKEN = "partial-e2e-token"
T, G = "t01", "t01-g01"
GROUP = f"/1.0/tenants/{T}/groups/{G}"
U1, U2 = f"{G}-u0001", f"{G}-u0002"
USER_ENTITIES = ("profile", "phone_book", "announcements", "services", "voice_mail")
UNREAD = [
    f"{T}/{G}/group/ivr",
    f"{T}/{G}/group/call_center",
    f"{T}/{G}/user/{U1}/voice_mail",
    *(f"{T}/{G}/user/{U2}/{e}" for e in USER_ENTITIES),  # a whole user
]
RESTORE_FIELDS = {
    "id", "status", "backup_id", "target_host_id", "tenant_id", "group_id",
    "safety_backup_id", "existing", "progress", "successful_calls", "error_calls",
    "has_errors", "start_datetime", "end_datetime", "failure_reason", "initiated_by",
}  # fmt: skip
DRY_RUN_FIELDS = {"backup_id", "target_host_id", "existing", "whole_group", "diff", "skipped"}


def path_of(key: str) -> str:
    parts = key.split("/")
    if parts[2] == "group":
        return f"{GROUP}/{parts[3]}"
    return f"{GROUP}/users/{parts[3]}/{parts[4]}"


@dataclass
class Env:
    api: str
    pbx: str
    data_dir: Path

    def events(self) -> int:
        with sqlite3.connect(self.data_dir / "events.sqlite") as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
            return count

    def export(self) -> dict[str, Any]:
        status, body, _ = pbx_call("GET", f"{self.pbx}{GROUP}/_export")
        assert status == 200
        return dict(body)

    def fail_reads(self, keys: list[str]) -> None:
        rules = [{"path": path_of(k), "method": "GET"} for k in keys]
        status, body, _ = pbx_call("PUT", f"{self.pbx}/1.0/_faults", body={"rules": rules})
        assert status == 200, body


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    sandbox: Running | None = None
    serve: Running | None = None
    try:
        sandbox, pbx = start_sandbox("--tenants", "1", "--groups", "1", "--users", "3")
        data_dir = tmp_path_factory.mktemp("partial") / "data"
        serve, api = start_serve(data_dir, TOKEN, "--pbx", pbx)
        register_document(api, TOKEN)
        yield Env(api, pbx, data_dir)
    finally:
        for process in (serve, sandbox):
            if process is not None:
                process.stop()


@pytest.fixture(scope="module")
def backup(env: Env) -> dict[str, Any]:
    """A backup of the group while the IVR, the call center, a voice mail and every entity
    of a user cannot be read."""
    env.fail_reads(UNREAD)
    body = {"tenant_id": T, "group_id": G, "download_announcement_files": True}
    status, accepted, _ = call("POST", f"{env.api}/api/v1/backups", TOKEN, body)
    assert status == 202, accepted
    view = wait_finished(env.api, "backups", accepted["id"], TOKEN)
    env.fail_reads([])
    return view


def test_the_backup_ends_success_with_errors_and_every_dialect_says_so(
    env: Env, backup: dict[str, Any]
) -> None:
    assert backup["status"] == "SUCCESS", backup
    assert backup["error_calls"] == len(UNREAD) and backup["has_errors"] is True
    backup_id = backup["id"]

    digits = UUID(backup_id).hex
    qradar_id = int(digits[:12] + digits[13], 16)
    status, qradar, _ = call("GET", f"{env.api}/api/backup_and_restore/backups/{qradar_id}", TOKEN)
    assert status == 200 and qradar["status"] == "SUCCESS" and qradar["has_errors"] is True

    status, gbots, _ = call("GET", f"{env.api}/api/v1/backup/{backup_id}", TOKEN)
    assert status == 200 and gbots["has_errors"] is True

    batch = f"{env.api}/api/v1/tenants/{T}/groups/{G}/batch"
    status, apio, _ = call("GET", f"{batch}/backups/", TOKEN)
    [item] = [b for b in apio["backups"] if b["id"] == backup["reference_id"]]
    assert item["has_errors"] is True and item["error_calls"] == len(UNREAD)

    _, events, _ = call("GET", f"{env.api}/api/v1/backups/{backup_id}/events", TOKEN)
    number = events["items"][0]["position"]
    status, unitrends, _ = call("POST", f"{env.api}/api/backups", TOKEN, {"backup_ids": [number]})
    assert status == 200 and [b["status"] for b in unitrends["backups"]] == ["Warning"]


def test_the_dry_run_lists_what_the_backup_could_not_read_as_skipped(
    env: Env, backup: dict[str, Any]
) -> None:
    status, dry, _ = call(
        "POST", f"{env.api}/api/v1/restores", TOKEN, {"backup_id": backup["id"], "dry_run": True}
    )
    assert status == 200, dry
    assert set(dry) == DRY_RUN_FIELDS
    assert [s["key"] for s in dry["skipped"]] == sorted(UNREAD[:2]) + sorted(UNREAD[2:])
    assert all(
        set(s) == {"key", "reason"} and "could not read" in s["reason"] for s in dry["skipped"]
    )
    diff = dry["diff"]
    assert not set(UNREAD) & {
        *diff["added"],
        *diff["removed"],
        *(c["key"] for c in diff["changed"]),
    }


def test_a_whole_scope_restore_is_refused_without_allow_partial(
    env: Env, backup: dict[str, Any]
) -> None:
    before = env.events()
    status, refused, headers = call(
        "POST", f"{env.api}/api/v1/restores", TOKEN, {"backup_id": backup["id"]}
    )
    assert status == 409, refused
    assert headers["X-Rewind-Error-Code"] == "2011"
    assert "allow_partial" in refused[0]
    status, gbots, headers = call(
        "POST", f"{env.api}/api/v1/backup/restore/{backup['id']}", TOKEN, {"existing": "skip"}
    )
    assert (status, gbots["code"], headers["X-Rewind-Error-Code"]) == (409, 409, "2011")
    assert "allow_partial" in gbots["error"]
    assert env.events() == before  # no restore, no safety backup


def test_the_restore_keeps_what_the_backup_could_not_read(env: Env, backup: dict[str, Any]) -> None:
    before = env.export()
    assert before["group"]["ivr"] and before["users"][U2]  # as the backup left the PBX
    body = {"backup_id": backup["id"], "allow_partial": True}
    status, accepted, _ = call("POST", f"{env.api}/api/v1/restores", TOKEN, body)
    assert status == 202, accepted
    assert set(accepted) == {"id", "status", "safety_backup_id"}
    view = wait_finished(env.api, "restores", accepted["id"], TOKEN)
    assert view["status"] == "SUCCESS", view
    assert set(view) == RESTORE_FIELDS | {"skipped"}
    assert view["error_calls"] == 0 and view["has_errors"] is False
    assert {s["key"] for s in view["skipped"]} == set(UNREAD)
    assert view["progress"]["done"] == view["progress"]["total"]

    after = env.export()
    assert after == before  # the PBX had not changed: nothing deleted, nothing changed

    _, listing, _ = call("GET", f"{env.api}/api/v1/restores", TOKEN)
    [item] = [r for r in listing["items"] if r["id"] == accepted["id"]]
    assert set(item) == RESTORE_FIELDS

    status, gbots, _ = call(
        "GET", f"{env.api}/api/v1/backup/restore/{accepted['id']}/status", TOKEN
    )
    assert status == 200 and gbots["results"]["ignored"] == len(UNREAD)
    assert {s["key"] for s in gbots["results"]["skipped"]} == set(UNREAD)

    # The safety backup read everything: next to the partial backup, what the partial one
    # could not read is left out of the diff and listed as skipped.
    safety = view["safety_backup_id"]
    status, diff, _ = call("GET", f"{env.api}/api/v1/backups/{backup['id']}/diff/{safety}", TOKEN)
    assert status == 200, diff
    assert {s["key"] for s in diff["skipped"]} == set(UNREAD)
    assert diff["diff"]["added"] == diff["diff"]["removed"] == diff["diff"]["changed"] == []
