"""End to end: the native plan routes against a real ``rewind serve --demo`` process (its
scheduler polling every second): create, stage then deploy, pause/resume, run now, delete,
validation errors naming the field, and a cron tick firing a backup as "scheduler"."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.plan import plan_uuid
from tests.support.http import wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import (
    Running,
    rewind_history,
    start,
    start_sandbox,
    start_serve,
)

TOKEN = "plans-e2e-token"
GROUP = {"tenant_id": "t01", "group_id": "t01-g01"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("plans") / "data"
    previous = os.environ.get("REWIND_SCHEDULER_TICK_SECONDS")
    os.environ["REWIND_SCHEDULER_TICK_SECONDS"] = "1"
    try:
        serve, url = start_serve(data_dir, TOKEN, "--demo")
    finally:
        if previous is None:
            os.environ.pop("REWIND_SCHEDULER_TICK_SECONDS")
        else:
            os.environ["REWIND_SCHEDULER_TICK_SECONDS"] = previous
    try:
        register_document(url, TOKEN)
        yield url
    finally:
        serve.stop()


def create(base: str, **fields: Any) -> dict[str, Any]:
    status, body, _ = call("POST", f"{base}/api/v1/plans", TOKEN, {"name": "p", **GROUP, **fields})
    assert status == 201, body
    return dict(body)


def finished_backup(base: str, backup_id: str) -> dict[str, Any]:
    """Wait for the backup to end. A server's views see another process's writes a moment
    later, so a 404 first only means "not yet"."""

    def finished() -> dict[str, Any] | None:
        status, view, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
        return view if status == 200 and view["status"] in ("SUCCESS", "FAILED") else None

    view: dict[str, Any] = wait_for(finished, timeout=60)
    return view


def at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_edits_are_staged_until_deployed(base: str) -> None:
    plan = create(base, name="nightly", cron="0 3 * * *", keep_last=3)
    url = f"{base}/api/v1/plans/{plan['id']}"
    assert plan["revision"] == 1 and plan["staged"] is None and not plan["has_staged_changes"]
    assert plan["deployed"]["cron"] == "0 3 * * *" and plan["deployed"]["keep_last"] == 3
    next_run = at(plan["next_run"])
    assert next_run is not None and (next_run.hour, next_run.minute) == (3, 0)
    assert datetime.now(UTC) < next_run <= datetime.now(UTC) + timedelta(days=1)

    status, staged, _ = call("PUT", url, TOKEN, {"cron": "30 4 * * 1", "keep_daily": 7})
    assert status == 200, staged
    assert staged["deployed"]["cron"] == "0 3 * * *", "a staged edit is not in force"
    assert staged["staged"]["cron"] == "30 4 * * 1"
    assert staged["staged"]["keep_last"] == 3, "fields not sent are kept"
    assert staged["staged"]["keep_daily"] == 7 and staged["has_staged_changes"]
    assert call("GET", url, TOKEN)[1] == staged

    status, deployed, _ = call("POST", f"{url}/deploy", TOKEN)
    assert status == 200, deployed
    assert deployed["deployed"]["cron"] == "30 4 * * 1" and deployed["staged"] is None
    assert deployed["revision"] == 2
    assert at(deployed["next_run"]).weekday() == 0  # type: ignore[union-attr]

    status, body, headers = call("POST", f"{url}/deploy", TOKEN)
    assert status == 409 and "staged" in body[0]
    assert headers["X-Rewind-Error-Code"] == "2021"


def test_list_pages_and_pause_resume(base: str) -> None:
    plan = create(base, name="paged", cron="*/15 * * * *")
    status, listing, _ = call("GET", f"{base}/api/v1/plans", TOKEN)
    assert status == 200
    ids = [item["id"] for item in listing["items"]]
    assert listing["total"] == len(ids) and ids[0] == 1 and plan["id"] in ids
    status, page, _ = call("GET", f"{base}/api/v1/plans?_page=2&_pagesize=1", TOKEN)
    assert page["total"] == listing["total"] and [i["id"] for i in page["items"]] == ids[1:2]

    url = f"{base}/api/v1/plans/{plan['id']}"
    status, paused, _ = call("POST", f"{url}/pause", TOKEN)
    assert status == 200 and paused["paused"] and paused["next_run"] is None
    status, resumed, _ = call("POST", f"{url}/resume", TOKEN)
    assert status == 200 and not resumed["paused"] and resumed["next_run"] is not None
    status, ready, _ = call("GET", f"{base}/readyz", None)
    assert status == 200, ready  # the views took every plan event in their stride


def test_run_now_then_delete_keeps_the_backup(base: str) -> None:
    plan = create(base, name="adhoc", group_id="t01-g02")
    url = f"{base}/api/v1/plans/{plan['id']}"
    status, accepted, _ = call("POST", f"{url}/run", TOKEN)
    assert status == 202, accepted

    view = finished_backup(base, accepted["id"])
    assert view["status"] == "SUCCESS" and view["group_id"] == "t01-g02"
    assert call("GET", url, TOKEN)[1]["last_backup_id"] == accepted["id"]

    status, body, _ = call("DELETE", url, TOKEN)
    assert status == 204 and body is None
    assert call("GET", url, TOKEN)[0] == 404
    ids = [i["id"] for i in call("GET", f"{base}/api/v1/plans", TOKEN)[1]["items"]]
    assert plan["id"] not in ids
    assert call("GET", f"{base}/api/v1/backups/{accepted['id']}", TOKEN)[0] == 200


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"cron": "61 * * * *"}, 400, "cron"),
        ({"cron": "* * * * * *"}, 400, "cron"),
        ({"keep_last": 0}, 400, "keep_last"),
        ({"overlap": "queue"}, 400, "overlap"),
        ({"group": ["nope"]}, 400, "group"),
        ({"colour": "red"}, 400, "colour"),
        ({"tenant_id": "t99", "group_id": None}, 404, "tenant_id"),
        ({"group_id": "t01-g99"}, 404, "group_id"),
        ({"host_id": "elsewhere"}, 422, "elsewhere"),
    ],
)
def test_bad_input_names_the_field(
    base: str, body: dict[str, Any], status: int, field: str
) -> None:
    got, messages, _ = call("POST", f"{base}/api/v1/plans", TOKEN, {"name": "bad", **GROUP, **body})
    assert got == status, messages
    assert isinstance(messages, list) and field in messages[0]


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "59 23 31 2 *", "0 0 30 2 *"])
def test_a_cron_that_never_fires_is_refused_and_nothing_recorded(base: str, cron: str) -> None:
    """Well-formed, but 30 and 31 February do not exist: such a plan would never run. It is
    refused naming the field, on create and on edit, and leaves no plan behind."""
    before = call("GET", f"{base}/api/v1/plans", TOKEN)[1]
    status, messages, _ = call(
        "POST", f"{base}/api/v1/plans", TOKEN, {"name": "feb", **GROUP, "cron": cron}
    )
    assert status == 400, messages
    assert messages[0] == "Incorrect parameters sent: cron" and "never fires" in messages[1]
    status, listing, _ = call("GET", f"{base}/api/v1/plans", TOKEN)
    assert status == 200 and listing == before

    plan = create(base, name="edited", cron="0 3 * * *")
    url = f"{base}/api/v1/plans/{plan['id']}"
    status, messages, _ = call("PUT", url, TOKEN, {"cron": cron})
    assert status == 400 and "cron" in messages[0], messages
    assert call("GET", url, TOKEN)[1] == plan, "the refused edit staged nothing"
    assert call("DELETE", url, TOKEN)[0] == 204


def test_unknown_and_default_plans(base: str) -> None:
    for path in ("9999", "abc"):
        assert call("GET", f"{base}/api/v1/plans/{path}", TOKEN)[0] == 404
    assert call("PUT", f"{base}/api/v1/plans/9999", TOKEN, {"cron": None})[0] == 404
    assert call("POST", f"{base}/api/v1/plans/9999/deploy", TOKEN)[0] == 404
    status, body, _ = call("DELETE", f"{base}/api/v1/plans/1", TOKEN)
    assert status == 409 and "default" in body[0]
    plan = create(base, name="staged-bad")
    status, body, _ = call("PUT", f"{base}/api/v1/plans/{plan['id']}", TOKEN, {"cron": "nope"})
    assert status == 400 and "cron" in body[0]
    assert call("GET", f"{base}/api/v1/plans", None)[0] == 401


@dataclass
class Armed:
    """Two every-minute plans created together, so that the two tests below wait for one
    minute boundary between them rather than one each (the wait is most of their run time):
    ``plan`` on the module's server (its scheduler runs), ``quiet_plan`` on a
    ``rewind serve --no-worker`` (no scheduler) over ``data_dir``, with a sandbox PBX.
    ``due`` is the quiet plan's first tick."""

    plan: dict[str, Any]
    quiet_plan: dict[str, Any]
    quiet_url: str
    due: datetime
    data_dir: Path
    quiet_serve: Running
    sandbox: Running


