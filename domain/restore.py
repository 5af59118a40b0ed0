"""The Restore aggregate: one run of putting a backup's content back into a target host."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from eventsourcing.domain import event

from domain.backup import Backup
from domain.errors import BackupNotRestorable, IncompleteBackup
from domain.job import Job
from domain.model import Aggregate, Immutable
from domain.scope import Scope


class RestoreSpec(Immutable):
    """What to restore, where to, and how to treat objects that already exist there."""

    backup_id: UUID
    target: Scope
    group_entities: tuple[str, ...] | None = None
    """None restores every group entity the backup holds."""
    user_entities: tuple[str, ...] | None = None
    users: tuple[str, ...] | None = None
    """None restores every user the backup holds."""
    existing: Literal["update", "skip"] = "update"
    allow_partial: bool = False
    """Restore a backup that could not read part of its scope: what it read is restored and
    what it could not read is skipped (needed for a whole-scope restore of such a backup)."""
    safety_backup_id: UUID | None = None
    request_id: str | None = None
    """The id of the HTTP request that asked for it: the worker's log lines carry it."""

    @property
    def whole_scope(self) -> bool:
        """No entity or user list narrows it: it is about everything the backup covers."""
        return self.group_entities is None and self.user_entities is None and self.users is None


def check_restorable(backup: Backup, spec: RestoreSpec) -> None:
    """Refuse a restore its backup cannot honestly serve. Only a SUCCESS backup holds
    content (2010). A backup that could not read part of its scope holds less than the
    scope: restoring all of it would silently leave out what it missed, so a whole-scope
    restore must say it accepts that with ``allow_partial`` (2011); a restore narrowed by
    entity or user lists may run, and skips what the backup could not read either way."""
    if backup.status != "SUCCESS":
        raise BackupNotRestorable(
            f"backup {backup.id} is {backup.status}; only a SUCCESS backup restores"
        )
    if backup.has_errors and spec.whole_scope and not spec.allow_partial:
        raise IncompleteBackup(
            f"backup {backup.id} could not read part of its scope ({backup.error_calls} failed"
            " call(s)): send allow_partial: true to restore what it holds and skip what it"
            " could not read, or restrict the restore with group, user or users",
            field="allow_partial",
        )


class Restore(Job):
    job_kind: ClassVar[str] = "restore"

    class Requested(Aggregate.Created):
        spec: RestoreSpec
        principal: str

    @event(Requested)
    def __init__(self, spec: RestoreSpec, principal: str) -> None:
        self._init_job_state(principal)
        self.spec = spec

    @property
    def backup_id(self) -> UUID:
        return self.spec.backup_id

    @property
    def target(self) -> Scope:
        return self.spec.target
