"""The rows of Rewind's views, and the pure fold that turns events into them.

``evolve_backup`` / ``evolve_restore`` take a row (or None) and one event and return the next
row; a view stores what they return, and ``fold`` applies them to a whole log. Statuses come
from the lifecycle table (domain.lifecycle), through the move each event records, so a view
can never show a status the table does not allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain import lifecycle
from domain.backup import Backup, backup_name, reference_id_for
from domain.job import CANCELLED_REASON, Job
from domain.lifecycle import Move, find_transition
from domain.restore import Restore


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BackupRow(Row):
    """One backup as the list, poll and report views show it."""

    id: str
    reference_id: str
    name: str
    description: str | None
    status: str
    tenant_id: str | None
    group_id: str | None
    host_id: str
    type: str
    kind: str
    plan_id: int | None
    formats: str
    """Comma-separated, sorted."""
    group_entities: str
    user_entities: str
    download_files: bool
    principal: str
    sw_version: str
    created_at: datetime
    claimed_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    total: int | None
    done: int
    successful_calls: int
    error_calls: int
    failure_reason: str | None
    size_on_disk: int
    content_path: str | None
    worker_id: str | None
    delete_requested: bool
    version: int
    backup_type: str | None = None
    """What it runs as (domain.lineage): the requested type until the worker chooses its
    base; full when an incremental or differential found no base."""
    base_backup_id: str | None = None
    unchanged: int = 0
    """Entities recorded as equal to the base's."""


class OutcomeRow(Row):
    """One entity's recorded result (report: success / errors / ignored_entities)."""

    job_id: str
    key: str
    outcome: str
    digest: str | None
    message: str | None
    successful_calls: int
    error_calls: int
    position: int
    unchanged: bool = False
    """A backup's entity equal to its base's (incremental / differential)."""


class RestoreRow(Row):
    id: str
    backup_id: str
    status: str
    target_host_id: str
    tenant_id: str | None
    group_id: str | None
    safety_backup_id: str | None
    existing: str
    principal: str
    created_at: datetime
    ended_at: datetime | None
    updated_at: datetime
    total: int | None
    done: int
    successful_calls: int
    error_calls: int
    failure_reason: str | None
    worker_id: str | None
    version: int


class AuditRow(Row):
    position: int
    aggregate_id: str
    type: str
    version: int
    time: datetime
    principal: str | None
    payload: str
    """Canonical JSON of the event's payload."""


_EVENT_OWNERS: dict[str, type[Any]] = {"Job": Job, "Backup": Backup}


def _event_class(event_type: str) -> type[Any]:
    owner, _, name = event_type.partition(".")
    cls: type[Any] = getattr(_EVENT_OWNERS[owner], name)
    return cls


EVENT_MOVES: dict[type[Any], Move] = {
    _event_class(event_type): move for event_type, move in lifecycle.EVENT_MOVES.items()
}
"""lifecycle.EVENT_MOVES keyed by event class, for the projection's dispatch."""

PROGRESS_EVENTS = (Job.EntitySucceeded, Job.EntityFailed, Job.EntityIgnored)


def event_class(event: Any) -> type[Any]:
    """The declared event class (the library subclasses it for ``@event`` methods)."""
    for cls in type(event).__mro__:
        if cls in EVENT_MOVES or cls in (
            Backup.Requested,
            Restore.Requested,
            Backup.DeleteRequested,
            Backup.BaseChosen,
        ):
            return cls
    return type(event)


def _move_status(kind: str, status: str, move: Move) -> str:
    row = find_transition(kind, move, status)
    if row is None:
        msg = f"the log holds {move.value} from {status} for a {kind}: not in the table"
        raise ValueError(msg)
    return row.target


def new_backup_row(event: Backup.Requested) -> BackupRow:
    spec = event.spec
    return BackupRow(
        id=str(event.originator_id),
        reference_id=reference_id_for(event.originator_id, spec.scope),
        name=backup_name(event.originator_id, spec),
        description=spec.description,
        status=_move_status("backup", None, Move.REQUEST),  # type: ignore[arg-type]
        tenant_id=spec.scope.tenant_id,
        group_id=spec.scope.group_id,
        host_id=spec.scope.host_id,
        type=spec.backup_type.value,
        kind=spec.kind.value,
        plan_id=spec.plan_id,
        formats=",".join(sorted(spec.formats)),
        group_entities=",".join(spec.group_entities),
        user_entities=",".join(spec.user_entities),
        download_files=spec.download_files,
        principal=event.principal,
        sw_version=event.sw_version,
        created_at=event.timestamp,
        claimed_at=None,
        ended_at=None,
        updated_at=event.timestamp,
        total=None,
        done=0,
        successful_calls=0,
        error_calls=0,
        failure_reason=None,
        size_on_disk=0,
        content_path=None,
        worker_id=None,
        delete_requested=False,
        version=event.originator_version,
        backup_type=spec.backup_type.value,
    )


def new_restore_row(event: Restore.Requested) -> RestoreRow:
    spec = event.spec
    return RestoreRow(
        id=str(event.originator_id),
        backup_id=str(spec.backup_id),
        status=_move_status("restore", None, Move.REQUEST),  # type: ignore[arg-type]
        target_host_id=spec.target.host_id,
        tenant_id=spec.target.tenant_id,
        group_id=spec.target.group_id,
        safety_backup_id=str(spec.safety_backup_id) if spec.safety_backup_id else None,
        existing=spec.existing,
        principal=event.principal,
        created_at=event.timestamp,
        ended_at=None,
        updated_at=event.timestamp,
        total=None,
        done=0,
        successful_calls=0,
        error_calls=0,
        failure_reason=None,
        worker_id=None,
        version=event.originator_version,
    )


