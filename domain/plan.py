"""The Plan aggregate: a saved backup configuration (seed 001's configuration_id, seed 002's
schedules). Plan 1 exists from the start: the whole default host, every entity.

A plan has a *deployed* version (what the scheduler and "run now" use) and at most one
*staged* version: edits are staged and take effect only when deployed, so an operator can
prepare a change (a new cron, other retention) and switch to it in one step. Creating a plan
deploys its first version.

The plan also records what the scheduler did with each cron tick (``Fired`` with the backup
it requested, or ``Skipped`` with the reason), in the same ``save()`` as the backup request:
two scheduler processes that both see a tick due append the same version of the plan, and
the event store lets only one of them through.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event
from pydantic import Field

from domain.backup import BackupSpec
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, BackupKind, BackupType
from domain.errors import DomainError
from domain.guards import guard_id
from domain.model import Aggregate, Immutable
from domain.retention import RetentionRules
from domain.scope import Scope

DEFAULT_PLAN_ID = 1
DEFAULT_HOST_ID = "default"

OverlapPolicy = Literal["skip", "cancel"]
"""What a cron tick does while the plan's previous backup is still running: ``skip`` records
a skipped tick; ``cancel`` cancels that backup (force) and starts the new one."""


class NothingStaged(DomainError):
    """Deploy needs a staged version that differs from the deployed one."""

    code = 2021
    status = 409


class DefaultPlanUndeletable(DomainError):
    """Plan 1 is what seed 001's configuration_id 1 names: it always exists."""

    code = 2022
    status = 409


class PlanSettings(Immutable):
    name: str
    scope: Scope
    group_entities: tuple[str, ...] = GROUP_ENTITIES
    user_entities: tuple[str, ...] = USER_ENTITIES
    formats: tuple[str, ...] = ("json",)
    download_files: bool = True
    kind: BackupKind = BackupKind.CONFIG
    backup_type: BackupType = BackupType.FULL
    cron: str | None = None
    retention_days: int | None = None
    overlap: OverlapPolicy = "skip"
    keep_last: int | None = Field(default=None, ge=1)
    keep_daily: int | None = Field(default=None, ge=1)
    keep_weekly: int | None = Field(default=None, ge=1)
    keep_monthly: int | None = Field(default=None, ge=1)

    @property
    def retention(self) -> RetentionRules:
        """The retention rules (domain.retention); none set keeps every backup."""
        return RetentionRules(
            retention_days=self.retention_days,
            keep_last=self.keep_last,
            keep_daily=self.keep_daily,
            keep_weekly=self.keep_weekly,
            keep_monthly=self.keep_monthly,
        )


def default_plan_settings() -> PlanSettings:
    return PlanSettings(name="default", scope=Scope(host_id=DEFAULT_HOST_ID))


