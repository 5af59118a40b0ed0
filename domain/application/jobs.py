"""Jobs (backups and restores once admitted): the ONE command surface a worker and the
API use to move a job through its lifecycle, and JobHandle, a worker's in-memory hold.

The per-entity outcomes (record_success / error / ignored / outcomes) and complete go
through JobHandle only: a worker holds the job while it runs it. Commands that come from
outside the running worker (claim, resume, fail, cancel, delete, purge, mark_*) load,
apply one aggregate method and save.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.application.backups import BackupCommands
from domain.application.base import MAX_ATTEMPTS
from domain.backup import Backup
from domain.errors import ConcurrentUpdate, DomainError, NotFound, WaitingForPredecessor
from domain.guards import NameClaim
from domain.job import Job
from domain.lifecycle import Move
from domain.model import Aggregate
from domain.progress import ProgressRecord
from domain.restore import Restore


class JobCommands(BackupCommands):
    """Claim, resume, fail, cancel, delete, purge and mark jobs; hold one (JobHandle)."""

    def hold(self, job_id: UUID, worker_id: str) -> JobHandle:
        """A worker's in-memory hold on a job it has claimed or resumed (see JobHandle)."""
        return JobHandle(self, job_id, worker_id)

    def _job_command(self, job_id: UUID, change: Callable[[Job], list[Aggregate] | None]) -> Job:
        """Load a job, apply ``change`` (which returns other aggregates it changed, such as
        guards), save them all together; retried on a lost race."""

        def command() -> Job:
            job = self.get_job(job_id)
            others = change(job) or []
            self.save(job, *others)
            return job

        return self._retrying(command)

    def release_guards(self, job: Job) -> list[Aggregate]:
        """Guards to update when ``job`` has just stopped running."""
        if job.is_active:
            return []
        if isinstance(job, Backup):
            activity = self._activity(job.scope.host_id)
            activity.release_backup(job.id)
            return [activity, *self._lineage_on_success(job)]
        if isinstance(job, Restore):
            activity = self._activity(job.target.host_id)
            activity.release_restore(job.id)
            return [activity]
        return []

    def _resolve(self, job: Job, worker_id: str, total: int) -> None:
        """Record the scope's size and, for a backup, its base: both in one save, so a
        resumed backup has either both or neither."""
        principal = f"worker:{worker_id}"
        job.resolve_scope(worker_id, total, principal=principal)
        if isinstance(job, Backup) and not job.base_chosen:
            job.choose_base(worker_id, self.backup_base(job), principal)

    def claim(self, job_id: UUID, worker_id: str, lease_seconds: float) -> Job:
        """A worker takes an INITIALIZING job. A forced backup waits until the backups it
        superseded have stopped, so two of one scope never run at once."""

        def change(job: Job) -> list[Aggregate]:
            if isinstance(job, Backup) and job.allows(Move.CLAIM):
                for old_id in job.supersedes:
                    if self.get_backup(old_id).is_active:
                        raise WaitingForPredecessor(
                            f"backup {job.id} waits for backup {old_id} to stop"
                        )
            job.claim(worker_id, lease_seconds, principal=f"worker:{worker_id}")
            return []

        return self._job_command(job_id, change)

    def resume(self, job_id: UUID, worker_id: str, lease_seconds: float, now: datetime) -> Job:
        return self._job_command(
            job_id,
            lambda job: job.resume(worker_id, lease_seconds, now, principal=f"worker:{worker_id}"),
        )

    def resolve_scope(self, job_id: UUID, worker_id: str, total: int) -> Job:
        return self._job_command(job_id, lambda job: self._resolve(job, worker_id, total))

    def fail(self, job_id: UUID, reason: str, principal: str) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.fail(reason, principal)
            return self.release_guards(job)

        return self._job_command(job_id, change)

    def cancel(self, job_id: UUID, principal: str) -> Job:
        """Ask the worker to stop (idempotent while a cancel is under way)."""

        def change(job: Job) -> None:
            job.cancel(principal)

        return self._job_command(job_id, change)

    def acknowledge_cancel(self, job_id: UUID, principal: str) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.acknowledge_cancel(principal)
            return self.release_guards(job)

        return self._job_command(job_id, change)

    def delete_backup(self, backup_id: UUID, principal: str) -> Backup:
        def change(job: Job) -> list[Aggregate]:
            if not isinstance(job, Backup):
                raise NotFound(f"backup {backup_id} not found")
            job.delete(principal)
            return []

        job = self._job_command(backup_id, change)
        assert isinstance(job, Backup)
        return job

    def purge_backup(self, backup_id: UUID, removed_blobs: int, principal: str) -> Backup:
        """The artifacts are gone: the backup leaves the views and frees its name."""

        def command() -> Backup:
            backup = self.get_backup(backup_id)
            backup.purge(removed_blobs, principal)
            claim = self._get_or_open(NameClaim, NameClaim.create_id(backup.name), name=backup.name)
            claim.release(backup.id)
            self.save(backup, claim)
            return backup

        return self._retrying(command)

    def mark_missing(self, backup_id: UUID, reason: str, principal: str) -> Backup:
        def command() -> Backup:
            backup = self.get_backup(backup_id)
            backup.mark_missing(reason, principal)
            self.save(backup)
            return backup

        return self._retrying(command)

    def mark_intact(self, backup_id: UUID, principal: str) -> Backup:
        def command() -> Backup:
            backup = self.get_backup(backup_id)
            backup.mark_intact(principal)
            self.save(backup)
            return backup

        return self._retrying(command)


