"""The scheduler: fires deployed, unpaused plans on their cron and applies their retention.

Each pass (every REWIND_SCHEDULER_TICK_SECONDS) it reads the plans, and for each one whose
cron has a tick in (last recorded tick or arming time, now] it asks the application to fire
that tick (``RewindApplication.fire_plan``). The plan records the tick (``Fired`` with the
backup, or ``Skipped`` with the reason) in the same write as the backup request, so however
many schedulers run against one PostgreSQL database, a tick fires once: the losers of the
race find it recorded and do nothing. After downtime spanning several ticks only the latest
is fired (one catch-up run, not one per missed tick).

A cron that names no date that exists (``0 0 31 2 *``, refused by the API since but possibly
stored by an older version) has no tick: such a plan is passed by, said once per process in
the log rather than failing every pass, and the other plans fire as usual.

Retention then deletes the plan's expired backups through the normal ``delete_backup``
command, principal "scheduler" (domain.retention decides which). A paused plan neither
runs nor deletes. Time comes from an injectable clock (a callable returning an aware
datetime), so tests move it at will.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import structlog

from adapters.cron import due_tick, fires
from adapters.plan_backups import PlanBackupIndex
from domain.application import RewindApplication
from domain.errors import DomainError
from domain.plan import Plan
from domain.retention import expired_backups

log = structlog.get_logger("rewind.scheduler")

PRINCIPAL = "scheduler"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PassReport:
    """What one pass did: ticks fired (plan id, tick, backup id), ticks skipped (plan id,
    tick, reason), plans passed by because their cron never fires, backups deleted by
    retention."""

    fired: list[tuple[int, datetime, UUID]] = field(default_factory=list)
    skipped: list[tuple[int, datetime, str]] = field(default_factory=list)
    never_fire: list[int] = field(default_factory=list)
    deleted: list[UUID] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        app: RewindApplication,
        clock: Clock = utc_now,
        on_fired: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.clock = clock
        self.on_fired = on_fired
        self.index = PlanBackupIndex(app)
        self._told_never_fires: set[tuple[int, str]] = set()

    def run_once(self) -> PassReport:
        """One pass over every plan (blocking: call it in a thread from async code)."""
        report = PassReport()
        now = self.clock()
        for plan in self.app.list_plans():
            if plan.paused:
                continue
            try:
                self._fire_due(plan, now, report)
            except DomainError as error:
                log.warning("plan not fired", plan_id=plan.plan_id, error=error.message)
        self.index.refresh()
        for plan in self.app.list_plans():
            if not plan.paused and plan.settings.retention.any:
                self._apply_retention(plan, now, report)
        return report

    def _fire_due(self, plan: Plan, now: datetime, report: PassReport) -> None:
        cron = plan.settings.cron
        if cron is None:
            return
        if not fires(cron):
            report.never_fire.append(plan.plan_id)
            self._tell_never_fires(plan.plan_id, cron)
            return
        tick = due_tick(cron, plan.schedule_since, now)
        if tick is None:
            return
        after = self.app.fire_plan(plan.plan_id, tick, PRINCIPAL)
        if after is None:
            return  # another scheduler recorded it first
        if after.last_skip_reason is not None:
            report.skipped.append((plan.plan_id, tick, after.last_skip_reason))
            log.info(
                "tick skipped",
                plan_id=plan.plan_id,
                tick=tick.isoformat(),
                reason=after.last_skip_reason,
            )
            return
        assert after.last_backup_id is not None
        report.fired.append((plan.plan_id, tick, after.last_backup_id))
        log.info(
            "plan fired",
            plan_id=plan.plan_id,
            tick=tick.isoformat(),
            backup_id=str(after.last_backup_id),
        )
        self.on_fired()

    def _tell_never_fires(self, plan_id: int, cron: str) -> None:
        """One log line per plan and cron, not one per pass: the operator needs to hear it
        once to fix the plan, and a line every few seconds would drown the rest."""
        if (plan_id, cron) in self._told_never_fires:
            return
        self._told_never_fires.add((plan_id, cron))
        log.warning(
            "plan never fires: its cron names no date that exists; edit the plan's cron",
            plan_id=plan_id,
            cron=cron,
        )

    def _apply_retention(self, plan: Plan, now: datetime, report: PassReport) -> None:
        candidates = self.index.candidates(plan.plan_id)
        for backup_id in sorted(expired_backups(candidates, plan.settings.retention, now)):
            try:
                self.app.delete_backup(backup_id, PRINCIPAL)
            except DomainError as error:
                log.warning(
                    "retention could not delete", backup_id=str(backup_id), error=error.message
                )
                continue
            report.deleted.append(backup_id)
            log.info("retention deleted", plan_id=plan.plan_id, backup_id=str(backup_id))
        if report.deleted:
            self.on_fired()

    async def run(self, interval_seconds: float) -> None:
        """Until cancelled: a pass, then sleep. A failing pass is logged, never fatal."""
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("scheduler pass failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(interval_seconds)
