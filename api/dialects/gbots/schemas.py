"""Request and response bodies of the General Bots dialect (seed 002, ``/api/v1/backup/``):
what a backup covers (create and schedules), backups and schedules as the dialect shows
them, and its error object. The restore bodies are in api.dialects.gbots.restore_schemas.

The seed names only a few fields (``type``, ``include_files``, ``include_database`` on create;
``target`` on restore; ``cron``, ``type``, ``retention_days`` on schedules; ``backup_id``,
``id``, ``created_at``, ``size`` and ``job_id`` in answers). Everything else here is Rewind's
choice, named like the native API's fields so one vocabulary serves every dialect. Unknown
fields are refused (400 naming them), as in the native API.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
)

from adapters.cron import check_cron, next_tick
from api.core.openapi import variant
from api.core.schemas import check_backup_name
from domain.backup import BackupSpec
from domain.catalogue import (
    GROUP_ENTITIES,
    MEDIA_ENTITIES,
    USER_ENTITIES,
    BackupKind,
    BackupType,
)
from domain.plan import DEFAULT_HOST_ID, Plan, PlanSettings
from domain.scope import Scope, check_name
from projections.rows import BackupRow

MEDIA_ONLY: tuple[str, ...] = tuple(sorted(MEDIA_ENTITIES))
"""The entities a files-only backup fetches: the documents that reference the audio files
(without them a restore would not know where the files belong)."""


class GbotsStrict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_id(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else check_name(value, info.field_name or "id")


class GbotsBackupContent(GbotsStrict):
    """What a backup (or a scheduled one) covers: seed 002's two switches plus the scope.

    ``include_database`` is the configuration: every group and user entity of the catalogue.
    ``include_files`` is the media: the audio files announcements reference and the group's
    call recordings (a DATA backup). Both default to true ("complete backup of all data");
    files alone back up only the announcement documents (which say where each file belongs)
    with their audio, and the recordings. Both false is refused: there would be nothing to
    back up. The scope defaults to the whole default host; ``group_id`` needs ``tenant_id``.
    """

    type: BackupType = BackupType.FULL
    include_files: bool = True
    include_database: bool = True
    host_id: str = DEFAULT_HOST_ID
    tenant_id: str | None = None
    group_id: str | None = None

    _ids = field_validator("host_id", "tenant_id", "group_id")(_check_id)

    @field_validator("include_database")
    @classmethod
    def _something(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and info.data.get("include_files") is False:
            msg = "include_files and include_database are both false: nothing to back up"
            raise ValueError(msg)
        return value

    @field_validator("group_id")
    @classmethod
    def _group_needs_tenant(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("tenant_id") is None:
            raise ValueError("a group_id needs its tenant_id")
        return value

    def scope(self) -> Scope:
        return Scope(host_id=self.host_id, tenant_id=self.tenant_id, group_id=self.group_id)

    def entity_lists(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(group entities, user entities) the switches ask for."""
        if self.include_database:
            return GROUP_ENTITIES, USER_ENTITIES
        return MEDIA_ONLY, MEDIA_ONLY

    def kind(self) -> BackupKind:
        return BackupKind.DATA if self.include_files else BackupKind.CONFIG