@pytest.fixture(scope="module")
def armed(base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Armed]:
    sandbox, pbx = start_sandbox("--tenants", "1", "--groups", "1", "--users", "2")
    data_dir = tmp_path_factory.mktemp("quiet") / "data"
    try:
        quiet_serve, quiet_url = start_serve(data_dir, TOKEN, "--pbx", pbx, "--no-worker")
        try:
            register_document(quiet_url, TOKEN)
            # The quiet plan second: should the two creations straddle a minute boundary,
            # its first tick is the later one, which the first test has not waited past.
            plan = create(base, name="every-minute", group_id="t01-g02", cron="* * * * *")
            quiet_plan = create(quiet_url, name="minutely", cron="* * * * *")
            due = at(quiet_plan["next_run"])
            assert due is not None
            yield Armed(plan, quiet_plan, quiet_url, due, data_dir, quiet_serve, sandbox)
        finally:
            quiet_serve.stop()
    finally:
        sandbox.stop()


def test_the_scheduler_in_serve_fires_a_cron_tick(base: str, armed: Armed) -> None:
    url = f"{base}/api/v1/plans/{armed.plan['id']}"
    fired = wait_for(lambda: call("GET", url, TOKEN)[1]["last_backup_id"], timeout=120, interval=1)
    status, events, _ = call("GET", f"{base}/api/v1/backups/{fired}/events", TOKEN)
    assert status == 200 and events["items"][0]["principal"] == "scheduler"
    view = call("GET", url, TOKEN)[1]
    assert at(view["last_tick"]) is not None and at(view["last_tick"]).second == 0  # type: ignore[union-attr]