class Plan(Aggregate):
    @staticmethod
    def create_id(plan_id: int, **_: Any) -> UUID:
        return plan_uuid(plan_id)

    class Created(Aggregate.Created):
        plan_id: int
        settings: PlanSettings
        principal: str

    @event(Created)
    def __init__(self, plan_id: int, settings: PlanSettings, principal: str) -> None:
        self.plan_id = plan_id
        self.settings = settings
        self.staged: PlanSettings | None = None
        self.revision = 1
        self.paused = False
        self.deleted = False
        self.last_tick: datetime | None = None
        self.last_backup_id: UUID | None = None
        self.last_skip_reason: str | None = None
        self.armed_at: datetime = self.created_on

    # ----------------------------------------------------------------- derived facts
    @property
    def has_staged_changes(self) -> bool:
        return self.staged is not None and self.staged != self.settings

    @property
    def schedule_since(self) -> datetime:
        """Ticks after this instant are due: the last recorded tick, or when the current
        schedule was armed (created, deployed, resumed), whichever is later. Ticks missed
        while paused or before a deploy are never caught up."""
        if self.last_tick is not None and self.last_tick > self.armed_at:
            return self.last_tick
        return self.armed_at

    def tick_is_due(self, tick: datetime) -> bool:
        """False once a tick at or after ``tick`` was recorded (another scheduler won)."""
        return tick > self.schedule_since

    # ----------------------------------------------------------------- legacy direct update
    def update(self, settings: PlanSettings, principal: str) -> None:
        if settings != self.settings:
            self._updated(settings=settings, principal=principal)

    class Updated(Aggregate.Event):
        settings: PlanSettings
        principal: str

    @event(Updated)
    def _updated(self, settings: PlanSettings, principal: str) -> None:
        self.settings = settings

    # ----------------------------------------------------------------- stage / deploy
    def stage(self, settings: PlanSettings, principal: str) -> None:
        """Stage an edit. Staging the deployed settings again discards the staged edit;
        staging what is already staged records nothing."""
        current = self.staged if self.staged is not None else self.settings
        if settings != current:
            self._staged(settings=settings, principal=principal)

    class Staged(Aggregate.Event):
        settings: PlanSettings
        principal: str

    @event(Staged)
    def _staged(self, settings: PlanSettings, principal: str) -> None:
        self.staged = None if settings == self.settings else settings

    def deploy(self, principal: str) -> None:
        if self.staged is None or self.staged == self.settings:
            raise NothingStaged(
                f"plan {self.plan_id} has no staged changes to deploy; stage them first (PUT)"
            )
        self._deployed(settings=self.staged, principal=principal)

    class Deployed(Aggregate.Event):
        settings: PlanSettings
        principal: str

        def apply(self, aggregate: Any) -> None:
            aggregate.armed_at = self.timestamp
            super().apply(aggregate)

    @event(Deployed)
    def _deployed(self, settings: PlanSettings, principal: str) -> None:
        self.settings = settings
        self.staged = None
        self.revision += 1

    # ----------------------------------------------------------------- pause / resume / delete
    def pause(self, principal: str) -> None:
        if not self.paused:
            self._paused(principal=principal)

    class Paused(Aggregate.Event):
        principal: str

    @event(Paused)
    def _paused(self, principal: str) -> None:
        self.paused = True

    def resume(self, principal: str) -> None:
        if self.paused:
            self._resumed(principal=principal)

    class Resumed(Aggregate.Event):
        principal: str

        def apply(self, aggregate: Any) -> None:
            aggregate.armed_at = self.timestamp
            super().apply(aggregate)

    @event(Resumed)
    def _resumed(self, principal: str) -> None:
        self.paused = False

    def delete(self, principal: str) -> None:
        if self.plan_id == DEFAULT_PLAN_ID:
            raise DefaultPlanUndeletable(f"plan {DEFAULT_PLAN_ID} is the default and stays")
        if not self.deleted:
            self._deleted(principal=principal)

    class Deleted(Aggregate.Event):
        principal: str

    @event(Deleted)
    def _deleted(self, principal: str) -> None:
        self.deleted = True

    # ----------------------------------------------------------------- runs
    class Fired(Aggregate.Event):
        """The scheduler requested ``backup_id`` for the cron ``tick``."""

        tick: datetime
        backup_id: UUID
        principal: str

    @event(Fired)
    def fired(self, tick: datetime, backup_id: UUID, principal: str) -> None:
        self.last_tick = tick
        self.last_backup_id = backup_id
        self.last_skip_reason = None

    class Skipped(Aggregate.Event):
        """The scheduler let the cron ``tick`` pass (overlap, or the backup was refused)."""

        tick: datetime
        reason: str
        principal: str

    @event(Skipped)
    def skipped(self, tick: datetime, reason: str, principal: str) -> None:
        self.last_tick = tick
        self.last_skip_reason = reason

    class RunRequested(Aggregate.Event):
        """Someone asked for a run now, outside the schedule."""

        backup_id: UUID
        principal: str

    @event(RunRequested)
    def run_requested(self, backup_id: UUID, principal: str) -> None:
        self.last_backup_id = backup_id


class PlanDirectory(Aggregate):
    """Every plan id ever allocated, saved with each creation: two processes creating a
    plan at once append the same version of it and the loser retries with the next id; and
    listing plans needs no read model. Ids are never reused, even after a delete."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return guard_id("plan-directory", "all")

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.plan_ids: list[int] = []

    def next_id(self) -> int:
        return max([DEFAULT_PLAN_ID, *self.plan_ids]) + 1

    def add(self, plan_id: int) -> None:
        if plan_id not in self.plan_ids:
            self._added(plan_id=plan_id)

    class Added(Aggregate.Event):
        plan_id: int

    @event(Added)
    def _added(self, plan_id: int) -> None:
        self.plan_ids.append(plan_id)


def plan_backup_spec(plan: Plan, force: bool = False) -> BackupSpec:
    """The backup request a run of the plan's deployed version makes (named by its
    reference id, since many runs of one plan cannot share a name)."""
    settings = plan.settings
    return BackupSpec(
        scope=settings.scope,
        group_entities=settings.group_entities,
        user_entities=settings.user_entities,
        formats=settings.formats,
        download_files=settings.download_files,
        description=f"plan {plan.plan_id}: {settings.name}",
        kind=settings.kind,
        backup_type=settings.backup_type,
        plan_id=plan.plan_id,
        force=force,
    )


def plan_uuid(plan_id: int) -> UUID:
    return guard_id("plan", str(plan_id))