class CreateBackupRequest(GbotsBackupContent):
    """POST /api/v1/backup/create."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=255)

    _name = field_validator("name")(check_backup_name)

    def spec(self) -> BackupSpec:
        group, user = self.entity_lists()
        return BackupSpec(
            scope=self.scope(),
            group_entities=group,
            user_entities=user,
            download_files=self.include_files,
            name=self.name,
            description=self.description,
            kind=self.kind(),
            backup_type=self.type,
        )


class GbotsProgress(BaseModel):
    done: int
    total: int | None
    percent: int | None
    """0-100 once the job knows how many entities it has; null before."""


def progress(done: int, total: int | None) -> GbotsProgress:
    percent = None if not total else min(100, done * 100 // total)
    if total == 0:
        percent = 100
    return GbotsProgress(done=done, total=total, percent=percent)


def includes_database(*entity_lists: Iterable[str]) -> bool:
    """Whether a backup of these entities carries configuration beyond the media documents
    (seed 002's include_database, read back from what was asked for)."""
    return any(e and e not in MEDIA_ENTITIES for entities in entity_lists for e in entities)


class GbotsBackupView(BaseModel):
    """One backup as this dialect shows it (create, list, get). ``id`` and ``backup_id``
    are the same value (the seed's list reads ``id``, its create reads ``backup_id``);
    ``size`` is in bytes, 0 until the backup has finished."""

    id: str
    backup_id: str
    name: str
    status: str
    type: str
    created_at: datetime
    completed_at: datetime | None
    size: int
    include_files: bool
    include_database: bool
    host_id: str
    tenant_id: str | None
    group_id: str | None
    progress: GbotsProgress
    failure_reason: str | None
    is_valid: bool
    has_errors: bool
    """SUCCESS, but some calls failed: what the backup could not read is missing from it,
    and a restore of the whole of it needs ``allow_partial``."""

    @classmethod
    def of(cls, row: BackupRow) -> GbotsBackupView:
        return cls(
            id=row.id,
            backup_id=row.id,
            name=row.name,
            status=row.status,
            type=row.type,
            created_at=row.created_at,
            completed_at=row.ended_at,
            size=row.size_on_disk,
            include_files=row.download_files or row.kind == BackupKind.DATA.value,
            include_database=includes_database(
                row.group_entities.split(","), row.user_entities.split(",")
            ),
            host_id=row.host_id,
            tenant_id=row.tenant_id,
            group_id=row.group_id,
            progress=progress(row.done, row.total),
            failure_reason=row.failure_reason,
            is_valid=row.status == "SUCCESS",
            has_errors=row.error_calls > 0,
        )


# ---------------------------------------------------------------------- schedules
DEFAULT_SCHEDULE_NAME = "general-bots-schedule"


class ScheduleRequest(GbotsBackupContent):
    """POST /api/v1/backup/schedule (and, merged over the current values, PUT): seed 002's
    ``cron``, ``type`` and ``retention_days`` (backups of the schedule older than that many
    days are deleted; absent: kept), the create switches and scope (GbotsBackupContent), a
    ``name``, and ``enabled`` (false: the schedule is paused and fires nothing)."""

    cron: str = Field(max_length=200)
    retention_days: int | None = Field(default=None, ge=1, le=36500)
    name: str = Field(default=DEFAULT_SCHEDULE_NAME, min_length=1, max_length=100)
    enabled: bool = True

    _cron = field_validator("cron")(check_cron)

    def settings(self) -> PlanSettings:
        group, user = self.entity_lists()
        return PlanSettings(
            name=self.name,
            scope=self.scope(),
            group_entities=group,
            user_entities=user,
            download_files=self.include_files,
            kind=self.kind(),
            backup_type=self.type,
            cron=self.cron,
            retention_days=self.retention_days,
        )

    @classmethod
    def current(cls, plan: Plan) -> dict[str, Any]:
        """A plan's deployed version in this body's terms (what a PUT changes)."""
        s = plan.settings
        return {
            "type": s.backup_type.value,
            "include_files": s.download_files or s.kind == BackupKind.DATA,
            "include_database": includes_database(s.group_entities, s.user_entities),
            "host_id": s.scope.host_id,
            "tenant_id": s.scope.tenant_id,
            "group_id": s.scope.group_id,
            "cron": s.cron,
            "retention_days": s.retention_days,
            "name": s.name,
            "enabled": not plan.paused,
        }


class ScheduleView(BaseModel):
    """A schedule as this dialect shows it: ``schedule_id`` and ``id`` are the plan's id
    (the same plan the native ``/api/v1/plans`` and QRadar's configuration_id name)."""

    schedule_id: int
    id: int
    name: str
    cron: str
    type: str
    retention_days: int | None
    include_files: bool
    include_database: bool
    host_id: str
    tenant_id: str | None
    group_id: str | None
    enabled: bool
    next_run: datetime | None
    """The next cron tick (UTC) while enabled; null when paused or when the cron never
    fires (one stored before such crons were refused)."""
    revision: int
    last_backup_id: str | None
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, plan: Plan, now: datetime) -> ScheduleView:
        fields = ScheduleRequest.current(plan)
        last = plan.last_backup_id
        return cls(
            **fields,
            schedule_id=plan.plan_id,
            id=plan.plan_id,
            next_run=None if plan.paused else next_tick(plan.settings.cron or "", now),
            revision=plan.revision,
            last_backup_id=None if last is None else str(last),
            created_at=plan.created_on,
            updated_at=plan.modified_on,
        )


# ---------------------------------------------------------------------- answers built by hand
# The handlers build these answers as dicts; the models say what they hold (OpenAPI).


class GbotsError(BaseModel):
    """General Bots' error object: the message(s), and the HTTP status again."""

    error: str
    code: int


class BackupList(RootModel[list[GbotsBackupView]]):
    """GET /api/v1/backup/list: newest first (``X-Total-Count``: how many match)."""


class BackupDeleted(BaseModel):
    """DELETE /api/v1/backup/{backup_id}: DELETING, or CANCELLING while it runs."""

    backup_id: str
    status: str


class ScheduleList(RootModel[list[ScheduleView]]):
    """GET /api/v1/backup/schedule: the plans that have a cron."""


class ScheduleDeleted(BaseModel):
    schedule_id: int
    deleted: Literal[True]


ScheduleChanges = variant(
    "ScheduleChanges",
    "PUT /api/v1/backup/schedule/{schedule_id}: the fields to change (ScheduleRequest's).",
    ScheduleRequest,
    optional=True,
)
