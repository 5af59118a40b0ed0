"""Job discovery: follow the event log and keep what a worker needs to know about each job.

The worker has no views to read (projections are another process's business, and may lag),
so it follows the global log itself, from position 0 at start-up. Two kinds of entries matter:

- lifecycle events (request, claim, resume, cancel, delete...): the job is reloaded from the
  event store, so its status is the aggregate's, never a guess made from event names.
  Reloads are batched: one per job per read of the log. Events that end a job (completed,
  failed, cancel acknowledged, purged) need no reload: the job simply leaves the table.
- progress events (one per entity): only their time and version are noted. Any event renews
  a job's lease (a lease runs from the job's last event), so this is all another worker needs
  to decide whether the lease has expired, and a job of 10,000 entities is never reloaded
  10,000 times.

Jobs that need nothing more from any worker (SUCCESS, FAILED, MISSING, purged) are dropped,
so the tracker's memory follows the number of live jobs, not the length of the log.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from adapters.event_log import read_log_heads
from domain.application import RewindApplication
from domain.backup import Backup
from domain.errors import NotFound
from domain.job import Job
from domain.lifecycle import ACTIVE_STATUSES, ENDING_EVENT_TYPES, PROGRESS_EVENT_TYPES

PROGRESS_TYPES = PROGRESS_EVENT_TYPES
"""Events that record progress and never change a job's status."""

ENDING_TYPES = ENDING_EVENT_TYPES
"""Events after which a job needs no worker (SUCCESS, FAILED, or purged for good)."""

JOB_TYPE_PREFIXES = ("Backup.", "Restore.", "Job.")
"""Event types of jobs (host, plan and guard events are not a worker's concern)."""

PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class TrackedJob:
    """What the tracker knows of one live job (a snapshot of the aggregate plus later
    progress times)."""

    job_id: UUID
    kind: str
    status: str
    version: int
    worker_id: str | None
    lease_seconds: float
    last_event_at: datetime
    delete_requested: bool = False
    purged: bool = False

    @classmethod
    def of(cls, job: Job) -> TrackedJob:
        backup = job if isinstance(job, Backup) else None
        return cls(
            job_id=job.id,
            kind=job.job_kind,
            status=job.status,
            version=job.version,
            worker_id=job.worker_id,
            lease_seconds=job.lease_seconds,
            last_event_at=job.modified_on,
            delete_requested=backup.delete_requested if backup else False,
            purged=backup.purged if backup else False,
        )

    @property
    def needs_a_worker(self) -> bool:
        """Whether some worker still has something to do with this job."""
        return self.status in ACTIVE_STATUSES or (self.status == "DELETING" and not self.purged)

    def lease_expired(self, now: datetime) -> bool:
        """The same rule as the aggregate's: the lease runs from the job's last event."""
        return now >= self.last_event_at + timedelta(seconds=self.lease_seconds)


class JobTracker:
    """Follows the log of one application. ``poll`` blocks (call it in a thread); the
    other methods are cheap and may be called from the event loop meanwhile (a lock keeps
    the table consistent, and versions keep it from going backwards)."""

    def __init__(self, app: RewindApplication, page_size: int = PAGE_SIZE) -> None:
        self.app = app
        self.page_size = page_size
        self.position = 0
        self._jobs: dict[UUID, TrackedJob] = {}
        self._lock = threading.Lock()

    def poll(self) -> bool:
        """Read the log to its end. Returns whether anything about a job changed.

        Reloads wait until the end of the read, so that a job is reloaded once however many
        of its lifecycle events went by (at start-up the whole history goes by). A job whose
        last event ended it (completed, failed, cancel acknowledged, purged) is not reloaded
        at all: the lifecycle table fixes its status, and no worker has anything to do with
        it unless a later event (a delete) says otherwise.
        """
        stale: dict[UUID, None] = {}
        changed = False
        while True:
            batch = read_log_heads(self.app, self.position, self.page_size)
            for entry in batch:
                self.position = entry.position
                if not entry.type.startswith(JOB_TYPE_PREFIXES):
                    continue
                job_id = entry.aggregate_id
                if entry.type in PROGRESS_TYPES:
                    # A job waiting for its reload gets its whole state then. Noting the
                    # progress now would raise the known version past the lifecycle event
                    # the reload is for, and the reload would be dropped as "not newer": a
                    # job claimed and then orphaned by a dead worker stayed INITIALIZING
                    # here, and no other worker ever resumed it.
                    if job_id not in stale:
                        self._note_progress(job_id, entry.version, entry.time)
                elif entry.type in ENDING_TYPES:
                    stale.pop(job_id, None)
                    self._forget(job_id, entry.version)
                else:
                    stale[job_id] = None
            changed = changed or bool(batch)
            if len(batch) < self.page_size:
                break
        for job_id in stale:
            self._reload(job_id)
        return changed

    def _forget(self, job_id: UUID, version: int) -> None:
        with self._lock:
            known = self._jobs.get(job_id)
            if known is not None and version > known.version:
                del self._jobs[job_id]

    def _note_progress(self, job_id: UUID, version: int, time: datetime) -> None:
        with self._lock:
            known = self._jobs.get(job_id)
            if known is not None and version > known.version:
                self._jobs[job_id] = _replace_time(known, version, time)

    def _reload(self, job_id: UUID) -> None:
        try:
            job = self.app.get_job(job_id)
        except NotFound:
            return
        self.observe(job)

    def observe(self, job: Job) -> None:
        """Take in a job's state the worker already holds (after its own commands), unless
        the tracker already knows a later version."""
        tracked = TrackedJob.of(job)
        with self._lock:
            known = self._jobs.get(job.id)
            if known is not None and known.version >= tracked.version:
                return
            if tracked.needs_a_worker:
                self._jobs[job.id] = tracked
            else:
                self._jobs.pop(job.id, None)

    def get(self, job_id: UUID) -> TrackedJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, kind: str | None = None) -> list[TrackedJob]:
        """Live jobs in the order they were requested (oldest first)."""
        with self._lock:
            return [j for j in self._jobs.values() if kind is None or j.kind == kind]


def _replace_time(job: TrackedJob, version: int, time: datetime) -> TrackedJob:
    return TrackedJob(
        job_id=job.job_id,
        kind=job.kind,
        status=job.status,
        version=version,
        worker_id=job.worker_id,
        lease_seconds=job.lease_seconds,
        last_event_at=time,
        delete_requested=job.delete_requested,
        purged=job.purged,
    )
