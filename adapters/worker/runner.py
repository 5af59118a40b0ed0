"""The worker: finds jobs in the event log and runs them.

One loop, woken every ``poll_interval`` or at once by :meth:`Worker.nudge`:

1. the tracker reads the log to its end;
2. backups this worker runs are told to stop when the log says they are CANCELLING (or that
   another worker has taken them over);
3. chores that need no claim: acknowledging CANCELLING backups nobody runs (cancelled while
   INITIALIZING, or whose worker died: its lease expired) and purging DELETING backups;
4. resuming IN_PROGRESS backups whose lease expired, and at once those held by this very
   worker id (a restarted ``rewind serve`` keeps its id, so its interrupted jobs go on
   without waiting for their lease);
5. claiming INITIALIZING backups and restores, oldest first, up to ``max_jobs`` running at
   once (a restore only once its safety backup is SUCCESS; it fails if that backup failed).

Steps 2 to 4 treat restores exactly as backups (restore_run.RestoreRun runs one).

Races between workers are settled by the event store: a claim or resume that loses raises a
domain error and is skipped; a forced backup whose predecessor has not stopped yet
(WaitingForPredecessor) is tried again on a later pass.

Stopping the worker (cancelling :meth:`Worker.run`) abandons its runs where they are: their
jobs stay IN_PROGRESS under this worker's lease, so a restart with the same id, or another
worker once the lease expires, resumes them. Nothing is rolled back because nothing needs to
be: each recorded entity is final, and a resumed job skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from adapters.artifacts import ArtifactStore
from adapters.artifacts.blobs import StoreStats
from adapters.pbx.client import PbxCallStats, PbxClient
from adapters.process_metrics import register_worker
from adapters.secrets import Sealer, open_credentials
from adapters.worker.backup_run import BackupRun
from adapters.worker.restore_run import WAITING, RestoreRun, safety_backup_problem
from adapters.worker.tracker import JobTracker, TrackedJob
from domain.application import RewindApplication
from domain.errors import DomainError
from domain.host import HostSettings
from domain.job import Job
from domain.lifecycle import BackupStatus

log = structlog.get_logger("rewind.worker")

TEMP_GRACE_S = 3600.0
"""A temporary file in the artifact store this old belongs to no live writer."""


@dataclass
class _Run:
    """A backup this worker runs, and the event that tells it to stop."""

    stop: asyncio.Event
    task: asyncio.Task[None]


class Worker:
    """Claims, runs, resumes, cancels and purges backups of one application, and claims,
    runs, resumes and cancels its restores (adapters.worker.restore_run) the same way."""

    def __init__(
        self,
        app: RewindApplication,
        artifacts: ArtifactStore,
        *,
        worker_id: str,
        lease_seconds: float = 30.0,
        max_jobs: int = 4,
        entity_concurrency: int = 16,
        poll_interval: float = 0.2,
        max_error_share: float = 0.5,
        pbx_timeout_s: float = 5.0,
        pbx_attempts: int = 3,
        purge_grace_seconds: float | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """``purge_grace_seconds`` (default: the lease) spares blobs a purge would remove
        when they were stored or reused that recently: a running backup may have just
        deduplicated against them and not written its manifest yet (see ArtifactStore.purge;
        ArtifactStore.collect_garbage removes them later)."""
        if max_jobs < 1 or entity_concurrency < 1 or lease_seconds <= 0 or poll_interval <= 0:
            raise ValueError("max_jobs, entity_concurrency >= 1; lease, poll_interval > 0")
        self.app = app
        self.artifacts = artifacts
        self.worker_id = worker_id
        self.principal = f"worker:{worker_id}"
        self.lease_seconds = lease_seconds
        self.max_jobs = max_jobs
        self.entity_concurrency = entity_concurrency
        self.poll_interval = poll_interval
        self.max_error_share = max_error_share
        self.pbx_timeout_s = pbx_timeout_s
        self.pbx_attempts = pbx_attempts
        self.purge_grace_seconds = (
            lease_seconds if purge_grace_seconds is None else purge_grace_seconds
        )
        self.tracker = JobTracker(app)
        self._runs: dict[UUID, _Run] = {}
        self._chores: dict[UUID, asyncio.Task[None]] = {}
        self._clients: dict[tuple[str, str | None], PbxClient] = {}
        self.sealer = sealer
        self._not_before: dict[UUID, float] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._passes = 0
        self._idle = False
        self.log = log.bind(worker_id=worker_id)
        register_worker(self)

    async def _remove_crash_leftovers(self) -> None:
        """Temporary files a killed writer left in the artifact store (a blob batch or a
        manifest cut off mid-write): invisible to readers, but they take space. Only those
        older than TEMP_GRACE_S go, so another process's write in progress is left alone."""
        try:
            removed = await asyncio.to_thread(self.artifacts.cleanup_temp, TEMP_GRACE_S)
        except OSError as error:
            self.log.warning("artifact store cleanup failed", error=str(error))
            return
        if removed:
            self.log.info("removed temporary files left by a crash", files=removed)

    # ----------------------------------------------------------------- public API
    async def run(self) -> None:
        """Work until cancelled; then abandon runs where they are and close PBX clients."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.log.info("worker started")
        await self._remove_crash_leftovers()
        try:
            while True:
                self._wake.clear()
                try:
                    await self._pass()
                except Exception:
                    # The event store may be briefly unreachable: try again next time.
                    self.log.exception("worker pass failed")
                    self._idle = False
                self._passes += 1
                # Not asyncio.wait_for: on 3.11 it can swallow a cancel that arrives just as
                # the wait ends (a nudge), and the worker would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()
        finally:
            await self._shutdown()

    def nudge(self) -> None:
        """Look at the log now rather than at the next poll (after a command was accepted).
        Safe to call from any thread, and before the worker runs (then it does nothing)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def wait_idle(self, timeout: float) -> None:
        """Wait (while :meth:`run` runs) until a whole pass that started after this call found
        nothing to do and nothing is running. TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        start = self._passes
        while not (self._passes >= start + 2 and self._idle):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"worker {self.worker_id} still busy after {timeout}s")
            self.nudge()
            await asyncio.sleep(min(0.02, self.poll_interval))

    async def run_until_idle(self, timeout: float) -> None:
        """Run until there is nothing left to do, then stop (tests, one-shot use)."""
        task = asyncio.create_task(self.run())
        try:
            while self._wake is None:
                await asyncio.sleep(0)
            await self.wait_idle(timeout)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def pbx_stats(self) -> PbxCallStats:
        """This worker's PBX call totals, over every PBX it talks to (for /metrics)."""
        totals = [client.stats for client in list(self._clients.values())]
        return PbxCallStats(
            successful_calls=sum(t.successful_calls for t in totals),
            error_calls=sum(t.error_calls for t in totals),
            retries=sum(t.retries for t in totals),
            not_found=sum(t.not_found for t in totals),
        )

    def artifact_stats(self) -> StoreStats:
        return self.artifacts.stats

    # ----------------------------------------------------------------- one pass
    async def _pass(self) -> None:
        await asyncio.to_thread(self.tracker.poll)
        jobs = self.tracker.jobs()  # backups and restores
        now = datetime.now(UTC)
        self._signal_runs()
        for job in jobs:
            if self._busy_with(job.job_id) or self._backing_off(job.job_id):
                continue
            if job.status == BackupStatus.CANCELLING and self._unattended(job, now):
                self._start_chore(job.job_id, self._acknowledge(job.job_id))
            elif job.status == "DELETING" and not job.purged and job.kind == "backup":
                self._start_chore(job.job_id, self._purge(job.job_id))
        for job in jobs:
            if len(self._runs) >= self.max_jobs:
                break
            if self._busy_with(job.job_id) or self._backing_off(job.job_id):
                continue
            if job.status == "IN_PROGRESS" and self._unattended(job, now):
                await self._take(job.job_id, resume=True)
        for job in jobs:
            if len(self._runs) >= self.max_jobs:
                break
            if job.status == "INITIALIZING" and not self._busy_with(job.job_id):
                if job.kind == "restore" and not await self._safety_ready(job.job_id):
                    continue
                await self._take(job.job_id, resume=False)
        self._idle = not (self._runs or self._chores) and not any(
            j.needs_a_worker for j in self.tracker.jobs()
        )

    def _busy_with(self, job_id: UUID) -> bool:
        return job_id in self._runs or job_id in self._chores

    def _backing_off(self, job_id: UUID) -> bool:
        """After a crashed run or purge, wait a lease before trying that job again."""
        not_before = self._not_before.get(job_id)
        if not_before is not None and time.monotonic() >= not_before:
            del self._not_before[job_id]
            return False
        return not_before is not None

    def _unattended(self, job: TrackedJob, now: datetime) -> bool:
        """No live worker runs it: none claimed it, it is ours (and not running here, or we
        would be busy with it), or its holder let the lease expire."""
        return job.worker_id in (None, self.worker_id) or job.lease_expired(now)

    def _signal_runs(self) -> None:
        """Stop runs the log says are cancelled, deleted, ended or taken over."""
        for job_id, run in self._runs.items():
            job = self.tracker.get(job_id)
            if job is None or job.status != "IN_PROGRESS" or job.worker_id != self.worker_id:
                run.stop.set()

    # ----------------------------------------------------------------- claims and runs
    async def _take(self, job_id: UUID, *, resume: bool) -> None:
        try:
            if resume:
                now = datetime.now(UTC)
                job: Job = await asyncio.to_thread(
                    self.app.resume, job_id, self.worker_id, self.lease_seconds, now
                )
            else:
                job = await asyncio.to_thread(
                    self.app.claim, job_id, self.worker_id, self.lease_seconds
                )
        except DomainError:
            # Another worker got it, its lease still holds, or (WaitingForPredecessor) a
            # backup it supersedes has not stopped yet: the log will tell, try again later.
            return
        self.tracker.observe(job)
        kind = job.job_kind
        self.log.info(f"{kind} resumed" if resume else f"{kind} claimed", **job_log_context(job))
        stop = asyncio.Event()
        runner = self._run_restore if kind == "restore" else self._run_backup
        # The run's task copies this context: its log lines carry the job and the id of the
        # HTTP request that asked for it.
        with structlog.contextvars.bound_contextvars(**job_log_context(job)):
            run = _Run(stop, asyncio.create_task(runner(job_id, stop)))
        self._runs[job_id] = run
        run.task.add_done_callback(lambda _: self._ended(job_id))

    def _ended(self, job_id: UUID) -> None:
        self._runs.pop(job_id, None)
        self.nudge()

    async def _run_backup(self, job_id: UUID, stop: asyncio.Event) -> None:
        try:
            handle = await asyncio.to_thread(self.app.hold, job_id, self.worker_id)
            run = BackupRun(
                handle,
                self._client,
                self.artifacts,
                stop=stop,
                entity_concurrency=self.entity_concurrency,
                max_error_share=self.max_error_share,
            )
            await run.execute()
            self.tracker.observe(handle.job)
        except Exception:
            # Left as it is: resumed here or elsewhere once the lease has expired.
            self.log.exception("backup run crashed", job_id=str(job_id))
            self._not_before[job_id] = time.monotonic() + self.lease_seconds

    async def _safety_ready(self, job_id: UUID) -> bool:
        """A restore is claimed only once its safety backup is SUCCESS; it fails when the
        safety backup ended otherwise (or is gone)."""
        try:
            reason = await asyncio.to_thread(safety_backup_problem, self.app, job_id)
        except DomainError:
            return False
        if reason is None:
            return True
        if reason != WAITING:
            with contextlib.suppress(DomainError):
                job = await asyncio.to_thread(self.app.fail, job_id, reason, self.principal)
                self.tracker.observe(job)
        return False

    async def _run_restore(self, job_id: UUID, stop: asyncio.Event) -> None:
        try:
            handle = await asyncio.to_thread(self.app.hold, job_id, self.worker_id)
            await RestoreRun(handle, self._client, self.artifacts, stop=stop).execute()
            self.tracker.observe(handle.job)
        except Exception:
            self.log.exception("restore run crashed", job_id=str(job_id))
            self._not_before[job_id] = time.monotonic() + self.lease_seconds

    def _client(self, host: HostSettings) -> PbxClient:
        """One client per PBX (and credentials), shared by the jobs of that host (its
        concurrency bounds what this worker asks of one PBX at once). Sealed credentials
        are opened here, in memory only, and go to the client's Authorization header."""
        key = (host.base_url, host.sealed_credentials)
        client = self._clients.get(key)
        if client is None:
            client = PbxClient(
                host.base_url,
                concurrency=self.entity_concurrency,
                timeout_s=self.pbx_timeout_s,
                attempts=self.pbx_attempts,
                credentials=open_credentials(self.sealer, host.sealed_credentials),
            )
            self._clients[key] = client
        return client

    # ----------------------------------------------------------------- chores
    def _start_chore(self, job_id: UUID, chore: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(chore)
        self._chores[job_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._chores.pop(job_id, None)
            self.nudge()

        task.add_done_callback(done)

    async def _acknowledge(self, job_id: UUID) -> None:
        """Acknowledge a cancel nobody else will: no claim is needed to say it stopped."""
        try:
            job = await asyncio.to_thread(self.app.acknowledge_cancel, job_id, self.principal)
        except DomainError:
            return  # acknowledged by its own worker meanwhile
        except Exception:
            self.log.exception("cancel acknowledgement failed", job_id=str(job_id))
            return
        self.tracker.observe(job)
        self.log.info("backup cancelled", job_id=str(job_id))

    async def _purge(self, job_id: UUID) -> None:
        """Remove a DELETING backup's manifest and the blobs only it used, then record it."""
        try:
            result = await asyncio.to_thread(
                self.artifacts.purge, str(job_id), grace_seconds=self.purge_grace_seconds
            )
            backup = await asyncio.to_thread(
                self.app.purge_backup, job_id, len(result.removed), self.principal
            )
        except DomainError:
            return  # purged by another worker meanwhile
        except Exception:
            self.log.exception("purge failed", job_id=str(job_id))
            self._not_before[job_id] = time.monotonic() + self.lease_seconds
            return
        self.tracker.observe(backup)
        self.log.info("backup purged", job_id=str(job_id), removed_blobs=len(result.removed))

    # ----------------------------------------------------------------- shutdown
    async def _shutdown(self) -> None:
        tasks = [run.task for run in self._runs.values()] + list(self._chores.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
        self._wake = None
        self._loop = None
        self.log.info("worker stopped")


def job_log_context(job: Job) -> dict[str, str]:
    """The job's id and, when an HTTP request asked for it, that request's id."""
    context = {"job_id": str(job.id)}
    request_id = getattr(getattr(job, "spec", None), "request_id", None)
    if request_id:
        context["request_id"] = request_id
    return context


__all__ = ["Worker"]