def test_rewind_worker_runs_the_scheduler(armed: Armed) -> None:
    """`rewind serve --no-worker` runs no scheduler: a tick passes unfired. `rewind worker`
    on the same data then fires the missed tick (catch-up) and runs the backup."""
    url, plan, due, data_dir = armed.quiet_url, armed.quiet_plan, armed.due, armed.data_dir
    env = {"REWIND_SCHEDULER_TICK_SECONDS": "1"}
    plan_url = f"{url}/api/v1/plans/{plan['id']}"
    try:
        wait_for(lambda: datetime.now(UTC) > due + timedelta(seconds=3), timeout=90)
        assert call("GET", plan_url, TOKEN)[1]["last_tick"] is None, "no scheduler here"

        worker = start(["worker", "--data-dir", str(data_dir), "--worker-id", "w-plans"], env)
        try:
            worker.wait_for_line("worker w-plans running")
            fired = wait_for(lambda: call("GET", plan_url, TOKEN)[1]["last_backup_id"], 60)

            assert finished_backup(url, fired)["status"] == "SUCCESS"
        finally:
            worker.stop()
        view = call("GET", plan_url, TOKEN)[1]
    finally:
        armed.quiet_serve.stop()
        armed.sandbox.stop()
    history = rewind_history(data_dir, fired)
    assert history[0]["principal"] == "scheduler"
    assert history[0]["payload"]["spec"]["plan_id"] == plan["id"]
    ticks = [
        at(e["payload"]["tick"])
        for e in rewind_history(data_dir, str(plan_uuid(plan["id"])))
        if e["type"] == "Plan.Fired"
    ]
    assert ticks[0] == due, "the tick missed while no scheduler ran fires on start-up"
    assert len(set(ticks)) == len(ticks) and at(view["last_tick"]) == ticks[-1]
