"""Restore bodies of the General Bots dialect (seed 002, ``POST
/api/v1/backup/restore/{backup_id}`` and ``GET /api/v1/backup/restore/{job_id}/status``):
seed 002's ``target`` plus the native restore's options, and the restore job as the
dialect shows it. Backups, schedules and the error object are in
api.dialects.gbots.schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.restore_diff import Skipped, StateDiff
from api.core.openapi import variant
from api.core.schemas import RestoreRequest
from api.dialects.gbots.schemas import GbotsProgress, _check_id, progress
from projections.rows import OutcomeRow, RestoreRow

NOT_IN_BODY = {
    "backup_id": "the backup is the one in the path",
    "target_host_id": "name the host in target",
}


class RestoreOptions(BaseModel):
    """POST /api/v1/backup/restore/{backup_id}: seed 002's ``target`` (a registered host id;
    default the backup's own host) plus the native restore's options, under the same names
    and with the same meaning (README, Restores): ``dry_run``, ``safety_backup``,
    ``existing`` (the conflict policy: ``update`` overwrites what differs, ``skip`` keeps
    it), and ``group`` / ``user`` / ``users`` to restore only part of the backup. Those are
    validated by the native request (api.core.schemas.RestoreRequest), which names each bad or
    unknown field; the backup comes from the path, the host from ``target``."""

    model_config = ConfigDict(extra="allow")

    target: str | None = None

    _target = field_validator("target")(_check_id)

    @model_validator(mode="after")
    def _native_names_only(self) -> RestoreOptions:
        for name, why in NOT_IN_BODY.items():
            if name in (self.model_extra or {}):
                raise ValueError(f"{name}: not a field here ({why})")
        return self

    def native(self, backup_id: str) -> dict[str, Any]:
        """The same request in the native API's terms."""
        return {**(self.model_extra or {}), "backup_id": backup_id, "target_host_id": self.target}


class RestoreError(BaseModel):
    entity: str
    message: str | None


class RestoreResults(BaseModel):
    """What the restore did so far, entity by entity (README, Restores: an entity is a
    success when the target now holds the backup's version of it, written or already equal,
    or was deleted by a whole-group restore)."""

    succeeded: int
    failed: int
    ignored: int
    successful_calls: int
    error_calls: int
    has_errors: bool
    errors: list[RestoreError]
    skipped: list[Skipped]
    """Left as it was because the backup could not read it (``ignored`` counts them)."""


class GbotsRestoreStatus(BaseModel):
    """GET /api/v1/backup/restore/{job_id}/status."""

    job_id: str
    status: str
    backup_id: str
    target: str
    tenant_id: str | None
    group_id: str | None
    existing: str
    safety_backup_id: str | None
    progress: GbotsProgress
    results: RestoreResults
    started_at: datetime
    completed_at: datetime | None
    failure_reason: str | None

    @classmethod
    def of(cls, row: RestoreRow, outcomes: list[OutcomeRow]) -> GbotsRestoreStatus:
        counts = {"success": 0, "error": 0, "ignored": 0}
        for outcome in outcomes:
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        errors = [
            RestoreError(entity=o.key, message=o.message) for o in outcomes if o.outcome == "error"
        ]
        return cls(
            job_id=row.id,
            status=row.status,
            backup_id=row.backup_id,
            target=row.target_host_id,
            tenant_id=row.tenant_id,
            group_id=row.group_id,
            existing=row.existing,
            safety_backup_id=row.safety_backup_id,
            progress=progress(row.done, row.total),
            results=RestoreResults(
                succeeded=counts["success"],
                failed=counts["error"],
                ignored=counts["ignored"],
                successful_calls=row.successful_calls,
                error_calls=row.error_calls,
                has_errors=row.error_calls > 0,
                errors=errors,
                skipped=[
                    Skipped(key=o.key, reason=o.message or "")
                    for o in outcomes
                    if o.outcome == "ignored"
                ],
            ),
            started_at=row.created_at,
            completed_at=row.ended_at,
            failure_reason=row.failure_reason,
        )


# ---------------------------------------------------------------------- answers built by hand
# The handlers build these answers as dicts; the models say what they hold (OpenAPI).


class GbotsRestoreAccepted(BaseModel):
    """POST /api/v1/backup/restore/{backup_id}: the restore job, started."""

    job_id: str
    status: str
    backup_id: str
    target: str
    safety_backup_id: str | None


class RestoreDryRun(BaseModel):
    """POST /api/v1/backup/restore/{backup_id} with ``dry_run``: what a restore would change
    on the target (nothing written)."""

    backup_id: str
    target: str
    existing: Literal["update", "skip"]
    whole_group: bool
    diff: StateDiff
    skipped: list[Skipped]
    dry_run: Literal[True]


RestoreBody = variant(
    "GbotsRestoreBody",
    RestoreOptions.__doc__ or "",
    RestoreRequest,
    exclude=NOT_IN_BODY,
    add={"target": (str | None, Field(default=None, description="A registered host id."))},
)
"""The restore body as RestoreOptions reads it (its extra fields are the native request's)."""
