"""Plan commands against real stores (SQLite file and a fresh PostgreSQL schema): creating
deploys, edits are staged until deployed, pause/resume, delete, and plan ids allocated once
across concurrent creators."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest

from domain.application import RewindApplication
from domain.errors import UnknownPlan
from domain.host import HostSettings
from domain.plan import DEFAULT_PLAN_ID, DefaultPlanUndeletable, NothingStaged, PlanSettings
from domain.scope import Scope
from tests.support.forkserver import racer_context
from tests.support.stores import StoreTarget


def settings(**fields: object) -> PlanSettings:
    return PlanSettings.model_validate(
        {"name": "nightly", "scope": Scope(host_id="default", tenant_id="t01"), **fields}
    )


def with_host(app: RewindApplication) -> RewindApplication:
    app.register_host("default", HostSettings(name="pbx", base_url="http://127.0.0.1:9"), "a")
    return app


def test_stage_then_deploy(store: StoreTarget) -> None:
    app = with_host(store.open())
    plan = app.create_plan(settings(cron="0 2 * * *"), "alice")
    assert plan.plan_id == 2 and plan.settings.cron == "0 2 * * *"
    assert plan.staged is None and not plan.has_staged_changes

    app.stage_plan(plan.plan_id, settings(cron="30 3 * * *", keep_last=3), "bob")
    reread = app.get_plan(plan.plan_id)
    assert reread.settings.cron == "0 2 * * *", "a staged edit must not take effect"
    assert reread.staged is not None and reread.staged.keep_last == 3
    assert reread.has_staged_changes

    deployed = app.deploy_plan(plan.plan_id, "bob")
    assert deployed.settings.cron == "30 3 * * *" and deployed.settings.keep_last == 3
    assert deployed.staged is None and not deployed.has_staged_changes
    with pytest.raises(NothingStaged):
        app.deploy_plan(plan.plan_id, "bob")

    # Staging the deployed version again discards a staged edit.
    app.stage_plan(plan.plan_id, settings(cron="* * * * *"), "bob")
    app.stage_plan(plan.plan_id, deployed.settings, "bob")
    assert not app.get_plan(plan.plan_id).has_staged_changes
    app.close()


def test_pause_resume_delete_list(store: StoreTarget) -> None:
    app = with_host(store.open())
    first = app.create_plan(settings(), "alice")
    second = app.create_plan(settings(name="weekly"), "alice")
    assert [p.plan_id for p in app.list_plans()] == [DEFAULT_PLAN_ID, first.plan_id, 3]

    assert app.pause_plan(first.plan_id, "alice").paused
    assert app.get_plan(first.plan_id).paused
    assert not app.resume_plan(first.plan_id, "alice").paused

    app.delete_plan(second.plan_id, "alice")
    with pytest.raises(UnknownPlan):
        app.get_plan(second.plan_id)
    with pytest.raises(UnknownPlan):
        app.pause_plan(second.plan_id, "alice")
    assert [p.plan_id for p in app.list_plans()] == [DEFAULT_PLAN_ID, first.plan_id]
    with pytest.raises(DefaultPlanUndeletable):
        app.delete_plan(DEFAULT_PLAN_ID, "alice")
    # Ids are not reused after a delete.
    assert app.create_plan(settings(), "alice").plan_id == 4
    app.close()


def test_fired_tick_recorded_once(store: StoreTarget) -> None:
    app = with_host(store.open())
    plan = app.create_plan(settings(cron="* * * * *"), "alice")
    tick = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    fired = app.fire_plan(plan.plan_id, tick)
    assert fired is not None
    assert fired.last_tick == tick and fired.last_backup_id is not None
    backup = app.get_backup(fired.last_backup_id)
    assert backup.spec.plan_id == plan.plan_id and backup.principal == "scheduler"
    assert app.fire_plan(plan.plan_id, tick) is None, "a recorded tick must not fire again"
    assert app.get_plan(plan.plan_id).version == fired.version
    # The backup is still running: skip policy records the next tick as skipped.
    later = app.fire_plan(plan.plan_id, tick + timedelta(minutes=1))
    assert later is not None
    assert later.last_backup_id == backup.id and later.last_skip_reason is not None
    app.close()


def _create(target: StoreTarget, count: int, queue: multiprocessing.Queue[int]) -> None:
    app = target.open()
    for _ in range(count):
        queue.put(app.create_plan(settings(), "racer").plan_id)
    app.close()


def test_plan_ids_unique_across_processes(store: StoreTarget) -> None:
    with_host(store.open()).close()
    ctx = racer_context(__name__)
    queue: multiprocessing.Queue[int] = ctx.Queue()
    procs = [ctx.Process(target=_create, args=(store, 5, queue)) for _ in range(3)]
    for proc in procs:
        proc.start()
    ids = [queue.get(timeout=120) for _ in range(15)]
    for proc in procs:
        proc.join(60)
    assert sorted(ids) == list(range(2, 17))
