"""What backups and restores share: being claimed by a worker under a lease, recording one
outcome per entity, finishing, failing and being cancelled.

Every move is checked against the lifecycle table (domain.lifecycle) before anything is
recorded, so an illegal move raises IllegalMove and appends nothing. The status a move leads
to is read from the same table when the event is applied, so replaying the events of a job
always yields the status the table says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from eventsourcing.domain import event

from domain.errors import EntityAlreadyRecorded, IllegalMove, LeaseHeld, NotLeaseHolder
from domain.lifecycle import ACTIVE_STATUSES, IDEMPOTENT_REPEATS, Move, find_transition
from domain.model import Aggregate, Immutable

CANCELLED_REASON = "cancelled"


class EntityOutcome(Immutable):
    """The recorded result of one entity of a job."""

    outcome: Literal["success", "error", "ignored"]
    digest: str | None = None
    message: str | None = None
    successful_calls: int = 0
    error_calls: int = 0
    unchanged: bool = False
    """A backup's entity whose content equals its base's (incremental / differential)."""


class EndsJobEvent(Aggregate.Event):
    """Events after which the job has stopped running: they stamp ``ended_at`` with their
    own timestamp (the decorated method runs before the library sets ``modified_on``)."""

    def apply(self, aggregate: Any) -> None:
        aggregate.ended_at = self.timestamp
        super().apply(aggregate)


class Job(Aggregate):
    """Base of Backup and Restore. Subclasses set ``job_kind`` and define ``Requested``."""

    job_kind: ClassVar[str] = "job"

    # Attributes every job has; subclasses' __init__ (the Requested event) sets them.
    status: str
    principal: str
    worker_id: str | None
    lease_seconds: float
    total: int | None
    outcomes: dict[str, EntityOutcome]
    successful_calls: int
    error_calls: int
    failure_reason: str | None
    ended_at: datetime | None
    cancelled_by: str | None

    def _init_job_state(self, principal: str) -> None:
        self.status = self._target(Move.REQUEST, None)
        self.principal = principal
        self.worker_id = None
        self.lease_seconds = 0.0
        self.total = None
        self.outcomes = {}
        self.successful_calls = 0
        self.error_calls = 0
        self.failure_reason = None
        self.ended_at = None
        self.cancelled_by = None

    # ----------------------------------------------------------------- table checks
    def _target(self, move: Move, status: str | None) -> str:
        row = find_transition(self.job_kind, move, status)
        if row is None:
            raise IllegalMove(f"cannot {move.value} a {self.job_kind} that is {status}")
        return row.target

    def allows(self, move: Move) -> bool:
        """True when the lifecycle table has a row for ``move`` from the current status."""
        return find_transition(self.job_kind, move, self.status) is not None

    def _check(self, move: Move) -> bool:
        """Raise IllegalMove unless ``move`` is legal now. Returns False for an idempotent
        repeat (which must record nothing), True when the move should be recorded."""
        if (move, self.status) in IDEMPOTENT_REPEATS:
            return False
        self._target(move, self.status)
        return True

    # ----------------------------------------------------------------- derived facts
    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def has_errors(self) -> bool:
        return self.error_calls > 0

    @property
    def done(self) -> int:
        return len(self.outcomes)

    @property
    def started_at(self) -> datetime:
        return self.created_on

    def lease_expires_at(self) -> datetime:
        """Leases are renewed by every claim, resume and progress event."""
        return self.modified_on + timedelta(seconds=self.lease_seconds)

    def lease_expired(self, now: datetime) -> bool:
        return now >= self.lease_expires_at()

    def _require_holder(self, worker_id: str) -> None:
        if self.worker_id != worker_id:
            raise NotLeaseHolder(
                f"worker {worker_id} does not hold the lease on this {self.job_kind}"
                f" (held by {self.worker_id})"
            )

    # ----------------------------------------------------------------- claim / resume
    def claim(self, worker_id: str, lease_seconds: float, principal: str) -> None:
        """A worker takes an INITIALIZING job."""
        self._check(Move.CLAIM)
        self._claimed(worker_id=worker_id, lease_seconds=lease_seconds, principal=principal)

    class Claimed(Aggregate.Event):
        worker_id: str
        lease_seconds: float
        principal: str

    @event(Claimed)
    def _claimed(self, worker_id: str, lease_seconds: float, principal: str) -> None:
        self.status = self._target(Move.CLAIM, self.status)
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds

    def resume(self, worker_id: str, lease_seconds: float, now: datetime, principal: str) -> None:
        """Take over an IN_PROGRESS job whose lease expired, or re-take one's own job after
        a restart (same worker id) without waiting for the lease."""
        self._check(Move.RESUME)
        if worker_id != self.worker_id and not self.lease_expired(now):
            raise LeaseHeld(
                f"{self.job_kind} is held by worker {self.worker_id} until "
                f"{self.lease_expires_at().isoformat()}"
            )
        self._resumed(
            worker_id=worker_id,
            lease_seconds=lease_seconds,
            previous_worker_id=self.worker_id or "",
            principal=principal,
        )

    class Resumed(Aggregate.Event):
        worker_id: str
        lease_seconds: float
        previous_worker_id: str
        principal: str

    @event(Resumed)
    def _resumed(
        self, worker_id: str, lease_seconds: float, previous_worker_id: str, principal: str
    ) -> None:
        self.status = self._target(Move.RESUME, self.status)
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds

    # ----------------------------------------------------------------- progress
    def resolve_scope(self, worker_id: str, total: int, principal: str) -> None:
        """Record how many entities the job will process (for progress and ETA)."""
        self._check(Move.RESOLVE_SCOPE)
        self._require_holder(worker_id)
        self._scope_resolved(total=total, principal=principal)

    class ScopeResolved(Aggregate.Event):
        total: int
        principal: str

    @event(ScopeResolved)
    def _scope_resolved(self, total: int, principal: str) -> None:
        self.total = total

    def _check_progress(self, worker_id: str, key: str) -> None:
        self._check(Move.RECORD_PROGRESS)
        self._require_holder(worker_id)
        if key in self.outcomes:
            raise EntityAlreadyRecorded(f"{key} is already recorded for this {self.job_kind}")

    def record_success(
        self,
        worker_id: str,
        key: str,
        digest: str,
        successful_calls: int,
        error_calls: int,
        principal: str,
        unchanged: bool = False,
    ) -> None:
        self._check_progress(worker_id, key)
        self._entity_succeeded(
            key=key,
            digest=digest,
            successful_calls=successful_calls,
            error_calls=error_calls,
            principal=principal,
            unchanged=unchanged,
        )

    class EntitySucceeded(Aggregate.Event):
        """Version 2 split v1's single ``calls`` count into successful and error calls
        (an entity may succeed after some of its calls failed for good, e.g. one media file).
        Version 3 added ``unchanged``: the entity's content equals its base backup's (an
        incremental or differential backup; always false before v3)."""

        class_version: ClassVar[int] = 3
        key: str
        digest: str
        successful_calls: int
        error_calls: int
        principal: str
        unchanged: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["successful_calls"] = state.pop("calls")
            state["error_calls"] = 0

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["unchanged"] = False

    @event(EntitySucceeded)
    def _entity_succeeded(
        self,
        key: str,
        digest: str,
        successful_calls: int,
        error_calls: int,
        principal: str,
        unchanged: bool,
    ) -> None:
        self.outcomes[key] = EntityOutcome(
            outcome="success",
            digest=digest,
            successful_calls=successful_calls,
            error_calls=error_calls,
            unchanged=unchanged,
        )
        self.successful_calls += successful_calls
        self.error_calls += error_calls

    def record_error(
        self,
        worker_id: str,
        key: str,
        message: str,
        successful_calls: int,
        error_calls: int,
        principal: str,
    ) -> None:
        self._check_progress(worker_id, key)
        self._entity_failed(
            key=key,
            message=message,
            successful_calls=successful_calls,
            error_calls=error_calls,
            principal=principal,
        )

    class EntityFailed(Aggregate.Event):
        key: str
        message: str
        successful_calls: int
        error_calls: int
        principal: str

    @event(EntityFailed)
    def _entity_failed(
        self, key: str, message: str, successful_calls: int, error_calls: int, principal: str
    ) -> None:
        self.outcomes[key] = EntityOutcome(
            outcome="error",
            message=message,
            successful_calls=successful_calls,
            error_calls=error_calls,
        )
        self.successful_calls += successful_calls
        self.error_calls += error_calls

    def record_ignored(self, worker_id: str, key: str, reason: str, principal: str) -> None:
        self._check_progress(worker_id, key)
        self._entity_ignored(key=key, reason=reason, principal=principal)

    class EntityIgnored(Aggregate.Event):
        key: str
        reason: str
        principal: str

    @event(EntityIgnored)
    def _entity_ignored(self, key: str, reason: str, principal: str) -> None:
        self.outcomes[key] = EntityOutcome(outcome="ignored", message=reason)

    # ----------------------------------------------------------------- endings
    def complete(
        self, worker_id: str, size_on_disk: int, content_path: str | None, principal: str
    ) -> None:
        self._check(Move.COMPLETE)
        self._require_holder(worker_id)
        self._completed(size_on_disk=size_on_disk, content_path=content_path, principal=principal)

    class Completed(EndsJobEvent):
        size_on_disk: int
        content_path: str | None
        principal: str

    @event(Completed)
    def _completed(self, size_on_disk: int, content_path: str | None, principal: str) -> None:
        self.status = self._target(Move.COMPLETE, self.status)
        self._on_completed(size_on_disk, content_path)

    def _on_completed(self, size_on_disk: int, content_path: str | None) -> None:
        """Subclasses keep what completion tells them."""

    def fail(self, reason: str, principal: str) -> None:
        self._check(Move.FAIL)
        self._failed(reason=reason, principal=principal)

    class Failed(EndsJobEvent):
        reason: str
        principal: str

    @event(Failed)
    def _failed(self, reason: str, principal: str) -> None:
        self.status = self._target(Move.FAIL, self.status)
        self.failure_reason = reason

    def cancel(self, principal: str) -> bool:
        """Ask the worker to stop. Returns False when a cancel was already under way."""
        if not self._check(Move.CANCEL):
            return False
        self._cancel_requested(principal=principal)
        return True

    class CancelRequested(Aggregate.Event):
        principal: str

    @event(CancelRequested)
    def _cancel_requested(self, principal: str) -> None:
        self.status = self._target(Move.CANCEL, self.status)
        self.cancelled_by = principal

    def acknowledge_cancel(self, principal: str) -> None:
        """The worker stopped: the job ends FAILED with reason 'cancelled'."""
        self._check(Move.ACKNOWLEDGE_CANCEL)
        self._cancel_acknowledged(principal=principal)

    class CancelAcknowledged(EndsJobEvent):
        principal: str

    @event(CancelAcknowledged)
    def _cancel_acknowledged(self, principal: str) -> None:
        self.status = self._target(Move.ACKNOWLEDGE_CANCEL, self.status)
        self.failure_reason = CANCELLED_REASON
