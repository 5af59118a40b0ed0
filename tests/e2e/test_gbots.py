"""End to end: the General Bots dialect (seed 002) against a real ``rewind serve`` backing up
a stand-alone sandbox PBX, with a second, slower sandbox registered as host ``staging`` (the
seed's restore example targets "staging"). Every row of the seed's tables is exercised:
create (each type), list, get, delete; restore -> 202 -> status, with the PBX's ``_export``
as the judge; 409 while a restore runs; schedules; and the dialect's error shape."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call as pbx_call
from tests.support.http import wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import Running, start_sandbox, start_serve

TOKEN = "gbots-e2e-token"
TENANT = "t01"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@dataclass
class Env:
    api: str
    pbx: str
    staging: str
    data_dir: Path

    @property
    def backup(self) -> str:
        return f"{self.api}/api/v1/backup"

    def events(self) -> int:
        with sqlite3.connect(self.data_dir / "events.sqlite") as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
            return count


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    started: list[Running] = []
    try:
        sandbox, pbx = start_sandbox("--tenants", "1", "--groups", "3", "--users", "3")
        started.append(sandbox)
        slow, staging = start_sandbox(
            "--tenants", "1", "--groups", "3", "--users", "3", "--seed", "2",
            "--latency-ms", "30",
        )  # fmt: skip
        started.append(slow)
        data_dir = tmp_path_factory.mktemp("gbots") / "data"
        serve, api = start_serve(data_dir, TOKEN, "--pbx", pbx)
        started.append(serve)
        register_document(api, TOKEN)
        host = {"id": "staging", "name": "staging", "base_url": staging}
        status, body, _ = call("POST", f"{api}/api/v1/hosts", TOKEN, host)
        assert status == 201, body
        yield Env(api=api, pbx=pbx, staging=staging, data_dir=data_dir)
    finally:
        for process in reversed(started):
            process.stop()


def group(group_id: str) -> dict[str, str]:
    return {"tenant_id": TENANT, "group_id": group_id}


def export(pbx: str, group_id: str) -> dict[str, Any]:
    status, body, _ = pbx_call("GET", f"{pbx}/1.0/tenants/{TENANT}/groups/{group_id}/_export")
    assert status == 200
    result: dict[str, Any] = body
    return result


def ended(url: str, timeout: float) -> dict[str, Any]:
    """GET ``url`` until its ``status`` is SUCCESS or FAILED."""

    def done() -> dict[str, Any] | None:
        status, body, _ = call("GET", url, TOKEN)
        assert status == 200, body
        return body if body["status"] in ("SUCCESS", "FAILED") else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result


def finished(env: Env, backup_id: str) -> dict[str, Any]:
    return ended(f"{env.backup}/{backup_id}", timeout=90)


def created(env: Env, body: dict[str, Any]) -> dict[str, Any]:
    """POST create -> 201, then the backup once it has finished (it must succeed)."""
    status, answer, _ = call("POST", f"{env.backup}/create", TOKEN, body)
    assert status == 201, answer
    assert answer["backup_id"] == answer["id"]
    assert answer["status"] in ("INITIALIZING", "IN_PROGRESS", "SUCCESS")
    view = finished(env, answer["backup_id"])
    assert view["status"] == "SUCCESS", view
    return view


def restored(env: Env, job_id: str) -> dict[str, Any]:
    return ended(f"{env.backup}/restore/{job_id}/status", timeout=120)


def refused(answer: Any, status: int, code: int, *words: str) -> None:
    """The dialect's one error shape, naming what was wrong."""
    assert status == code, answer
    assert set(answer) == {"error", "code"} and answer["code"] == code, answer
    for word in words:
        assert word in answer["error"], answer


# ---------------------------------------------------------------------- backups


def test_create_each_type_then_list_them_as_the_seed_iterates(env: Env) -> None:
    views = [
        created(env, {"type": kind, "include_files": True, "include_database": True,
                      **group("t01-g01")})
        for kind in ("full", "incremental", "differential")
    ]  # fmt: skip
    assert [v["type"] for v in views] == ["full", "incremental", "differential"]
    for view in views:
        assert view["include_files"] is True and view["include_database"] is True
        assert view["size"] > 0 and view["completed_at"] >= view["created_at"]
        assert view["progress"]["done"] == view["progress"]["total"]
        assert view["progress"]["percent"] == 100 and view["is_valid"] is True

    status, backups, headers = call("GET", f"{env.backup}/list", TOKEN)
    assert status == 200 and isinstance(backups, list)
    assert int(headers["X-Total-Count"]) == len(backups) >= 3
    by_id = {b["id"]: b for b in backups}
    for view in views:
        assert by_id[view["id"]] == view
    # The seed's loop: TALK backup.id + " - " + backup.created_at + " (" + backup.size + ")"
    lines = [f"{b['id']} - {b['created_at']} ({b['size']})" for b in backups]
    assert all(line.endswith(")") and " - 20" in line for line in lines)
    assert [b["created_at"] for b in backups] == sorted(
        (b["created_at"] for b in backups), reverse=True
    )
    status, only, _ = call("GET", f"{env.backup}/list?type=differential", TOKEN)
    assert status == 200 and [b["id"] for b in only] == [views[2]["id"]]


