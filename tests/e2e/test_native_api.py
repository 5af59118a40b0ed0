"""End to end against ``rewind serve --demo`` (the README's run command): the native routes
as a client uses them, and bad input answered with a 4xx naming the field while nothing is
appended to the event log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import wait_backup_finished
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import start_serve

TOKEN = "native-e2e-token"
GROUP = {"tenant_id": "t01", "group_id": "t01-g01"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("native") / "data"
    serve, base = start_serve(data_dir, TOKEN, "--demo")
    try:
        register_document(base, TOKEN)
        yield base, data_dir
    finally:
        serve.stop()


def _events(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "events.sqlite") as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
        return count


def _finished(base: str, backup_id: str) -> dict[str, Any]:
    return wait_backup_finished(base, TOKEN, backup_id)


def test_health_needs_no_token_and_everything_else_does(server: tuple[str, Path]) -> None:
    base, _ = server
    assert call("GET", f"{base}/healthz")[0] == 200
    assert call("GET", f"{base}/readyz")[0] == 200
    status, body, _headers = call("GET", f"{base}/api/v1/hosts")
    assert status == 401 and isinstance(body, list)
    assert call("GET", f"{base}/api/v1/hosts", "wrong-token")[0] == 401


def test_a_demo_group_backs_up_to_success(server: tuple[str, Path]) -> None:
    base, _ = server
    body = {**GROUP, "download_announcement_files": True, "formats": ["json", "xml"]}
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202
    assert set(accepted) == {"id", "reference_id", "status"}
    assert accepted["status"] == "INITIALIZING"
    assert "t01" in accepted["reference_id"] and "t01-g01" in accepted["reference_id"]
    view = _finished(base, accepted["id"])
    assert view["status"] == "SUCCESS"
    assert view["progress"]["done"] == view["progress"]["total"] == 13 + 10 * 5
    assert view["successful_calls"] > 0 and view["error_calls"] == 0
    assert view["is_valid"] is True and view["size_on_disk"] > 0
    assert view["initiated_by"] == "admin"
    assert view["end_datetime"] >= view["start_datetime"]


def test_cancel_and_force_over_http(server: tuple[str, Path]) -> None:
    base, _ = server
    scope = {"tenant_id": "t02", "group_id": "t02-g02"}
    _, first, _ = call("POST", f"{base}/api/v1/backups", TOKEN, scope)
    status, refused, headers = call("POST", f"{base}/api/v1/backups", TOKEN, scope)
    if status == 409:  # still running: the scope is held
        assert headers["X-Rewind-Error-Code"] == "1015"
        assert "force_backup" in refused[0]
    status, forced, _ = call(
        "POST", f"{base}/api/v1/backups", TOKEN, {**scope, "force_backup": True}
    )
    assert status == 202
    assert _finished(base, forced["id"])["status"] == "SUCCESS"
    old = _finished(base, first["id"])
    assert old["status"] == "SUCCESS" or old["failure_reason"] == "cancelled"
    status, _cancelled, headers = call(
        "POST", f"{base}/api/v1/backups/{forced['id']}/cancel", TOKEN
    )
    assert status == 409 and headers["X-Rewind-Error-Code"] == "2001"


@pytest.mark.parametrize(
    ("body", "raw", "headers", "status", "names"),
    [
        (None, b"{not json", {"Content-Type": "application/json"}, 400, "Malformed JSON"),
        (None, b"[1, 2]", {"Content-Type": "application/json"}, 400, "object"),
        (None, b"tenant_id=t01", {"Content-Type": "text/plain"}, 415, "Content-Type"),
        ({**GROUP, "group": ["voice_mail"]}, None, {}, 400, "group"),
        ({**GROUP, "user": ["ivr"]}, None, {}, 400, "user"),
        ({**GROUP, "formats": ["pdf"]}, None, {}, 400, "formats"),
        ({**GROUP, "force_backup": "yes please"}, None, {}, 400, "force_backup"),
        ({**GROUP, "colour": "red"}, None, {}, 400, "colour"),
        ({**GROUP, "tenant_id": "../etc"}, None, {}, 400, "tenant_id"),
        ({"tenant_id": "t01", "group_id": "no-such-group"}, None, {}, 404, "group_id"),
        ({"tenant_id": "no-such-tenant", "group_id": "g"}, None, {}, 404, "tenant_id"),
        ({**GROUP, "host_id": "elsewhere"}, None, {}, 422, "host"),
        (GROUP, None, {"Accept": "text/html"}, 406, "application/json"),
    ],
)
def test_bad_input_is_refused_naming_the_problem_and_appends_nothing(
    server: tuple[str, Path],
    body: Any,
    raw: bytes | None,
    headers: dict[str, str],
    status: int,
    names: str,
) -> None:
    base, data_dir = server
    before = _events(data_dir)
    got, messages, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body, headers, raw)
    assert got == status, messages
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)
    assert any(names in m for m in messages), messages
    assert _events(data_dir) == before, "a refused request appended events"


def test_unknown_backup_ids_answer_404(server: tuple[str, Path]) -> None:
    base, _ = server
    for backup_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        status, body, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
        assert status == 404 and isinstance(body, list)


def test_hosts_register_and_never_echo_credentials(server: tuple[str, Path]) -> None:
    base, data_dir = server
    secret = "pbx-user:very-secret-password-42"
    status, host, _ = call(
        "POST",
        f"{base}/api/v1/hosts",
        TOKEN,
        {"name": "Second PBX", "base_url": "http://127.0.0.1:9", "credentials": secret},
    )
    assert status == 201, host
    assert host["id"] == "second-pbx" and host["has_credentials"] is True
    assert secret not in str(host)
    status, listed, _ = call("GET", f"{base}/api/v1/hosts", TOKEN)
    assert listed["total"] == 2 and secret not in str(listed)
    assert secret.encode() not in (data_dir / "events.sqlite").read_bytes()
    status, _again, headers = call(
        "POST", f"{base}/api/v1/hosts", TOKEN, {"name": "Second PBX", "base_url": "http://x"}
    )
    assert status == 409 and headers["X-Rewind-Error-Code"] == "2005"


def test_an_unreachable_host_fails_the_backup_with_a_reason(server: tuple[str, Path]) -> None:
    base, _ = server
    call(
        "POST",
        f"{base}/api/v1/hosts",
        TOKEN,
        {"id": "down", "name": "down", "base_url": "http://127.0.0.1:9"},
    )
    status, accepted, _ = call(
        "POST", f"{base}/api/v1/backups", TOKEN, {**GROUP, "host_id": "down"}
    )
    assert status == 202
    view = _finished(base, accepted["id"])
    assert view["status"] == "FAILED" and "unreachable" in view["failure_reason"]


def test_read_routes_list_report_and_events(server: tuple[str, Path]) -> None:
    base, _ = server
    body = {
        "tenant_id": "t01",
        "group_id": "t01-g02",
        "group": ["profile", "ivr"],
        "user": ["voice_mail"],
    }
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202
    # Read-your-writes: the very next read finds it, by id and by reference id.
    for key in (accepted["id"], accepted["reference_id"]):
        status, view, _ = call("GET", f"{base}/api/v1/backups/{key}", TOKEN)
        assert status == 200 and view["id"] == accepted["id"]
    _finished(base, accepted["id"])
    status, listed, _ = call(
        "GET",
        f"{base}/api/v1/backups?tenant_id=t01&group_id=t01-g02&_page=1&_pagesize=1",
        TOKEN,
    )
    assert status == 200 and listed["total"] >= 1 and len(listed["items"]) == 1
    assert listed["items"][0]["id"] == accepted["id"]
    status, none, _ = call("GET", f"{base}/api/v1/backups?status=MISSING", TOKEN)
    assert status == 200 and none == {"total": 0, "items": []}
    status, report, _ = call("GET", f"{base}/api/v1/backups/{accepted['id']}/report", TOKEN)
    assert status == 200 and set(report) == {"main", "group", "user"}
    assert set(report["group"]) == {"profile", "ivr"}
    assert len(report["user"]["voice_mail"]["success"]) == 10
    assert "config" not in report["group"]["ivr"]["success"][0]
    status, full, _ = call("GET", f"{base}/api/v1/backups/{accepted['id']}/report?type=full", TOKEN)
    assert isinstance(full["group"]["ivr"]["success"][0]["config"], dict)
    status, events, _ = call("GET", f"{base}/api/v1/backups/{accepted['id']}/events", TOKEN)
    types = [e["type"] for e in events["items"]]
    assert types[0] == "Backup.Requested" and types[-1] == "Job.Completed"
    assert events["total"] == len(types) == 2 + 1 + 1 + 12 + 1  # + BaseChosen
    assert call("GET", f"{base}/api/v1/backups?_page=0", TOKEN)[0] == 400
