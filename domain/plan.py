"""The Plan aggregate: a saved backup configuration (seed 001's configuration_id, seed 002's
schedules). Plan 1 exists from the start: the whole default host, every entity."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, BackupKind, BackupType
from domain.guards import guard_id
from domain.model import Aggregate, Immutable
from domain.scope import Scope

DEFAULT_PLAN_ID = 1
DEFAULT_HOST_ID = "default"


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
        self.paused = False

    def update(self, settings: PlanSettings, principal: str) -> None:
        if settings != self.settings:
            self._updated(settings=settings, principal=principal)

    class Updated(Aggregate.Event):
        settings: PlanSettings
        principal: str

    @event(Updated)
    def _updated(self, settings: PlanSettings, principal: str) -> None:
        self.settings = settings


def plan_uuid(plan_id: int) -> UUID:
    return guard_id("plan", str(plan_id))
