"""Request and response bodies of the native plan routes (api.dialects.native.plans).

A plan's settings use the native backup request's names (``tenant_id``, ``group``, ``user``,
``download_announcement_files``, ``type``, ``kind``) plus the schedule (``cron``: five
fields, UTC), the overlap policy and the retention rules. Bad input answers 400 naming the
field (a bad cron names ``cron``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from adapters.cron import check_cron
from api.core.openapi import variant
from api.core.schemas import Strict, _check_entities
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, BackupKind, BackupType, OutputFormat
from domain.plan import OverlapPolicy, PlanSettings
from domain.scope import Scope, check_name

COUNT = Field(default=None, ge=1, le=10_000)


def _some_formats(value: list[OutputFormat]) -> list[OutputFormat]:
    if not value:
        raise ValueError("formats: at least one of json, xml")
    return sorted(set(value))


GroupEntities = Annotated[
    list[str], AfterValidator(lambda v: _check_entities(v, GROUP_ENTITIES, "group"))
]
UserEntities = Annotated[
    list[str], AfterValidator(lambda v: _check_entities(v, USER_ENTITIES, "user"))
]
Formats = Annotated[list[OutputFormat], AfterValidator(_some_formats)]


class PlanFields(Strict):
    """Every settable field; what ``POST`` requires and ``PUT`` may send in part."""

    name: str = Field(min_length=1, max_length=100)
    host_id: str = "default"
    tenant_id: str | None = None
    group_id: str | None = None
    group: GroupEntities = Field(default_factory=lambda: list(GROUP_ENTITIES))
    user: UserEntities = Field(default_factory=lambda: list(USER_ENTITIES))
    formats: Formats = Field(default_factory=lambda: [OutputFormat.JSON])
    download_announcement_files: bool = True
    type: BackupType = BackupType.FULL
    kind: BackupKind = BackupKind.CONFIG
    cron: str | None = None
    overlap: OverlapPolicy = "skip"
    retention_days: int | None = Field(default=None, ge=1, le=100_000)
    keep_last: int | None = COUNT
    keep_daily: int | None = COUNT
    keep_weekly: int | None = COUNT
    keep_monthly: int | None = COUNT

    @field_validator("host_id", "tenant_id", "group_id")
    @classmethod
    def _ids(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else check_name(value, info.field_name)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @model_validator(mode="after")
    def _group_needs_tenant(self) -> PlanFields:
        if self.group_id is not None and self.tenant_id is None:
            raise ValueError("tenant_id: a group_id needs its tenant_id")
        return self

    def to_settings(self) -> PlanSettings:
        return PlanSettings(
            name=self.name,
            scope=Scope(host_id=self.host_id, tenant_id=self.tenant_id, group_id=self.group_id),
            group_entities=tuple(self.group),
            user_entities=tuple(self.user),
            formats=tuple(f.value for f in self.formats),
            download_files=self.download_announcement_files,
            kind=self.kind,
            backup_type=self.type,
            cron=self.cron,
            retention_days=self.retention_days,
            overlap=self.overlap,
            keep_last=self.keep_last,
            keep_daily=self.keep_daily,
            keep_weekly=self.keep_weekly,
            keep_monthly=self.keep_monthly,
        )

    @classmethod
    def of(cls, settings: PlanSettings) -> PlanFields:
        """Stored settings as fields, not checked again: what an older version let in (a
        cron that never fires) must still read. An edit checks them (``staged_fields``)."""
        scope = settings.scope
        return cls.model_construct(
            name=settings.name,
            host_id=scope.host_id,
            tenant_id=scope.tenant_id,
            group_id=scope.group_id,
            group=list(settings.group_entities),
            user=list(settings.user_entities),
            formats=[OutputFormat(f) for f in settings.formats],
            download_announcement_files=settings.download_files,
            type=settings.backup_type,
            kind=settings.kind,
            cron=settings.cron,
            overlap=settings.overlap,
            retention_days=settings.retention_days,
            keep_last=settings.keep_last,
            keep_daily=settings.keep_daily,
            keep_weekly=settings.keep_weekly,
            keep_monthly=settings.keep_monthly,
        )


def staged_fields(current: PlanSettings, body: dict[str, Any]) -> PlanFields:
    """PUT: the fields sent replace those of the current version (staged, else deployed);
    the others are kept. Sending ``null`` clears an optional field (e.g. ``cron``)."""
    return PlanFields.model_validate({**PlanFields.of(current).model_dump(), **body})


class PlanView(BaseModel):
    """GET /api/v1/plans/{id}: the deployed version, the staged one, and the schedule."""

    id: int
    name: str
    revision: int
    """How many versions were deployed (1 at creation)."""
    paused: bool
    deployed: PlanFields
    staged: PlanFields | None
    has_staged_changes: bool
    next_run: datetime | None
    """The next tick of the deployed cron (UTC), None when unscheduled, paused or when the
    cron never fires (one stored before such crons were refused); a tick in the past is due
    and fires at the scheduler's next pass."""
    last_tick: datetime | None
    last_backup_id: str | None
    last_skip_reason: str | None


PlanChanges = variant(
    "PlanChanges",
    "PUT /api/v1/plans/{plan_id}: the fields to change (PlanFields'); the others are kept "
    "from the current version (staged, else deployed); ``null`` clears an optional one.",
    PlanFields,
    optional=True,
)