def test_defaults_back_up_the_whole_default_host_and_switches_pick_the_content(
    env: Env,
) -> None:
    whole = created(env, {})
    assert whole["host_id"] == "default" and whole["tenant_id"] is None
    assert whole["type"] == "full"
    assert whole["include_files"] is True and whole["include_database"] is True
    config = created(env, {"include_files": False, **group("t01-g02")})
    files = created(env, {"include_database": False, **group("t01-g02")})
    assert (config["include_files"], config["include_database"]) == (False, True)
    assert (files["include_files"], files["include_database"]) == (True, False)
    # Files alone fetch only the documents that place the files, so fewer entities.
    assert files["progress"]["total"] < config["progress"]["total"]
    assert whole["progress"]["total"] > config["progress"]["total"]


@pytest.mark.parametrize(
    ("body", "raw", "headers", "status", "words"),
    [
        ({"type": "weekly"}, None, {}, 400, ("type",)),
        ({"include_files": "maybe"}, None, {}, 400, ("include_files",)),
        ({"include_files": False, "include_database": False}, None, {}, 400,
         ("include_database", "nothing to back up")),
        ({"colour": "red"}, None, {}, 400, ("colour",)),
        ({"name": "my backup/1"}, None, {}, 400, ("name",)),
        ({"group_id": "t01-g01"}, None, {}, 400, ("group_id",)),
        ({"host_id": "nowhere"}, None, {}, 400, ("host_id", "nowhere")),
        ({"tenant_id": "t99"}, None, {}, 400, ("tenant_id",)),
        (group("t01-g99"), None, {}, 400, ("group_id",)),
        ({"tenant_id": "../etc"}, None, {}, 400, ("tenant_id",)),
        (None, b"{not json", {"Content-Type": "application/json"}, 400, ("Malformed JSON",)),
        (None, b"type=full", {"Content-Type": "text/plain"}, 415, ("Content-Type",)),
        ({}, None, {"Accept": "text/html"}, 406, ("application/json",)),
    ],
)  # fmt: skip
def test_bad_create_input_names_the_field_and_records_nothing(
    env: Env,
    body: Any,
    raw: bytes | None,
    headers: dict[str, str],
    status: int,
    words: tuple[str, ...],
) -> None:
    before = env.events()
    got, answer, _ = call("POST", f"{env.backup}/create", TOKEN, body, headers, raw)
    refused(answer, got, status, *words)
    assert env.events() == before


def test_every_route_needs_the_token_and_answers_in_the_dialects_shape(env: Env) -> None:
    status, answer, headers = call("GET", f"{env.backup}/list")
    refused(answer, status, 401, "token")
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, answer, _ = call("POST", f"{env.backup}/create", "wrong-token", {})
    refused(answer, status, 401)
    # The router's own refusals, too: a path the dialect does not have, a method it refuses.
    status, answer, _ = call("GET", f"{env.backup}/no/such/route", TOKEN)
    refused(answer, status, 404)
    status, answer, headers = call("PATCH", f"{env.backup}/list", TOKEN, {})
    refused(answer, status, 405)
    assert "GET" in headers["Allow"]


def test_unknown_backups_and_jobs_are_404(env: Env) -> None:
    for method, path in (
        ("GET", UNKNOWN),
        ("DELETE", UNKNOWN),
        ("GET", "backup-123"),
        ("POST", f"restore/{UNKNOWN}"),
    ):
        status, answer, _ = call(method, f"{env.backup}/{path}", TOKEN)
        refused(answer, status, 404, "Backup not found")
    status, answer, _ = call("GET", f"{env.backup}/restore/{UNKNOWN}/status", TOKEN)
    refused(answer, status, 404, "Restore job not found")


def test_delete_of_a_finished_backup_removes_it(env: Env) -> None:
    view = created(env, {"include_files": False, **group("t01-g03")})
    status, answer, _ = call("DELETE", f"{env.backup}/{view['id']}", TOKEN)
    assert status == 200 and answer == {"backup_id": view["id"], "status": "DELETING"}
    wait_for(lambda: call("GET", f"{env.backup}/{view['id']}", TOKEN)[0] == 404, timeout=30)
    _, backups, _ = call("GET", f"{env.backup}/list", TOKEN)
    assert view["id"] not in {b["id"] for b in backups}
    status, answer, _ = call("DELETE", f"{env.backup}/{view['id']}", TOKEN)
    refused(answer, status, 404, "Backup not found")


