"""Running one restore: put a SUCCESS backup's content back into a target host.

What a restore writes (the README's "Restores" section says the same):

- It reads the backup's manifest and documents from the artifact store, and for each entity
  of the backup (restricted by the restore's ``group_entities`` / ``user_entities`` /
  ``users``) GETs the target's current document. Identical: nothing is written. Absent: it is
  PUT (a missing user is first created with ``POST .../users/ {"id": uid}``). Different: PUT
  with ``existing="update"``, left as it is with ``existing="skip"``.
- Media files the restored documents reference (announcements; recordings of a DATA backup)
  are compared by sha256 with the target's file (streamed and hashed) and uploaded from the
  artifact store when absent or different (``skip``: only absent ones). Files the backup did
  not download cannot be restored and are left alone.
- A *whole-group* restore (no entity or user lists, ``existing="update"``) makes the target
  equal the backup: entities the backup found absent (recorded as ignored) that the target
  has are DELETEd, and so are users the target has that the backup did not list (only when
  the backup covered user entities). Restricted or ``skip`` restores never delete. Media
  files nothing references are kept.
- What the backup could not read (an entity whose read failed, a file whose download
  failed) is unknown, not absent: it is never created, changed or deleted, and is recorded
  as ignored with the reason (the restore's ``skipped``). A user the backup listed is never
  deleted, even when none of its entities could be read.
- One progress event per entity: success with the backup's digest (a deletion records the
  digest of JSON ``null``, a deleted user the key ``t/g/user/{uid}``), ignored for a skipped
  one, or error with the message and the calls made (every failed call, a write answered
  404 included, counts in ``error_calls``). A cancel is honoured between entities. The
  restore completes SUCCESS (``has_errors`` when a call failed); it FAILS when the backup's
  content is gone or the target's scope cannot be listed.

What to do, step by step, is worked out in adapters.worker.restore_plan, shared with the API's
dry run, so a dry run reports exactly what a run would look at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

import structlog

from adapters.artifacts import ArtifactError, ArtifactStore, sha256_hex
from adapters.pbx.client import PbxCallFailed, PbxClient, PbxNotFound, PbxRejected
from adapters.pbx.gateways import gateway_for
from adapters.renderers import render_json
from adapters.restore_diff import same
from adapters.worker.backup_content import (
    BackupContent,
    ContentUnavailable,
    load_backup_content,
)
from adapters.worker.entities import RECORDINGS
from adapters.worker.restore_plan import (
    Calls,
    RestorePlan,
    Step,
    TargetReader,
    referenced_files,
    restore_steps,
)
from domain.application import JobHandle, RewindApplication
from domain.errors import (
    DomainError,
    EntityAlreadyRecorded,
    IllegalMove,
    NotFound,
    NotLeaseHolder,
)
from domain.host import HostSettings
from domain.lifecycle import BackupStatus
from domain.restore import Restore

log = structlog.get_logger("rewind.worker")

DELETED_DIGEST = sha256_hex(b"null")
"""The digest recorded for an entity (or user) a whole-group restore deleted."""


# ----------------------------------------------------------------------------- safety backup
WAITING = "waiting"


def safety_backup_problem(app: RewindApplication, restore_id: UUID) -> str | None:
    """None when the restore may start (no safety backup, or it is SUCCESS); WAITING while
    its safety backup runs; otherwise the reason to fail the restore (blocking)."""
    restore = app.get_restore(restore_id)
    safety_id = restore.spec.safety_backup_id
    if safety_id is None:
        return None
    try:
        safety = app.get_backup(safety_id)
    except NotFound:
        return f"safety backup {safety_id} not found"
    if safety.status == "SUCCESS":
        return None
    if safety.is_active:
        return WAITING
    why = f": {safety.failure_reason}" if safety.failure_reason else ""
    return f"safety backup {safety_id} is {safety.status}{why}"


# ----------------------------------------------------------------------------- the run
class _Stop(Exception):
    """The run cannot record any more (cancelled, taken over, or failed)."""


class RestoreRun:
    """One run of one restore by the worker that claimed or resumed it."""

    def __init__(
        self,
        handle: JobHandle,
        clients: Callable[[HostSettings], PbxClient],
        artifacts: ArtifactStore,
        *,
        stop: asyncio.Event,
    ) -> None:
        self.handle = handle
        self.clients = clients
        self.artifacts = artifacts
        self.stop = stop
        self._ending: Literal["cancel", "lost"] | None = None
        self.log = log.bind(job_id=str(handle.job.id), worker_id=handle.worker_id)

    @property
    def restore(self) -> Restore:
        job = self.handle.job
        assert isinstance(job, Restore)
        return job

    async def execute(self) -> None:
        status = self.restore.status
        if status == BackupStatus.CANCELLING:
            await self._acknowledge()
            return
        if status != "IN_PROGRESS":
            return
        try:
            reason = await self._work()
            if reason is not None:
                await self._command(self.handle.fail, reason)
                self.log.info("restore failed", reason=reason)
            else:
                await self._command(self.handle.complete, 0, None)
                self.log.info("restore completed", errors=self.restore.error_calls)
        except _Stop:
            pass
        if self._ending is None and self.stop.is_set():
            job = await asyncio.to_thread(self.handle.refresh)
            self._ending = "cancel" if job.status == BackupStatus.CANCELLING else "lost"
        if self._ending == "cancel":
            await self._acknowledge()

    async def _work(self) -> str | None:
        """Run every step; a failure reason, or None when every step was recorded."""
        spec = self.restore.spec
        try:
            backup = await asyncio.to_thread(self.handle.app.get_backup, spec.backup_id)
            content = await asyncio.to_thread(load_backup_content, self.artifacts, backup)
        except (DomainError, ContentUnavailable) as error:
            return f"backup content unavailable: {error}"
        try:
            host = await asyncio.to_thread(self.handle.app.get_host, spec.target.host_id)
        except DomainError as error:
            return str(error)
        reader = TargetReader(gateway_for(self.clients(host.settings)))
        try:
            plan = await restore_steps(reader, content, spec)
        except (PbxCallFailed, PbxRejected, PbxNotFound) as error:
            return f"target scope unavailable: {error}"
        if self.restore.total is None:
            await self._command(self.handle.resolve_scope, len(plan.steps))
        done = self.restore.outcomes
        for step in plan.steps:
            if self.stop.is_set():
                raise _Stop
            if step.key in done:
                continue
            if step.kind == "skip":
                await self._command(self.handle.record_ignored, step.key, step.reason)
                continue
            calls = Calls()
            try:
                digest = await self._step(reader, content, plan, step, calls)
            except (PbxCallFailed, PbxRejected, PbxNotFound) as error:
                await self._command(
                    self.handle.record_error, step.key, str(error), calls.ok, calls.errors
                )
                continue
            except ContentUnavailable as error:
                return f"backup content unavailable: {error}"
            await self._command(self.handle.record_success, step.key, digest, calls.ok, 0)
        return None

    async def _step(
        self,
        reader: TargetReader,
        content: BackupContent,
        plan: RestorePlan,
        step: Step,
        calls: Calls,
    ) -> str:
        """Carry out one step; the digest to record."""
        users = plan.target_users[(step.tenant, step.group)]
        if step.kind == "remove_user":
            assert step.user is not None
            await reader.delete_user(step.tenant, step.group, step.user, calls)
            users.discard(step.user)
            return DELETED_DIGEST
        if step.kind == "remove_entity":
            if await reader.document(step.key, calls) is not None:
                await reader.delete(step.key, calls)
            return DELETED_DIGEST
        document = content.documents[step.key]
        existing = self.restore.spec.existing
        created = False
        if step.key.endswith(f"/group/{RECORDINGS}"):
            created = existing == "update"  # no document to PUT: only its files
        else:
            if step.user is not None and step.user not in users:
                await reader.create_user(step.tenant, step.group, step.user, calls)
                users.add(step.user)
                current = None
            else:
                current = await reader.document(step.key, calls)
            if current is None or (existing == "update" and not same(current, document)):
                await reader.put(step.key, document, calls)
            created = current is None or existing == "update"
        for _, file_id, digest in referenced_files(content, step.key):
            now = await reader.media_digest(step.tenant, step.group, file_id, calls)
            if now is None or (created and now != digest):
                try:
                    await reader.upload(
                        self.artifacts, step.tenant, step.group, file_id, digest, calls
                    )
                except (OSError, ArtifactError) as error:
                    raise ContentUnavailable(str(error)) from error
        return sha256_hex(render_json(document))

    async def _acknowledge(self) -> None:
        try:
            await asyncio.to_thread(self.handle.acknowledge_cancel)
        except DomainError:
            return
        self.log.info("restore cancelled")

    async def _command(self, command: Callable[..., Any], *args: Any) -> None:
        """Run a handle command in a thread; _Stop when the job is no longer ours."""
        try:
            await asyncio.to_thread(command, *args)
            return
        except EntityAlreadyRecorded:
            return
        except NotLeaseHolder:
            self._ending = "lost"
        except IllegalMove:
            job = await asyncio.to_thread(self.handle.refresh)
            self._ending = "cancel" if job.status == BackupStatus.CANCELLING else "lost"
        except DomainError as error:
            self.log.warning("command refused", command=command.__name__, error=error.message)
            self._ending = "lost"
        self.stop.set()
        raise _Stop


__all__ = ["DELETED_DIGEST", "WAITING", "RestoreRun", "safety_backup_problem"]
