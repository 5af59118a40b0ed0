"""The Backup aggregate: one run of a backup of one scope.

Beyond the shared job lifecycle (domain.job), a backup can be deleted (directly when it has
finished, through CANCELLING when it is running), purged once its artifacts are gone, and
marked MISSING / intact again by verification.
"""

from __future__ import annotations

import re
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.catalogue import BackupKind, BackupType
from domain.errors import IllegalMove
from domain.job import EndsJobEvent, Job
from domain.lifecycle import BackupStatus, Move
from domain.lineage import BaseChoice
from domain.model import Aggregate, Immutable
from domain.scope import Scope


class BackupSpec(Immutable):
    """What a client asks to back up and how. Validated by the API before it gets here."""

    scope: Scope
    group_entities: tuple[str, ...] = ()
    user_entities: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("json",)
    download_files: bool = False
    name: str | None = None
    description: str | None = None
    kind: BackupKind = BackupKind.CONFIG
    backup_type: BackupType = BackupType.FULL
    plan_id: int | None = None
    force: bool = False
    request_id: str | None = None
    """The id of the HTTP request that asked for it: the worker's log lines carry it."""


_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


class Backup(Job):
    job_kind: ClassVar[str] = "backup"

    class Requested(Aggregate.Created):
        spec: BackupSpec
        supersedes: tuple[UUID, ...]
        sw_version: str
        principal: str

    @event(Requested)
    def __init__(
        self,
        spec: BackupSpec,
        supersedes: tuple[UUID, ...],
        sw_version: str,
        principal: str,
    ) -> None:
        self._init_job_state(principal)
        self.spec = spec
        self.supersedes = supersedes
        self.sw_version = sw_version
        self.delete_requested = False
        self.purged = False
        self.size_on_disk = 0
        self.content_path: str | None = None
        self.missing_reason: str | None = None
        self.ran_as: BackupType | None = None
        self.base_backup_id: UUID | None = None
        self.base_reason = ""

    # ----------------------------------------------------------------- identity
    @property
    def scope(self) -> Scope:
        return self.spec.scope

    @property
    def name(self) -> str:
        """The client's name for it, or its reference id when it was not given one."""
        return backup_name(self.id, self.spec)

    @property
    def reference_id(self) -> str:
        return reference_id_for(self.id, self.scope)

    @property
    def is_valid(self) -> bool:
        """QRadar's is_valid: the artifacts are known to be whole."""
        return self.status == "SUCCESS"

    def _on_completed(self, size_on_disk: int, content_path: str | None) -> None:
        self.size_on_disk = size_on_disk
        self.content_path = content_path

    # ----------------------------------------------------------------- base (incremental)
    @property
    def base_chosen(self) -> bool:
        return self.ran_as is not None

    @property
    def effective_type(self) -> BackupType:
        """How the backup ran: full when it had no base (or predates base choices)."""
        return self.ran_as or BackupType.FULL

    def choose_base(self, worker_id: str, choice: BaseChoice, principal: str) -> None:
        """Record what the backup runs as and relative to which backup (domain.lineage);
        done once, by the worker holding it, when it resolves the scope."""
        self._check(Move.RESOLVE_SCOPE)
        self._require_holder(worker_id)
        if self.base_chosen:
            raise IllegalMove("this backup's base is already chosen")
        self._base_chosen(
            backup_type=choice.backup_type,
            base_backup_id=choice.base_backup_id,
            reason=choice.reason,
            principal=principal,
        )

    class BaseChosen(Aggregate.Event):
        """``backup_type`` is what the backup runs as (an incremental or differential with
        no usable base runs as full, and ``reason`` says why); ``base_backup_id`` the backup
        it stores changes relative to."""

        backup_type: BackupType
        base_backup_id: UUID | None
        reason: str
        principal: str

    @event(BaseChosen)
    def _base_chosen(
        self, backup_type: BackupType, base_backup_id: UUID | None, reason: str, principal: str
    ) -> None:
        self.ran_as = backup_type
        self.base_backup_id = base_backup_id
        self.base_reason = reason

    # ----------------------------------------------------------------- guard against purged
    def _check(self, move: Move) -> bool:
        if self.purged:
            raise IllegalMove("this backup was deleted; nothing more can happen to it")
        return super()._check(move)

    # ----------------------------------------------------------------- delete
    def delete(self, principal: str) -> bool:
        """Finished backups go to DELETING; running ones to CANCELLING, and to DELETING once
        the worker stops. Returns False when a delete was already under way."""
        if self.status == "DELETING" and not self.purged:
            return False
        if self.status == BackupStatus.CANCELLING and self.delete_requested:
            return False
        if self.allows(Move.DELETE):
            self._check(Move.DELETE)
        else:
            self._check(Move.DELETE_RUNNING)
        self._delete_requested(principal=principal)
        return True

    class DeleteRequested(Aggregate.Event):
        principal: str

    @event(DeleteRequested)
    def _delete_requested(self, principal: str) -> None:
        move = Move.DELETE if self.allows(Move.DELETE) else Move.DELETE_RUNNING
        self.status = self._target(move, self.status)
        self.delete_requested = True

    def acknowledge_cancel(self, principal: str) -> None:
        """The worker stopped. A delete that asked for the stop now proceeds to DELETING."""
        if self.delete_requested:
            self._check(Move.ACKNOWLEDGE_DELETE)
            self._delete_acknowledged(principal=principal)
        else:
            super().acknowledge_cancel(principal)

    class DeleteAcknowledged(EndsJobEvent):
        principal: str

    @event(DeleteAcknowledged)
    def _delete_acknowledged(self, principal: str) -> None:
        self.status = self._target(Move.ACKNOWLEDGE_DELETE, self.status)
        self.failure_reason = "cancelled"

    def purge(self, removed_blobs: int, principal: str) -> None:
        """The artifacts are gone: the backup leaves every view; its events stay."""
        self._check(Move.PURGE)
        self._purged(removed_blobs=removed_blobs, principal=principal)

    class Purged(Aggregate.Event):
        removed_blobs: int
        principal: str

    @event(Purged)
    def _purged(self, removed_blobs: int, principal: str) -> None:
        self.status = self._target(Move.PURGE, self.status)
        self.purged = True

    # ----------------------------------------------------------------- verification
    def mark_missing(self, reason: str, principal: str) -> None:
        self._check(Move.MARK_MISSING)
        self._marked_missing(reason=reason, principal=principal)

    class MarkedMissing(Aggregate.Event):
        reason: str
        principal: str

    @event(MarkedMissing)
    def _marked_missing(self, reason: str, principal: str) -> None:
        self.status = self._target(Move.MARK_MISSING, self.status)
        self.missing_reason = reason

    def mark_intact(self, principal: str) -> None:
        self._check(Move.MARK_INTACT)
        self._marked_intact(principal=principal)

    class MarkedIntact(Aggregate.Event):
        principal: str

    @event(MarkedIntact)
    def _marked_intact(self, principal: str) -> None:
        self.status = self._target(Move.MARK_INTACT, self.status)
        self.missing_reason = None


def reference_id_for(backup_id: UUID, scope: Scope) -> str:
    """URL-safe, unique, and recognisably made from tenant and group (seed 000's
    'config_apio_v200_foo_foogroup' shape), e.g. ``backup_foo_foogroup_3f9a1c2e5b7d``."""
    parts = [p for p in (scope.tenant_id, scope.group_id) if p] or [scope.host_id]
    stem = "_".join(_UNSAFE.sub("-", p) for p in parts)
    return f"backup_{stem}_{backup_id.hex[:12]}"


def backup_name(backup_id: UUID, spec: BackupSpec) -> str:
    """The client's name for a backup, or its reference id when it was not given one."""
    return spec.name or reference_id_for(backup_id, spec.scope)