def test_delete_of_a_running_backup_cancels_it_then_deletes_it(env: Env) -> None:
    body = {"host_id": "staging", **group("t01-g03")}  # staging answers in 30 ms a call
    status, answer, _ = call("POST", f"{env.backup}/create", TOKEN, body)
    assert status == 201, answer
    status, deleting, _ = call("DELETE", f"{env.backup}/{answer['backup_id']}", TOKEN)
    assert status == 200 and deleting == {"backup_id": answer["id"], "status": "CANCELLING"}
    wait_for(lambda: call("GET", f"{env.backup}/{answer['id']}", TOKEN)[0] == 404, timeout=60)


# ---------------------------------------------------------------------- restores


def _vandalise(pbx: str, group_id: str, before: dict[str, Any]) -> None:
    """Change the IVR, delete the call center and a user, as a careless admin would."""
    base = f"{pbx}/1.0/tenants/{TENANT}/groups/{group_id}"
    ivr = {**before["group"]["ivr"], "name": "Changed after the backup"}
    assert pbx_call("PUT", f"{base}/ivr", body=ivr)[0] == 200
    assert pbx_call("DELETE", f"{base}/call_center")[0] == 200
    assert pbx_call("DELETE", f"{base}/users/{sorted(before['users'])[0]}")[0] == 200


def test_restore_puts_the_backed_up_group_back(env: Env) -> None:
    before = export(env.pbx, "t01-g01")
    view = created(env, group("t01-g01"))
    _vandalise(env.pbx, "t01-g01", before)
    assert export(env.pbx, "t01-g01") != before

    status, dry, _ = call("POST", f"{env.backup}/restore/{view['id']}", TOKEN, {"dry_run": True})
    assert status == 200 and dry["dry_run"] is True and dry["target"] == "default"
    assert dry["diff"]["changed"] and dry["diff"]["removed"]
    assert export(env.pbx, "t01-g01") != before  # a dry run writes nothing

    status, accepted, _ = call("POST", f"{env.backup}/restore/{view['id']}", TOKEN, {})
    assert status == 202, accepted
    assert accepted["target"] == "default" and accepted["backup_id"] == view["id"]
    result = restored(env, accepted["job_id"])
    assert result["status"] == "SUCCESS", result
    assert result["progress"]["percent"] == 100
    assert result["results"]["failed"] == 0 and result["results"]["errors"] == []
    assert result["results"]["succeeded"] == result["progress"]["done"] > 0
    assert result["safety_backup_id"] is not None and result["completed_at"] is not None
    assert export(env.pbx, "t01-g01") == before


