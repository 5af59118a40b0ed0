"""Running one backup that this worker holds: list the scope, fetch every entity not yet
recorded with bounded concurrency, record each outcome, then write the manifest and complete.

How a run ends:

- every entity recorded: the manifest is written and the job completes (SUCCESS, has_errors
  when some call failed), or fails when more than ``max_error_share`` of its calls failed;
- the scope cannot be listed, or the artifact store fails: the job FAILS with the reason;
- the job is CANCELLING (the runner sets ``stop`` when the log says so, or a command is
  refused because of it): no new entity starts, in-flight ones are abandoned at once (their
  PBX calls too: an outcome fetched after the stop could not be recorded any more, and a slow
  PBX would hold the stop for as long as its calls take), nothing more is recorded, and the
  worker acknowledges the cancel;
- another worker took the job over (NotLeaseHolder), or it ended elsewhere: the run stops
  quietly and records nothing more;
- anything unexpected (a bug, the event store gone): the job is left as it is, so that this
  worker or another resumes it once the lease has expired, and the error is raised.

Every handle command runs in a thread: the event store is synchronous and must never block
the loop that drives the HTTP calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

import structlog

from adapters.artifacts import ArtifactError, ArtifactStore
from adapters.pbx.client import PbxClient
from adapters.pbx.gateways import gateway_for
from adapters.worker.base_content import NO_BASE, load_base, size_added
from adapters.worker.entities import (
    ArtifactStoreFailure,
    EntityFetcher,
    EntityResult,
    WorkItem,
)
from adapters.worker.manifest_builder import build_manifest
from adapters.worker.progress_batch import ProgressBatcher
from adapters.worker.scope_listing import ScopeLister, ScopeUnavailable, work_items
from domain.application import JobHandle
from domain.backup import Backup
from domain.errors import (
    DomainError,
    EntityAlreadyRecorded,
    IllegalMove,
    NotLeaseHolder,
    UnknownHost,
)
from domain.host import HostSettings
from domain.lifecycle import BackupStatus
from domain.progress import ProgressRecord

log = structlog.get_logger("rewind.worker")


class _Halt(Enum):
    CANCEL = "cancel"
    """The job is CANCELLING: acknowledge it."""
    FAIL = "fail"
    """The job cannot go on: fail it with ``_reason``."""
    LOST = "lost"
    """The job is no longer ours to change: stop quietly."""


class BackupRun:
    """One run of one backup by the worker that claimed or resumed it."""

    def __init__(
        self,
        handle: JobHandle,
        clients: Callable[[HostSettings], PbxClient],
        artifacts: ArtifactStore,
        *,
        stop: asyncio.Event,
        entity_concurrency: int,
        max_error_share: float,
    ) -> None:
        self.handle = handle
        self.clients = clients
        self.artifacts = artifacts
        self.stop = stop
        self.entity_concurrency = entity_concurrency
        self.max_error_share = max_error_share
        self._halt: _Halt | None = None
        self._reason = ""
        self._crash: BaseException | None = None
        self._base = NO_BASE
        self.log = log.bind(job_id=str(handle.job.id), worker_id=handle.worker_id)
        self._blobs = artifacts.batch()
        """Entity blobs of this run, made durable together before each progress save."""
        self._progress = ProgressBatcher(handle, before_save=self._commit_blobs)

    @property
    def backup(self) -> Backup:
        job = self.handle.job
        assert isinstance(job, Backup)
        return job

    @property
    def halted(self) -> bool:
        return self._halt is not None or self.stop.is_set()

    # ----------------------------------------------------------------- the run
    async def execute(self) -> None:
        """Run the backup to its end (or until it is no longer ours)."""
        status = self.backup.status
        if status == BackupStatus.CANCELLING:
            self._halt = _Halt.CANCEL
        elif status == "IN_PROGRESS":
            await self._work()
        else:
            return
        await self._conclude()
        if self._crash is not None:
            raise self._crash

    async def _work(self) -> None:
        client = await self._client()
        if client is None:
            return
        items = await self._resolve(client)
        if items is None or self.halted:
            return
        self._base = await asyncio.to_thread(load_base, self.artifacts, self.backup)
        done = self.backup.outcomes
        pending = [item for item in items if item.key not in done]
        self.log.info(
            "backup running",
            entities=len(items),
            pending=len(pending),
            type=self.backup.effective_type.value,
            base=self._base.backup_id,
        )
        fetcher = EntityFetcher(
            gateway_for(client), self.artifacts, self.backup.spec, self._base, self._blobs
        )
        try:
            await self._process(fetcher, pending)
        finally:
            # Blobs fetched but never recorded (a stop, a failure) are dropped, once no
            # batch can still save their digests (a cancelled run leaves them to cleanup).
            await self._progress.drain()
            self._blobs.discard()

    def _commit_blobs(self) -> None:
        """Before a batch of progress is saved: its blobs become durable (see BlobBatch)."""
        try:
            self._blobs.commit()
        except OSError as error:
            raise ArtifactStoreFailure(str(error)) from error

    async def _client(self) -> PbxClient | None:
        host_id = self.backup.scope.host_id
        try:
            host = await asyncio.to_thread(self.handle.app.get_host, host_id)
        except UnknownHost:
            self._fail(f"host {host_id} is not registered")
            return None
        return self.clients(host.settings)

    async def _resolve(self, client: PbxClient) -> list[WorkItem] | None:
        try:
            groups = await ScopeLister(gateway_for(client), self.backup.scope).groups()
        except ScopeUnavailable as error:
            self._fail(str(error))
            return None
        items = work_items(self.backup.spec, groups)
        # A resumed job keeps the total it recorded first (progress must not jump back).
        if self.backup.total is None and not await self._command(
            self.handle.resolve_scope, len(items)
        ):
            return None
        return items

    async def _process(self, fetcher: EntityFetcher, pending: list[WorkItem]) -> None:
        """Fetch and record ``pending`` with at most ``entity_concurrency`` at a time."""
        queue = iter(pending)

        async def lane() -> None:
            # Each lane has at most one outcome being saved while it fetches the next
            # entity: the save (a group commit shared with the other lanes) overlaps the
            # PBX's latency instead of adding to it (measured on large backups). A refused save
            # halts the run, which the lane sees before it takes another entity.
            saving: asyncio.Task[bool] | None = None
            item: WorkItem | None = None
            try:
                for item in queue:  # the lanes share one iterator: each item is taken once
                    if self.halted:
                        break
                    result = await fetcher.fetch(item)
                    if saving is not None:
                        await saving
                        saving = None
                    if self.halted:
                        break
                    saving = asyncio.create_task(self._record(item.key, result))
                if saving is not None:
                    await saving
            except ArtifactStoreFailure as error:
                self._fail(f"artifact store failure: {error}")
            except Exception as error:
                self.log.exception("entity failed unexpectedly", key=item.key if item else None)
                self._crash = error
                self._set_halt(_Halt.LOST)
            finally:
                if saving is not None and not saving.done():
                    saving.cancel()  # a stop: the batch still saves it; nobody awaits it

        width = min(self.entity_concurrency, len(pending))
        lanes = [asyncio.create_task(lane()) for _ in range(width)]
        if not lanes:
            return
        finished = asyncio.create_task(asyncio.wait(lanes))
        stopped = asyncio.create_task(self.stop.wait())
        try:
            # On a stop, the lanes still running are cancelled below, mid-call: waiting for
            # them would start their entities' next calls and record nothing of what they got.
            await asyncio.wait([finished, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            helpers = [*lanes, finished, stopped]
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _record(self, key: str, result: EntityResult) -> bool:
        record = ProgressRecord(
            key=key,
            outcome=result.outcome,
            digest=result.digest,
            message=result.message,
            successful_calls=result.successful_calls,
            error_calls=result.error_calls,
            unchanged=result.unchanged,
        )
        return await self._guarded(self._progress.record(record), "record_outcomes")

    # ----------------------------------------------------------------- endings
    async def _conclude(self) -> None:
        if self._halt is None and self.stop.is_set():
            job = await asyncio.to_thread(self.handle.refresh)
            self._halt = _Halt.CANCEL if job.status == BackupStatus.CANCELLING else _Halt.LOST
        if self._halt is None:
            await self._finish()
        if self._halt is _Halt.FAIL:
            self.log.info("backup failed", reason=self._reason)
            await self._command(self.handle.fail, self._reason)
        if self._halt is _Halt.CANCEL:
            await self._acknowledge()

    async def _finish(self) -> None:
        backup = self.backup
        calls = backup.successful_calls + backup.error_calls
        if calls and backup.error_calls / calls > self.max_error_share:
            self._fail(f"too many failed calls: {backup.error_calls} of {calls}")
            return
        try:
            size, path = await asyncio.to_thread(self._write_manifest, backup)
        except (OSError, ArtifactError, ValueError) as error:
            self._fail(f"artifact store failure: {error}")
            return
        if await self._command(self.handle.complete, size, path):
            self.log.info("backup completed", errors=backup.error_calls, calls=calls)
        elif self._halt is _Halt.CANCEL:
            # Cancelled while the manifest was written: a FAILED backup keeps no manifest
            # (it would pin its blobs for ever).
            with contextlib.suppress(OSError):
                await asyncio.to_thread(self.artifacts.delete_manifest, str(backup.id))

    def _write_manifest(self, backup: Backup) -> tuple[int, str]:
        manifest = build_manifest(backup, self.artifacts)
        self.artifacts.write_manifest(manifest)
        backup_id = str(backup.id)
        return size_added(self.artifacts, manifest, self._base), self.artifacts.location(backup_id)

    async def _acknowledge(self) -> None:
        try:
            await asyncio.to_thread(self.handle.acknowledge_cancel)
        except DomainError:
            return  # another worker acknowledged it first
        self.log.info("backup cancelled")

    # ----------------------------------------------------------------- commands
    def _set_halt(self, halt: _Halt) -> None:
        if self._halt is None or halt is _Halt.CANCEL:
            self._halt = halt
        self.stop.set()

    def _fail(self, reason: str) -> None:
        if self._halt is None:
            self._reason = reason
        self._set_halt(_Halt.FAIL)

    async def _command(self, command: Callable[..., Any], *args: Any) -> bool:
        """Run a handle command in a thread. False when the job refused it because it is no
        longer ours to change; the run then halts (to acknowledge a cancel, or quietly)."""
        return await self._guarded(asyncio.to_thread(command, *args), command.__name__)

    async def _guarded(self, step: Awaitable[Any], name: str) -> bool:
        """Await a step that changes the job; False (and halt) when the job refused it."""
        try:
            await step
            return True
        except EntityAlreadyRecorded:
            return True  # recorded before (a resumed job re-listing its scope): nothing to do
        except NotLeaseHolder:
            self._set_halt(_Halt.LOST)
        except IllegalMove:
            job = await asyncio.to_thread(self.handle.refresh)
            self._set_halt(_Halt.CANCEL if job.status == BackupStatus.CANCELLING else _Halt.LOST)
        except DomainError as error:
            self.log.warning("command refused", command=name, error=error.message)
            self._set_halt(_Halt.LOST)
        return False
