"""Consistency guards: small aggregates saved in the same ``save()`` as the job they admit.

A check against a read model can be outrun by a concurrent command in another process. A
guard cannot: two commands that both change the same guard append the same version of it,
and the event store accepts only one of them (IntegrityError for the other, which the
application retries against the new state, and which then fails with the right domain error).

* ``HostActivity`` (one per host) knows which backups hold which scopes and which restores
  run on the host. It enforces "at most one active backup among overlapping scopes" (1015)
  and "nothing new while a restore is active on the host" (1016).
* ``NameClaim`` (one per backup name) enforces unique backup names (1005).

Their ids are uuid5 of their key, so every process finds the same guard for the same key.
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.errors import BackupInProgress, NameTaken, RestoreInProgress
from domain.model import Aggregate
from domain.scope import Scope

GUARD_NAMESPACE = uuid5(NAMESPACE_URL, "urn:rewind:guards")


def guard_id(kind: str, key: str) -> UUID:
    """The id of the guard of ``kind`` for ``key`` (the same in every process)."""
    return uuid5(GUARD_NAMESPACE, f"{kind}:{key}")


class HostActivity(Aggregate):
    """Which backups hold which scopes on one host, and which restores run on it.

    A backup holds its scope from its request until it ends, or until a forced backup
    supersedes it (force_backup): the superseded backup is cancelled and keeps counting as
    active ("stopping") until its worker stops it. A new request overlapping any active
    backup, holding or stopping, is refused (1015) unless forced; a forced one lists them
    all as predecessors and is claimed only once every one of them has stopped.
    """

    @staticmethod
    def create_id(host_id: str, **_: Any) -> UUID:
        return guard_id("host-activity", host_id)

    class Opened(Aggregate.Created):
        host_id: str

    @event(Opened)
    def __init__(self, host_id: str) -> None:
        self.host_id = host_id
        self.backups: dict[UUID, Scope] = {}
        self.stopping: dict[UUID, Scope] = {}
        self.restores: set[UUID] = set()
        self._held_at: dict[tuple[str, ...], int] = {}
        """How many active backups hold exactly each scope path, and (below) how many hold
        a path at or under each one: the 1015 check is then a few lookups, not a scan of
        every active backup of the host (a busy host has thousands). Derived from the
        events, rebuilt on every load."""
        self._held_under: dict[tuple[str, ...], int] = {}

    def _count(self, scope: Scope, step: int) -> None:
        path = scope.path
        self._held_at[path] = self._held_at.get(path, 0) + step
        for end in range(1, len(path) + 1):
            prefix = path[:end]
            self._held_under[prefix] = self._held_under.get(prefix, 0) + step

    def _any_overlapping(self, scope: Scope) -> bool:
        path = scope.path
        if self._held_under.get(path, 0):
            return True  # an active backup at or inside ``scope``
        return any(self._held_at.get(path[:end], 0) for end in range(1, len(path)))

    def __deepcopy__(self, memo: dict[int, Any]) -> HostActivity:
        """The repository's cache hands out a deep copy on every get. Everything held here
        is immutable (UUIDs, frozen Scopes, events) but the containers, so copying the
        containers is a full copy, without walking every Scope of a busy host (that walk
        made each request O(active backups) in deepcopy alone)."""
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, dict | set | list):
                setattr(clone, name, copy.copy(value))
        return clone

    def active_overlapping(self, scope: Scope) -> list[UUID]:
        """Active backups (holding or stopping) whose scope overlaps ``scope``."""
        if not self._any_overlapping(scope):
            return []
        return [
            job
            for jobs in (self.backups, self.stopping)
            for job, held in jobs.items()
            if held.overlaps(scope)
        ]

    def check_backup_allowed(self, scope: Scope, force: bool) -> list[UUID]:
        """Raise the domain error that forbids a backup of ``scope`` now, if any. Return the
        active overlapping backups: a forced request cancels those still holding their scope
        and is not claimed until all of them have stopped."""
        if self.restores:
            raise RestoreInProgress(
                "A restore is currently in progress on this host; no new backup or restore "
                "can start until it ends."
            )
        overlapping = self.active_overlapping(scope)
        if overlapping and not force:
            raise BackupInProgress(
                f"A backup is already in progress for {scope} (backup {overlapping[0]}); "
                "use force_backup to stop it and start a new one."
            )
        return overlapping

    def holds_scope(self, backup_id: UUID) -> bool:
        """True while the backup holds its scope (it is active and was not superseded)."""
        return backup_id in self.backups

    def check_restore_allowed(self) -> None:
        if self.restores:
            raise RestoreInProgress(
                "A restore is currently in progress on this host; no new backup or restore "
                "can start until it ends."
            )

    class BackupAdmitted(Aggregate.Event):
        backup_id: UUID
        scope: Scope
        superseded: tuple[UUID, ...]

    @event(BackupAdmitted)
    def admit_backup(self, backup_id: UUID, scope: Scope, superseded: tuple[UUID, ...]) -> None:
        for old in superseded:
            if old in self.backups:
                self.stopping[old] = self.backups.pop(old)
        self.backups[backup_id] = scope
        self._count(scope, 1)

    def release_backup(self, backup_id: UUID) -> None:
        """The backup ended; records nothing when it no longer held a scope."""
        if backup_id in self.backups or backup_id in self.stopping:
            self._backup_released(backup_id=backup_id)

    class BackupReleased(Aggregate.Event):
        backup_id: UUID

    @event(BackupReleased)
    def _backup_released(self, backup_id: UUID) -> None:
        scope = self.backups.pop(backup_id, None)
        if scope is None:
            scope = self.stopping.pop(backup_id, None)
        if scope is not None:
            self._count(scope, -1)

    class RestoreAdmitted(Aggregate.Event):
        restore_id: UUID

    @event(RestoreAdmitted)
    def admit_restore(self, restore_id: UUID) -> None:
        self.restores.add(restore_id)

    def release_restore(self, restore_id: UUID) -> None:
        if restore_id in self.restores:
            self._restore_released(restore_id=restore_id)

    class RestoreReleased(Aggregate.Event):
        restore_id: UUID

    @event(RestoreReleased)
    def _restore_released(self, restore_id: UUID) -> None:
        self.restores.discard(restore_id)


class NameClaim(Aggregate):
    """Holds one backup name for the backup that uses it; released when that is purged."""

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return guard_id("backup-name", name)

    class Opened(Aggregate.Created):
        name: str

    @event(Opened)
    def __init__(self, name: str) -> None:
        self.name = name
        self.holder: UUID | None = None

    def claim(self, backup_id: UUID) -> None:
        if self.holder is not None and self.holder != backup_id:
            raise NameTaken(f"The 'name' parameter value must be unique: {self.name!r} is taken.")
        if self.holder is None:
            self._claimed(backup_id=backup_id)

    class Claimed(Aggregate.Event):
        backup_id: UUID

    @event(Claimed)
    def _claimed(self, backup_id: UUID) -> None:
        self.holder = backup_id

    def release(self, backup_id: UUID) -> None:
        if self.holder == backup_id:
            self._released(backup_id=backup_id)

    class Released(Aggregate.Event):
        backup_id: UUID

    @event(Released)
    def _released(self, backup_id: UUID) -> None:
        self.holder = None


class HostDirectory(Aggregate):
    """The ids of every registered host, saved with each registration: listing hosts needs
    no read model, and two registrations of one id cannot both land."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return guard_id("host-directory", "all")

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.host_ids: list[str] = []

    def add(self, host_id: str) -> None:
        if host_id not in self.host_ids:
            self._added(host_id=host_id)

    class Added(Aggregate.Event):
        host_id: str

    @event(Added)
    def _added(self, host_id: str) -> None:
        self.host_ids.append(host_id)