def _job_changes(kind: str, status: str, event: Any) -> dict[str, Any]:
    """Field changes a job event makes to its row (backups and restores alike)."""
    cls = event_class(event)
    changes: dict[str, Any] = {"updated_at": event.timestamp, "version": event.originator_version}
    if cls is Backup.DeleteRequested:
        finished = find_transition(kind, Move.DELETE, status) is not None
        delete_move = Move.DELETE if finished else Move.DELETE_RUNNING
        changes["status"] = _move_status(kind, status, delete_move)
        changes["delete_requested"] = True
        return changes
    if cls is Backup.BaseChosen:
        changes["backup_type"] = event.backup_type.value
        changes["base_backup_id"] = str(event.base_backup_id) if event.base_backup_id else None
        return changes
    move = EVENT_MOVES.get(cls)
    if move is None:
        return changes
    changes["status"] = _move_status(kind, status, move)
    if cls in (Job.Claimed, Job.Resumed):
        changes["worker_id"] = event.worker_id
        if cls is Job.Claimed:
            changes["claimed_at"] = event.timestamp
    elif cls is Job.ScopeResolved:
        changes["total"] = event.total
    elif cls is Job.Completed:
        changes["ended_at"] = event.timestamp
        changes["size_on_disk"] = event.size_on_disk
        changes["content_path"] = event.content_path
    elif cls is Job.Failed:
        changes["ended_at"] = event.timestamp
        changes["failure_reason"] = event.reason
    elif cls in (Job.CancelAcknowledged, Backup.DeleteAcknowledged):
        changes["ended_at"] = event.timestamp
        changes["failure_reason"] = CANCELLED_REASON
    elif cls is Backup.MarkedMissing:  # why its content can no longer be used
        changes["failure_reason"] = event.reason
    elif cls is Backup.MarkedIntact:
        changes["failure_reason"] = None
    return changes


def evolve_job(row: BackupRow | RestoreRow, event: Any) -> BackupRow | RestoreRow | None:
    """The row after ``event``; None when the job leaves the views (purged)."""
    kind = "backup" if isinstance(row, BackupRow) else "restore"
    changes = _job_changes(kind, row.status, event)
    if isinstance(event, PROGRESS_EVENTS):
        changes["done"] = row.done + 1
        if not isinstance(event, Job.EntityIgnored):
            changes["successful_calls"] = row.successful_calls + event.successful_calls
            changes["error_calls"] = row.error_calls + event.error_calls
        if (
            isinstance(row, BackupRow)
            and isinstance(event, Job.EntitySucceeded)
            and event.unchanged
        ):
            changes["unchanged"] = row.unchanged + 1
    if isinstance(event, Backup.Purged):
        return None
    if kind == "restore":
        changes.pop("claimed_at", None)
        changes.pop("size_on_disk", None)
        changes.pop("content_path", None)
        changes.pop("delete_requested", None)
    return row.model_copy(update=changes)


def outcome_row(event: Any, position: int) -> OutcomeRow:
    unchanged = False
    if isinstance(event, Job.EntitySucceeded):
        outcome, digest, message = "success", event.digest, None
        ok, err = event.successful_calls, event.error_calls
        unchanged = event.unchanged
    elif isinstance(event, Job.EntityFailed):
        outcome, digest, message = "error", None, event.message
        ok, err = event.successful_calls, event.error_calls
    else:
        outcome, digest, message, ok, err = "ignored", None, event.reason, 0, 0
    return OutcomeRow(
        job_id=str(event.originator_id),
        key=event.key,
        outcome=outcome,
        digest=digest,
        message=message,
        successful_calls=ok,
        error_calls=err,
        position=position,
        unchanged=unchanged,
    )


class Folded:
    """Every view's content as a pure, in-memory fold of the log computes it."""

    def __init__(self) -> None:
        self.backups: dict[str, BackupRow] = {}
        self.restores: dict[str, RestoreRow] = {}
        self.outcomes: dict[tuple[str, str], OutcomeRow] = {}

    def apply(self, position: int, event: Any) -> None:
        job_id = str(event.originator_id)
        if isinstance(event, Backup.Requested):
            self.backups[job_id] = new_backup_row(event)
        elif isinstance(event, Restore.Requested):
            self.restores[job_id] = new_restore_row(event)
        elif job_id in self.backups:
            evolved = evolve_job(self.backups[job_id], event)
            if evolved is None:
                del self.backups[job_id]
                self.outcomes = {k: v for k, v in self.outcomes.items() if k[0] != job_id}
                return
            assert isinstance(evolved, BackupRow)
            self.backups[job_id] = evolved
        elif job_id in self.restores:
            evolved_restore = evolve_job(self.restores[job_id], event)
            assert isinstance(evolved_restore, RestoreRow)
            self.restores[job_id] = evolved_restore
        else:
            return
        if isinstance(event, PROGRESS_EVENTS):
            self.outcomes[(job_id, event.key)] = outcome_row(event, position)


def fold(events: Iterable[tuple[int, Any]]) -> Folded:
    """Apply every (position, event) in order, in memory."""
    folded = Folded()
    for position, event in events:
        folded.apply(position, event)
    return folded
