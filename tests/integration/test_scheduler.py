"""The scheduler against real parts: a real event store (SQLite file; PostgreSQL for the
race between two scheduler processes), the real worker backing up a sandbox PBX over HTTP,
and a clock the test moves by hand. No mocks, no timing assertions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from adapters.artifacts import FolderArtifactStore
from adapters.cron import next_tick
from adapters.scheduler import Scheduler
from adapters.worker import Worker
from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.plan import PlanSettings, plan_uuid
from domain.scope import Scope
from tests.conftest import require_postgres
from tests.integration.conftest import SandboxFactory
from tests.support.clock import ManualClock
from tests.support.forkserver import racer_context
from tests.support.stores import StoreTarget, drop_pg_schema, make_pg_schema

SCOPE = Scope(host_id="default", tenant_id="t01", group_id="t01-g01")
HOURLY = "0 * * * *"


@pytest.fixture
def target(tmp_path: Path) -> StoreTarget:
    return StoreTarget.sqlite(tmp_path / "data")


@pytest.fixture
def app(target: StoreTarget) -> Iterator[RewindApplication]:
    application = target.open()
    yield application
    application.close()


@pytest.fixture
async def worker(app: RewindApplication, tmp_path: Path, sandbox_factory: SandboxFactory) -> Worker:
    url = await sandbox_factory(tenants=1, groups=1, users=2, media_kb=1)
    app.register_host("default", HostSettings(name="sandbox", base_url=url), "admin")
    return Worker(
        app, FolderArtifactStore(tmp_path / "artifacts"), worker_id="w1", purge_grace_seconds=0
    )


def plan_settings(**fields: Any) -> PlanSettings:
    return PlanSettings.model_validate({"name": "hourly", "scope": SCOPE, "cron": HOURLY, **fields})


def first_tick(app: RewindApplication, plan_id: int) -> datetime:
    plan = app.get_plan(plan_id)
    assert plan.settings.cron is not None
    tick = next_tick(plan.settings.cron, plan.schedule_since)
    assert tick is not None
    return tick


async def run_pass(scheduler: Scheduler) -> Any:
    return await asyncio.to_thread(scheduler.run_once)


def status(app: RewindApplication, backup_id: UUID) -> str:
    return app.get_backup(backup_id).status


def tick_records(app: RewindApplication, plan_id: int) -> list[Any]:
    return [e for e in app.history(plan_uuid(plan_id)) if e.type in ("Plan.Fired", "Plan.Skipped")]


async def test_runs_fire_on_cron(app: RewindApplication, worker: Worker) -> None:
    plan = app.create_plan(plan_settings(), "alice")
    tick = first_tick(app, plan.plan_id)
    clock = ManualClock(tick - timedelta(minutes=1))
    scheduler = Scheduler(app, clock)

    assert (await run_pass(scheduler)).fired == [], "nothing is due before the first tick"
    clock.set(tick + timedelta(seconds=20))
    report = await run_pass(scheduler)
    assert [(p, t) for p, t, _ in report.fired] == [(plan.plan_id, tick)]
    backup_id = report.fired[0][2]
    await worker.run_until_idle(60)
    backup = app.get_backup(backup_id)
    assert backup.status == "SUCCESS", backup.failure_reason
    assert backup.spec.plan_id == plan.plan_id and backup.scope == SCOPE
    assert app.history(backup_id)[0].principal == "scheduler"

    assert (await run_pass(scheduler)).fired == [], "a tick fires once"
    clock.set(tick + timedelta(hours=1))
    report = await run_pass(scheduler)
    assert [(p, t) for p, t, _ in report.fired] == [(plan.plan_id, tick + timedelta(hours=1))]

    app.pause_plan(plan.plan_id, "alice")
    clock.set(tick + timedelta(hours=2))
    assert (await run_pass(scheduler)).fired == [], "a paused plan does not run"


async def test_overlap_skip_records_a_skipped_tick(app: RewindApplication, worker: Worker) -> None:
    plan = app.create_plan(plan_settings(), "alice")
    tick = first_tick(app, plan.plan_id)
    clock = ManualClock(tick)
    scheduler = Scheduler(app, clock)
    [(_, _, first)] = (await run_pass(scheduler)).fired  # no worker yet: still INITIALIZING

    clock.advance(hours=1)
    report = await run_pass(scheduler)
    assert report.fired == []
    assert [(p, t) for p, t, _ in report.skipped] == [(plan.plan_id, tick + timedelta(hours=1))]
    assert str(first) in report.skipped[0][2]
    assert status(app, first) == "INITIALIZING", "skip leaves the running backup alone"

    await worker.run_until_idle(60)
    assert status(app, first) == "SUCCESS"
    clock.advance(hours=1)
    [(_, _, third)] = (await run_pass(scheduler)).fired
    await worker.run_until_idle(60)
    assert status(app, third) == "SUCCESS"
    assert [e.type for e in tick_records(app, plan.plan_id)] == [
        "Plan.Fired",
        "Plan.Skipped",
        "Plan.Fired",
    ]


async def test_overlap_cancel_stops_the_previous_run(
    app: RewindApplication, worker: Worker
) -> None:
    plan = app.create_plan(plan_settings(overlap="cancel"), "alice")
    tick = first_tick(app, plan.plan_id)
    clock = ManualClock(tick)
    scheduler = Scheduler(app, clock)
    [(_, _, first)] = (await run_pass(scheduler)).fired

    clock.advance(hours=1)
    [(_, _, second)] = (await run_pass(scheduler)).fired
    assert status(app, first) == "CANCELLING"
    await worker.run_until_idle(60)
    cancelled = app.get_backup(first)
    assert cancelled.status == "FAILED" and cancelled.failure_reason == "cancelled"
    assert cancelled.cancelled_by == "scheduler"
    assert status(app, second) == "SUCCESS"


async def test_a_cron_that_never_fires_is_passed_by_and_said_once(
    app: RewindApplication, worker: Worker
) -> None:
    """A plan stored with a cron naming no date that exists (31 February: the API refuses
    it now, the application below it does not check) neither fails the passes nor keeps
    the other plans from firing; the log says so once, not at every pass."""
    never = app.create_plan(plan_settings(name="feb-31", cron="0 0 31 2 *"), "alice")
    hourly = app.create_plan(plan_settings(), "alice")
    tick = first_tick(app, hourly.plan_id)
    clock = ManualClock(tick)
    scheduler = Scheduler(app, clock)
    handled: list[tuple[int, datetime]] = []
    with capture_logs() as logs:
        for _ in range(3):
            report = await run_pass(scheduler)
            assert report.never_fire == [never.plan_id]
            handled += [(p, t) for p, t, _ in report.fired + report.skipped]
            clock.advance(hours=1)
    # Each tick of the other plan was handled (fired; then skipped, its run not yet done).
    assert handled == [(hourly.plan_id, tick + timedelta(hours=h)) for h in range(3)]
    told = [e for e in logs if e["event"].startswith("plan never fires")]
    assert [(e["plan_id"], e["cron"], e["log_level"]) for e in told] == [
        (never.plan_id, "0 0 31 2 *", "warning")
    ]
    assert tick_records(app, never.plan_id) == []


async def test_retention_deletes_exactly_the_expired(
    app: RewindApplication, worker: Worker
) -> None:
    plan = app.create_plan(plan_settings(keep_last=2), "alice")
    tick = first_tick(app, plan.plan_id)
    clock = ManualClock(tick)
    scheduler = Scheduler(app, clock)
    runs: list[UUID] = []
    deleted: list[UUID] = []
    for hour in range(4):
        clock.set(tick + timedelta(hours=hour))
        report = await run_pass(scheduler)
        runs += [b for _, _, b in report.fired]
        deleted += report.deleted
        await worker.run_until_idle(60)
    # A backup of the same scope asked for by a person is not the plan's: never a candidate.
    manual = app.request_backup(BackupSpec(scope=SCOPE), "alice")
    await worker.run_until_idle(60)
    deleted += (await run_pass(scheduler)).deleted
    await worker.run_until_idle(60)

    assert len(runs) == 4
    assert sorted(deleted) == sorted(runs[:2]), "keep_last=2 keeps the two newest runs"
    for gone in runs[:2]:
        backup = app.get_backup(gone)
        assert backup.purged
        requests = [e for e in app.history(gone) if e.type == "Backup.DeleteRequested"]
        assert [e.principal for e in requests] == ["scheduler"]
    assert [status(app, b) for b in runs[2:]] == ["SUCCESS", "SUCCESS"]
    assert status(app, manual.id) == "SUCCESS"

    # Retention by age: three days later, with retention_days=1 and no schedule, both
    # remaining runs have expired; the manual backup is still not the plan's.
    app.stage_plan(plan.plan_id, plan_settings(cron=None, retention_days=1), "alice")
    app.deploy_plan(plan.plan_id, "alice")
    clock.advance(days=3)
    report = await run_pass(scheduler)
    assert sorted(report.deleted) == sorted(runs[2:])
    assert report.fired == []
    await worker.run_until_idle(60)
    assert status(app, manual.id) == "SUCCESS"


async def test_catch_up_runs_once_after_downtime(
    app: RewindApplication, target: StoreTarget, worker: Worker
) -> None:
    plan = app.create_plan(plan_settings(), "alice")
    tick = first_tick(app, plan.plan_id)
    before = Scheduler(app, ManualClock(tick))
    assert len((await run_pass(before)).fired) == 1
    await worker.run_until_idle(60)

    # Down for five and a half hours: five ticks missed. A new process starts.
    restarted = target.open()
    try:
        clock = ManualClock(tick + timedelta(hours=5, minutes=30))
        after = Scheduler(restarted, clock)
        report = await run_pass(after)
        assert [(p, t) for p, t, _ in report.fired] == [(plan.plan_id, tick + timedelta(hours=5))]
        assert (await run_pass(after)).fired == [], "one catch-up run, not one per missed tick"
        await worker.run_until_idle(60)
        assert status(app, report.fired[0][2]) == "SUCCESS"
        clock.set(tick + timedelta(hours=6))
        assert len((await run_pass(after)).fired) == 1
    finally:
        restarted.close()
    assert len(tick_records(app, plan.plan_id)) == 3


# ----------------------------------------------------------------------------- two processes
def _clock_at(now: datetime) -> Callable[[], datetime]:
    """A clock that always reads ``now``."""
    return lambda: now


def _scheduler_process(
    target: StoreTarget, ticks: list[datetime], barrier: Any, results: Any
) -> None:
    """One scheduler process: a pass at each tick, in step with the other one."""
    try:
        app = target.open()
        try:
            for tick in ticks:
                barrier.wait()
                report = Scheduler(app, _clock_at(tick + timedelta(seconds=5))).run_once()
                results.put((tick.isoformat(), len(report.fired) + len(report.skipped)))
        finally:
            app.close()
    except Exception as error:  # e.g. the server refusing connections: fail fast, say why
        barrier.abort()
        results.put(("error", repr(error)))


def test_two_schedulers_on_postgres_fire_a_tick_once(tmp_path: Path) -> None:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    make_pg_schema(schema)
    try:
        target = StoreTarget.postgres(schema, tmp_path / "data")
        app = target.open()
        app.register_host(
            "default", HostSettings(name="pbx", base_url="http://127.0.0.1:9"), "admin"
        )
        plan = app.create_plan(plan_settings(cron="* * * * *", overlap="cancel"), "alice")
        start = first_tick(app, plan.plan_id)
        ticks = [start + timedelta(minutes=i) for i in range(3)]

        ctx = racer_context(__name__)
        barrier = ctx.Barrier(2, timeout=120)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_scheduler_process, args=(target, ticks, barrier, results))
            for _ in range(2)
        ]
        for proc in procs:
            proc.start()
        outcomes: list[tuple[str, int]] = []
        while len(outcomes) < 2 * len(ticks):
            outcome = results.get(timeout=180)
            assert outcome[0] != "error", outcome
            outcomes.append(outcome)
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0

        per_tick: dict[str, int] = {}
        for tick, recorded in outcomes:
            per_tick[tick] = per_tick.get(tick, 0) + recorded
        assert per_tick == {t.isoformat(): 1 for t in ticks}, "each tick recorded by one"
        records = tick_records(app, plan.plan_id)
        assert [datetime.fromisoformat(e.payload["tick"]) for e in records] == ticks
        fired = [UUID(e.payload["backup_id"]) for e in records if e.type == "Plan.Fired"]
        assert len(fired) == len(ticks), "cancel policy: every tick starts a run"
        assert len(set(fired)) == len(ticks)
        app.close()
    finally:
        drop_pg_schema(schema)
