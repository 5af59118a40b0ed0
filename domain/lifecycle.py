"""The lifecycle of backups and restores: the only legal moves, as data, in one place.

"What may a CANCELLING backup do next?" is answered by reading ``BACKUP_TRANSITIONS`` below.
The aggregates consult these tables before recording anything, the API documentation prints
them, and the property-based tests use them as their model, so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BackupStatus(StrEnum):
    """The seven states of seed 001 (QRadar's backup status enumeration)."""

    INITIALIZING = "INITIALIZING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    DELETING = "DELETING"
    MISSING = "MISSING"


class RestoreStatus(StrEnum):
    """Restores use the subset of backup states that describe running and finishing."""

    INITIALIZING = "INITIALIZING"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"


JobStatus = BackupStatus | RestoreStatus


class Move(StrEnum):
    """A command that changes a job's status (or keeps it, recording a fact)."""

    REQUEST = "request"
    CLAIM = "claim"
    RESOLVE_SCOPE = "resolve_scope"
    RECORD_PROGRESS = "record_progress"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"
    ACKNOWLEDGE_CANCEL = "acknowledge_cancel"
    ACKNOWLEDGE_DELETE = "acknowledge_delete"
    DELETE = "delete"
    DELETE_RUNNING = "delete_running"
    PURGE = "purge"
    MARK_MISSING = "mark_missing"
    MARK_INTACT = "mark_intact"


@dataclass(frozen=True)
class Transition:
    """One row of the lifecycle table: ``move`` takes a job from any of ``sources`` to
    ``target``. ``sources`` containing ``None`` means the move creates the job."""

    move: Move
    sources: frozenset[str | None]
    target: str
    meaning: str


def _row(move: Move, sources: set[str | None], target: str, meaning: str) -> Transition:
    return Transition(move, frozenset(sources), target, meaning)


_B = BackupStatus

BACKUP_TRANSITIONS: tuple[Transition, ...] = (
    _row(Move.REQUEST, {None}, _B.INITIALIZING, "a client asks for a backup"),
    _row(Move.CLAIM, {_B.INITIALIZING}, _B.IN_PROGRESS, "a worker takes the job with a lease"),
    _row(Move.RESOLVE_SCOPE, {_B.IN_PROGRESS}, _B.IN_PROGRESS, "the worker counts the entities"),
    _row(
        Move.RECORD_PROGRESS,
        {_B.IN_PROGRESS},
        _B.IN_PROGRESS,
        "one entity done, failed or ignored",
    ),
    _row(Move.RESUME, {_B.IN_PROGRESS}, _B.IN_PROGRESS, "another worker takes an expired lease"),
    _row(Move.COMPLETE, {_B.IN_PROGRESS}, _B.SUCCESS, "every entity recorded"),
    _row(Move.FAIL, {_B.INITIALIZING, _B.IN_PROGRESS}, _B.FAILED, "the job cannot go on"),
    _row(Move.CANCEL, {_B.INITIALIZING, _B.IN_PROGRESS}, _B.CANCELLING, "a client stops it"),
    _row(
        Move.DELETE_RUNNING,
        {_B.INITIALIZING, _B.IN_PROGRESS, _B.CANCELLING},
        _B.CANCELLING,
        "a client deletes a running backup: stop first, then delete",
    ),
    _row(
        Move.ACKNOWLEDGE_CANCEL,
        {_B.CANCELLING},
        _B.FAILED,
        "the worker stopped; reason 'cancelled'",
    ),
    _row(
        Move.ACKNOWLEDGE_DELETE,
        {_B.CANCELLING},
        _B.DELETING,
        "the worker stopped a backup whose delete was asked for",
    ),
    _row(
        Move.DELETE,
        {_B.SUCCESS, _B.FAILED, _B.MISSING},
        _B.DELETING,
        "a client deletes a finished backup",
    ),
    _row(
        Move.PURGE,
        {_B.DELETING},
        _B.DELETING,
        "artifacts purged: the record is gone from views, its events stay",
    ),
    _row(Move.MARK_MISSING, {_B.SUCCESS}, _B.MISSING, "verify found artifacts gone or corrupt"),
    _row(Move.MARK_INTACT, {_B.MISSING}, _B.SUCCESS, "verify found them intact again"),
)

_R = RestoreStatus

RESTORE_TRANSITIONS: tuple[Transition, ...] = (
    _row(Move.REQUEST, {None}, _R.INITIALIZING, "a client asks for a restore"),
    _row(Move.CLAIM, {_R.INITIALIZING}, _R.IN_PROGRESS, "a worker takes the job with a lease"),
    _row(Move.RESOLVE_SCOPE, {_R.IN_PROGRESS}, _R.IN_PROGRESS, "the worker counts the entities"),
    _row(
        Move.RECORD_PROGRESS,
        {_R.IN_PROGRESS},
        _R.IN_PROGRESS,
        "one entity written, failed or ignored",
    ),
    _row(Move.RESUME, {_R.IN_PROGRESS}, _R.IN_PROGRESS, "another worker takes an expired lease"),
    _row(Move.COMPLETE, {_R.IN_PROGRESS}, _R.SUCCESS, "every entity written"),
    _row(Move.FAIL, {_R.INITIALIZING, _R.IN_PROGRESS}, _R.FAILED, "the job cannot go on"),
    _row(Move.CANCEL, {_R.INITIALIZING, _R.IN_PROGRESS}, _R.CANCELLING, "a client stops it"),
    _row(
        Move.ACKNOWLEDGE_CANCEL,
        {_R.CANCELLING},
        _R.FAILED,
        "the worker stopped; reason 'cancelled'",
    ),
)

IDEMPOTENT_REPEATS: frozenset[tuple[Move, str]] = frozenset(
    {
        (Move.CANCEL, "CANCELLING"),
        (Move.DELETE, "DELETING"),
    }
)
"""A cancel of a job already cancelling, or a delete of a backup already being deleted,
is accepted and records nothing."""

ACTIVE_STATUSES: frozenset[str] = frozenset({"INITIALIZING", "IN_PROGRESS", "CANCELLING"})
"""A job in one of these states holds its scope (see domain.guards). Every other module
imports the status sets below rather than spelling them out (a unit test checks it), so
a new status changes them in this one place."""

FINISHED_STATUSES: frozenset[str] = frozenset({"SUCCESS", "FAILED", "MISSING", "DELETING"})
"""Once a job reaches one of these it never runs again (a client waiting for a job stops
waiting here, a delete included)."""


def _sources(move: Move) -> frozenset[str]:
    """The statuses ``move`` may leave, as plain strings (rows compare with stored text)."""
    return frozenset(
        str(s) for row in BACKUP_TRANSITIONS if row.move == move for s in row.sources if s
    )


SETTLED_STATUSES: frozenset[str] = _sources(Move.DELETE)
"""Finished and still kept: SUCCESS, FAILED, MISSING (a client may delete them; retention
counts them; dialects report them as ended). DELETING is finished but on its way out."""

UNSUCCESSFUL_STATUSES: frozenset[str] = SETTLED_STATUSES - {str(BackupStatus.SUCCESS)}
"""Settled without a usable result: FAILED and MISSING."""

CONTENT_STATUSES: frozenset[str] = _sources(Move.MARK_MISSING) | _sources(Move.MARK_INTACT)
"""SUCCESS and MISSING: the backup wrote content, whole or found damaged; a verification
moves a backup between the two, and only these have content to download."""

STOPPING_STATUSES: frozenset[str] = frozenset(
    str(row.target) for row in BACKUP_TRANSITIONS if row.move in (Move.CANCEL, Move.DELETE)
)
"""CANCELLING and DELETING: a client asked the job to stop or to go."""

EVENT_MOVES: dict[str, Move] = {
    "Job.Claimed": Move.CLAIM,
    "Job.Resumed": Move.RESUME,
    "Job.ScopeResolved": Move.RESOLVE_SCOPE,
    "Job.EntitySucceeded": Move.RECORD_PROGRESS,
    "Job.EntityFailed": Move.RECORD_PROGRESS,
    "Job.EntityIgnored": Move.RECORD_PROGRESS,
    "Job.Completed": Move.COMPLETE,
    "Job.Failed": Move.FAIL,
    "Job.CancelRequested": Move.CANCEL,
    "Job.CancelAcknowledged": Move.ACKNOWLEDGE_CANCEL,
    "Backup.DeleteAcknowledged": Move.ACKNOWLEDGE_DELETE,
    "Backup.Purged": Move.PURGE,
    "Backup.MarkedMissing": Move.MARK_MISSING,
    "Backup.MarkedIntact": Move.MARK_INTACT,
}
"""Which row of the table each job event records, by the event's type as the log spells it
(``Owner.Event``). DeleteRequested depends on the status it meets: DELETE from a finished
backup, DELETE_RUNNING from a running one."""

ENDING_MOVES: frozenset[Move] = frozenset(
    {Move.COMPLETE, Move.FAIL, Move.ACKNOWLEDGE_CANCEL, Move.PURGE}
)
"""Moves after which a job needs no worker (SUCCESS, FAILED, or purged for good)."""

ENDING_EVENT_TYPES: frozenset[str] = frozenset(
    name for name, move in EVENT_MOVES.items() if move in ENDING_MOVES
)
"""The events recording an ending move."""

PROGRESS_EVENT_TYPES: frozenset[str] = frozenset(
    name for name, move in EVENT_MOVES.items() if move in (Move.RESOLVE_SCOPE, Move.RECORD_PROGRESS)
)
"""Events that record progress and never change a job's status."""


def table_for(job_kind: str) -> tuple[Transition, ...]:
    """The lifecycle table of ``"backup"`` or ``"restore"``."""
    return BACKUP_TRANSITIONS if job_kind == "backup" else RESTORE_TRANSITIONS


def find_transition(job_kind: str, move: Move, status: str | None) -> Transition | None:
    """The row that allows ``move`` from ``status``, or None when the move is illegal."""
    for row in table_for(job_kind):
        if row.move == move and status in row.sources:
            return row
    return None


def describe_table(job_kind: str) -> list[dict[str, object]]:
    """The table as plain data, for documentation and the API (sorted for stable output)."""
    return [
        {
            "move": row.move.value,
            "from": sorted("(none)" if s is None else s for s in row.sources),
            "to": row.target,
            "meaning": row.meaning,
        }
        for row in table_for(job_kind)
    ]