def test_restore_into_staging_refuses_a_second_one_while_it_runs(env: Env) -> None:
    source = export(env.pbx, "t01-g02")
    assert export(env.staging, "t01-g02") != source  # another seed: other content
    view = created(env, group("t01-g02"))
    url = f"{env.backup}/restore/{view['id']}"

    status, accepted, _ = call("POST", url, TOKEN, {"target": "staging"})
    assert status == 202 and accepted["target"] == "staging", accepted
    status, answer, headers = call("POST", url, TOKEN, {"target": "staging"})
    refused(answer, status, 409, "Restore already in progress")
    assert headers["X-Rewind-Error-Code"] == "1016"
    status, answer, _ = call("POST", f"{env.backup}/create", TOKEN, {"host_id": "staging"})
    assert status == 409 and answer["code"] == 409  # nor a backup of that host meanwhile
    running = call("GET", f"{env.backup}/restore/{accepted['job_id']}/status", TOKEN)[1]
    assert running["status"] in ("INITIALIZING", "IN_PROGRESS", "SUCCESS")

    result = restored(env, accepted["job_id"])
    assert result["status"] == "SUCCESS" and result["target"] == "staging", result
    assert export(env.staging, "t01-g02") == source
    # Over once it has ended: the next restore is accepted.
    status, again, _ = call("POST", url, TOKEN, {"target": "staging", "safety_backup": False})
    assert status == 202, again
    assert restored(env, again["job_id"])["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"target": "nowhere"}, ("target", "nowhere")),
        ({"target": "../x"}, ("target",)),
        ({"existing": "merge"}, ("existing",)),
        ({"group": ["voice_mail"]}, ("group",)),
        ({"dry_run": "perhaps"}, ("dry_run",)),
        ({"colour": "red"}, ("colour",)),
        ({"backup_id": "x"}, ("backup_id", "path")),
        ({"target_host_id": "staging"}, ("target_host_id", "target")),
    ],
)
def test_bad_restore_options_name_the_field(
    env: Env, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    _, backups, _ = call("GET", f"{env.backup}/list?status=SUCCESS", TOKEN)
    before = env.events()
    status, answer, _ = call("POST", f"{env.backup}/restore/{backups[0]['id']}", TOKEN, body)
    refused(answer, status, 400, *words)
    assert env.events() == before


# ---------------------------------------------------------------------- schedules


def _schedules(env: Env) -> dict[int, dict[str, Any]]:
    status, schedules, _ = call("GET", f"{env.backup}/schedule", TOKEN)
    assert status == 200 and isinstance(schedules, list)
    return {s["schedule_id"]: s for s in schedules}


def test_schedule_create_list_update_delete(env: Env) -> None:
    body = {"cron": "0 2 * * *", "type": "incremental", "retention_days": 30}
    status, schedule, _ = call("POST", f"{env.backup}/schedule", TOKEN, body)
    assert status == 201, schedule
    sid = schedule["schedule_id"]
    assert isinstance(sid, int) and schedule["id"] == sid
    assert {k: schedule[k] for k in body} == body
    assert schedule["enabled"] is True and schedule["host_id"] == "default"
    assert schedule["next_run"].endswith("T02:00:00Z")  # the next 02:00 UTC
    assert schedule["include_files"] is True and schedule["include_database"] is True
    listed = _schedules(env)
    assert listed[sid] == schedule
    assert 1 not in listed  # plan 1 (the default configuration) has no cron: not a schedule

    url = f"{env.backup}/schedule/{sid}"
    status, updated, _ = call(
        "PUT", url, TOKEN, {"cron": "30 3 * * 1-5", "retention_days": 7, **group("t01-g03")}
    )
    assert status == 200, updated
    assert updated["cron"] == "30 3 * * 1-5" and updated["retention_days"] == 7
    assert updated["type"] == "incremental"  # what the PUT does not name is kept
    assert updated["group_id"] == "t01-g03" and updated["next_run"].endswith("T03:30:00Z")
    assert updated["revision"] == schedule["revision"] + 1  # deployed at once
    assert _schedules(env)[sid] == updated

    status, paused, _ = call("PUT", url, TOKEN, {"enabled": False, "include_files": False})
    assert status == 200 and paused["enabled"] is False and paused["include_files"] is False
    assert paused["next_run"] is None
    status, same, _ = call("PUT", url, TOKEN, {"enabled": False})
    assert status == 200 and same == paused  # nothing changed, nothing recorded

    status, answer, _ = call("DELETE", url, TOKEN)
    assert status == 200 and answer == {"schedule_id": sid, "deleted": True}
    assert sid not in _schedules(env)
    for method in ("PUT", "DELETE"):
        status, answer, _ = call(method, url, TOKEN, {})
        refused(answer, status, 404, "Schedule not found")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"type": "full"}, ("cron",)),
        ({"cron": "0 25 * * *"}, ("cron", "0 25 * * *")),
        ({"cron": "every night"}, ("cron",)),
        ({"cron": "0 2 * * * *"}, ("cron", "5 fields")),
        ({"cron": "0 0 31 2 *"}, ("cron", "never fires")),
        ({"cron": "59 23 31 2 *"}, ("cron", "never fires")),
        ({"cron": "0 0 30 2 *"}, ("cron", "never fires")),
        ({"cron": "0 2 * * *", "type": "hourly"}, ("type",)),
        ({"cron": "0 2 * * *", "retention_days": 0}, ("retention_days",)),
        ({"cron": "0 2 * * *", "host_id": "nowhere"}, ("host_id",)),
        ({"cron": "0 2 * * *", "colour": "red"}, ("colour",)),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    env: Env, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    before = env.events()
    status, answer, _ = call("POST", f"{env.backup}/schedule", TOKEN, body)
    refused(answer, status, 400, *words)
    assert env.events() == before


def test_a_bad_update_changes_nothing_and_unknown_schedules_are_404(env: Env) -> None:
    status, schedule, _ = call("POST", f"{env.backup}/schedule", TOKEN, {"cron": "0 4 * * 0"})
    assert status == 201, schedule
    url = f"{env.backup}/schedule/{schedule['schedule_id']}"
    before = env.events()
    status, answer, _ = call("PUT", url, TOKEN, {"cron": "61 * * * *"})
    refused(answer, status, 400, "cron")
    status, answer, _ = call("PUT", url, TOKEN, {"cron": "0 0 31 2 *"})
    refused(answer, status, 400, "cron", "never fires")
    status, answer, _ = call("PUT", url, TOKEN, {"retention_days": "a month"})
    refused(answer, status, 400, "retention_days")
    assert env.events() == before
    assert _schedules(env)[schedule["schedule_id"]] == schedule
    for path in ("1", "999", "nightly"):
        status, answer, _ = call("PUT", f"{env.backup}/schedule/{path}", TOKEN, {})
        refused(answer, status, 404, "Schedule not found")
    assert call("DELETE", url, TOKEN)[0] == 200