class JobHandle:
    """A worker's hold on one job: the aggregate stays in memory between commands, so a job
    with thousands of entities is not reloaded from the store for each one.

    Each command applies the domain method to the held aggregate and saves only the new
    events. If the save loses a race (someone cancelled the job, or another worker resumed
    it), the held copy is discarded, reloaded and the command tried again, so the outcome is
    what the current stored state calls for (IllegalMove once cancelled, NotLeaseHolder once
    taken over). Commands on one handle are serialised by a lock: a worker runs entity
    fetches concurrently and records their outcomes from several threads.
    """

    def __init__(self, app: JobCommands, job_id: UUID, worker_id: str) -> None:
        self.app = app
        self.worker_id = worker_id
        self.principal = f"worker:{worker_id}"
        self.job = app.get_job(job_id)
        self._lock = threading.Lock()

    def refresh(self) -> Job:
        with self._lock:
            self.job = self.app.get_job(self.job.id)
            return self.job

    def _run(self, change: Callable[[Job], list[Aggregate] | None]) -> Job:
        with self._lock:
            for _ in range(MAX_ATTEMPTS):
                try:
                    others = change(self.job) or []
                    self.app.save(self.job, *others)
                    return self.job
                except IntegrityError:
                    self.job = self.app.get_job(self.job.id)
                except DomainError:
                    # Nothing was applied: the domain method raises before recording.
                    raise
            raise ConcurrentUpdate("the job kept changing under this worker")

    def resolve_scope(self, total: int) -> Job:
        return self._run(lambda job: self.app._resolve(job, self.worker_id, total))

    def record_success(
        self,
        key: str,
        digest: str,
        successful_calls: int,
        error_calls: int = 0,
        unchanged: bool = False,
    ) -> Job:
        return self._run(
            lambda job: job.record_success(
                self.worker_id,
                key,
                digest,
                successful_calls,
                error_calls,
                self.principal,
                unchanged=unchanged,
            )
        )

    def record_error(self, key: str, message: str, successful_calls: int, error_calls: int) -> Job:
        return self._run(
            lambda job: job.record_error(
                self.worker_id, key, message, successful_calls, error_calls, self.principal
            )
        )

    def record_ignored(self, key: str, reason: str) -> Job:
        return self._run(
            lambda job: job.record_ignored(self.worker_id, key, reason, self.principal)
        )

    def record_outcomes(self, records: Sequence[ProgressRecord]) -> Job:
        """Several entities' outcomes in ONE save (group commit): still one event per
        entity, each checked as record_success / error / ignored check it; outcomes already
        recorded are skipped (a resumed job). A refusal (lease lost, job cancelled) concerns
        the job, not one entity: it refuses the whole batch and the held copy is reloaded,
        so nothing half-applied stays in memory."""

        def change(job: Job) -> None:
            for record in records:
                if record.key not in job.outcomes:
                    record.apply(job, self.worker_id, self.principal)

        try:
            return self._run(change)
        except DomainError:
            self.refresh()
            raise

    def complete(self, size_on_disk: int = 0, content_path: str | None = None) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.complete(self.worker_id, size_on_disk, content_path, self.principal)
            return self.app.release_guards(job)

        return self._run(change)

    def fail(self, reason: str) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.fail(reason, self.principal)
            return self.app.release_guards(job)

        return self._run(change)

    def acknowledge_cancel(self) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.acknowledge_cancel(self.principal)
            return self.app.release_guards(job)

        return self._run(change)
