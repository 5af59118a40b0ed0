"""Which earlier backup an incremental or differential backup is taken relative to.

An incremental backup stores what changed since the previous SUCCESS backup of its plan, a
differential one what changed since the last SUCCESS *full* backup of its plan. "Previous"
must mean the same thing in every process, so it is not read from a view (which may lag):

* ``BackupLineage`` (one per plan, or per scope and kind for backups without a plan) lists
  the backups of that plan in the order they completed. It is a guard-style aggregate whose
  id is uuid5 of its key, and it is appended to in the same ``save()`` as the backup's
  ``Completed`` event, so a backup that completed is always in its lineage, and the order
  is the event store's commit order.
* When a worker resolves a backup's scope, ``choose_base`` walks the lineage newest first and
  takes the first entry that is still usable (SUCCESS when looked up live in the event
  store: a deleted or MISSING backup is skipped). The choice is recorded on the backup
  (``Backup.BaseChosen``) in the same save as its ``ScopeResolved``, so a resumed backup
  keeps it. Backups of one plan share a scope, and the host's activity guard lets only one
  of them run at a time, so no backup of the plan can complete between the choice and the
  run.

When nothing qualifies, the backup runs as a full one and its ``BaseChosen`` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.catalogue import BackupKind, BackupType
from domain.guards import guard_id
from domain.model import Aggregate, Immutable
from domain.scope import Scope


class LineageEntry(Immutable):
    """One completed backup of a plan and how it ran (full when it had no base)."""

    backup_id: UUID
    backup_type: BackupType


class BaseChoice(Immutable):
    """What a backup runs as: its type, the backup it is relative to, and why."""

    backup_type: BackupType
    base_backup_id: UUID | None = None
    reason: str = ""


def lineage_key(plan_id: int | None, scope: Scope, kind: BackupKind) -> str:
    """The lineage a backup belongs to: its plan's, else its scope's for its kind (a CONFIG
    and a DATA backup of one scope carry different content, so neither is the other's base)."""
    if plan_id is not None:
        return f"plan:{plan_id}"
    return f"scope:{scope}:{kind.value}"


def choose_base(
    requested: BackupType,
    entries: Sequence[LineageEntry],
    usable: Callable[[UUID], bool],
    lineage: str,
) -> BaseChoice:
    """The base of a backup of type ``requested`` given its lineage (oldest first).

    Incremental: the newest usable entry; differential: the newest usable entry that ran as
    a full backup. Nothing usable: the backup runs as a full one, and the reason says so.
    """
    if requested is BackupType.FULL:
        return BaseChoice(backup_type=BackupType.FULL)
    wanted_full = requested is BackupType.DIFFERENTIAL
    for entry in reversed(entries):
        if wanted_full and entry.backup_type is not BackupType.FULL:
            continue
        if usable(entry.backup_id):
            return BaseChoice(backup_type=requested, base_backup_id=entry.backup_id)
    what = "full backup" if wanted_full else "backup"
    return BaseChoice(
        backup_type=BackupType.FULL,
        reason=f"no earlier SUCCESS {what} of {lineage}: ran as a full backup",
    )


class BackupLineage(Aggregate):
    """The completed backups of one plan (see the module docstring)."""

    @staticmethod
    def create_id(key: str, **_: Any) -> UUID:
        return guard_id("backup-lineage", key)

    class Opened(Aggregate.Created):
        key: str

    @event(Opened)
    def __init__(self, key: str) -> None:
        self.key = key
        self.entries: list[LineageEntry] = []

    class BackupRecorded(Aggregate.Event):
        backup_id: UUID
        backup_type: BackupType

    @event(BackupRecorded)
    def record(self, backup_id: UUID, backup_type: BackupType) -> None:
        """A backup of this plan completed SUCCESS, having run as ``backup_type``."""
        self.entries.append(LineageEntry(backup_id=backup_id, backup_type=backup_type))
