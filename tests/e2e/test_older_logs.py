"""End to end: a data directory holding what an older version let in, opened by a real
``rewind serve``. The events are written through the application, below the API that now
refuses them: a plan whose cron names no date that exists (31 February) and a host whose
URL carries its PBX password (``http://user:password@pbx``).

The plan must not break a read nor the scheduler; the password must never be printed (API
answers, event feeds, ``rewind history``, ``rewind replay``, logs, the views' storage),
while the host keeps signing in with it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from domain.host import HostSettings, host_uuid
from domain.plan import PlanSettings
from domain.scope import Scope
from tests.support.http import call, call_raw, wait_finished, wait_for
from tests.support.processes import REWIND, Running, free_port, rewind_history, start, start_serve
from tests.support.stores import StoreTarget

ADMIN = "older-logs-admin-token-5e0c1d"
PASSWORD = "Old-Pa55word-c41d07e9"
CREDENTIALS = f"rewind-backup:{PASSWORD}"
NEVER = "0 0 31 2 *"


@dataclass
class Older:
    base: str
    serve: Running
    sandbox: Running
    sandbox_url: str
    data_dir: Path
    plan_id: int
    bodies: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, answer, _ = call(method, self.base + path, ADMIN, body)
        self.bodies.append(f"{method} {path} -> {status} {answer!r}")
        return status, answer


@pytest.fixture(scope="module")
def older(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Older]:
    port = free_port()
    sandbox = start(
        ["sandbox", "--port", str(port), "--tenants", "1", "--groups", "1", "--users", "2"],
        env={"REWIND_SANDBOX_CREDENTIALS": CREDENTIALS, "REWIND_LOG_FORMAT": "json"},
    )
    try:
        sandbox.wait_for_line("sandbox PBX listening on")
        sandbox_url = f"http://127.0.0.1:{port}"
        data_dir = tmp_path_factory.mktemp("older") / "data"
        app = StoreTarget.sqlite(data_dir).open()
        try:
            url = f"http://{CREDENTIALS}@127.0.0.1:{port}"
            app.register_host("old", HostSettings(name="old", base_url=url), "admin")
            scope = Scope(host_id="old", tenant_id="t01", group_id="t01-g01")
            settings = PlanSettings(name="feb-31", scope=scope, cron=NEVER)
            plan_id = app.create_plan(settings, "admin").plan_id
        finally:
            app.close()
        serve, base = start_serve(data_dir, ADMIN, env={"REWIND_SCHEDULER_TICK_SECONDS": "1"})
        try:
            yield Older(base, serve, sandbox, sandbox_url, data_dir, plan_id)
        finally:
            serve.stop()
    finally:
        sandbox.stop()


def _log_events(serve: Running, prefix: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in serve.lines if line.startswith("{")]
    return [e for e in events if str(e.get("event", "")).startswith(prefix)]


def test_a_stored_plan_that_never_fires_reads_and_is_passed_by(older: Older) -> None:
    status, listing = older.call("GET", "/api/v1/plans")
    assert status == 200, listing
    [plan] = [p for p in listing["items"] if p["id"] == older.plan_id]
    assert plan["deployed"]["cron"] == NEVER and plan["next_run"] is None
    status, one = older.call("GET", f"/api/v1/plans/{older.plan_id}")
    assert status == 200 and one == plan

    status, schedules = older.call("GET", "/api/v1/backup/schedule")
    assert status == 200, schedules
    [schedule] = [s for s in schedules if s["schedule_id"] == older.plan_id]
    assert schedule["cron"] == NEVER and schedule["next_run"] is None

    # The scheduler (a pass a second) says it once, then keeps passing the plan by.
    told = wait_for(lambda: _log_events(older.serve, "plan never fires"), timeout=30)
    time.sleep(3)
    assert _log_events(older.serve, "plan never fires") == told
    assert [(e["plan_id"], e["cron"]) for e in told] == [(older.plan_id, NEVER)]
    assert _log_events(older.serve, "scheduler pass failed") == []
    assert older.call("GET", f"/api/v1/plans/{older.plan_id}")[1]["last_tick"] is None


def test_a_password_in_an_old_host_url_is_never_shown(older: Older) -> None:
    status, hosts = older.call("GET", "/api/v1/hosts")
    assert status == 200
    [host] = [h for h in hosts["items"] if h["id"] == "old"]
    assert host["base_url"] == older.sandbox_url and host["has_credentials"] is True

    # The host still signs in with the credentials in its URL: every call succeeds.
    body = {"host_id": "old", "tenant_id": "t01", "group_id": "t01-g01"}
    status, accepted = older.call("POST", "/api/v1/backups", body)
    assert status == 202, accepted
    backup = wait_finished(older.base, "backups", accepted["id"], ADMIN)
    assert backup["status"] == "SUCCESS" and backup["error_calls"] == 0, backup

    status, feed = older.call("GET", "/api/v1/events?type=Host.")
    assert status == 200
    [registered] = feed["items"]
    assert registered["payload"]["settings"]["base_url"] == older.sandbox_url
    older.call("GET", "/api/v1/events")
    older.call("GET", f"/api/v1/backups/{backup['id']}/events")
    _, stream, _ = call_raw(
        "GET", f"{older.base}/api/v1/events", ADMIN, headers={"Accept": "text/event-stream"}
    )
    assert b"Host.Registered" in stream
    older.bodies.append(stream.decode())

    history = rewind_history(older.data_dir, str(host_uuid("old")))
    assert history[0]["payload"]["settings"]["base_url"] == older.sandbox_url
    older.bodies.append(json.dumps(history))
    replayed = subprocess.run(
        [REWIND, "replay", "--check", "--data-dir", str(older.data_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    older.bodies.append(replayed.stdout + replayed.stderr)

    assert not [b for b in older.bodies if PASSWORD in b]
    assert not [line for line in older.serve.lines + older.sandbox.lines if PASSWORD in line]
    views = older.data_dir.glob("views.sqlite*")
    assert not [p.name for p in views if PASSWORD.encode() in p.read_bytes()]
