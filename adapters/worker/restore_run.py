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
  equal the backup: entities of the kinds the backup covered that the target has and the
  backup lacks are DELETEd, and users the target has and the backup lacks are DELETEd.
  Restricted or ``skip`` restores never delete. Media files nothing references are kept.
- One progress event per entity: success with the backup's digest (a deletion records the
  digest of JSON ``null``, a deleted user the key ``t/g/user/{uid}``), or error with the
  message and the calls made. A cancel is honoured between entities. The restore completes
  SUCCESS (``has_errors`` when a call failed); it FAILS when the backup's content is gone or
  the target's scope cannot be listed.

The helpers that read the target (``TargetReader``, ``restore_steps``, ``dry_run``) are shared
with the API's dry run, so a dry run reports exactly what a run would look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import structlog

from adapters.artifacts import ArtifactError, ArtifactStore, sha256_hex
from adapters.pbx_client import PbxCallFailed, PbxClient, PbxNotFound, PbxRejected
from adapters.renderers import parse_json, render_json
from adapters.restore_diff import StateDiff, diff_states, same
from adapters.worker.entities import (
    RECORDINGS,
    WorkItem,
    group_path,
    media_key,
    media_path,
    media_refs,
)
from domain.application import JobHandle, RewindApplication
from domain.backup import Backup
from domain.catalogue import MEDIA_ENTITIES, BackupKind, entity_key, parse_entity_key
from domain.errors import (
    DomainError,
    EntityAlreadyRecorded,
    IllegalMove,
    NotFound,
    NotLeaseHolder,
)
from domain.host import HostSettings
from domain.restore import Restore, RestoreSpec

log = structlog.get_logger("rewind.worker")

DELETED_DIGEST = sha256_hex(b"null")
"""The digest recorded for an entity (or user) a whole-group restore deleted."""


class ContentUnavailable(Exception):
    """The backup's manifest or one of its blobs cannot be read."""


# ----------------------------------------------------------------------------- backup side
@dataclass(frozen=True)
class BackupContent:
    """A SUCCESS backup's content, read from the artifact store."""

    documents: dict[str, Any]
    """Entity key -> document."""
    files: dict[str, str]
    """Media key (``t/g/media/{file_id}``) -> digest, for the files the backup holds."""
    group_kinds: tuple[str, ...]
    user_kinds: tuple[str, ...]
    """The entity kinds the backup covered (what a whole-group restore may delete)."""
    groups: tuple[tuple[str, str], ...]


def load_backup_content(artifacts: ArtifactStore, backup: Backup) -> BackupContent:
    """Read a backup's manifest and documents (blocking: call it in a thread)."""
    try:
        manifest = artifacts.read_manifest(str(backup.id))
        if manifest is None:
            raise ContentUnavailable(f"backup {backup.id} has no manifest")
        documents = {
            key: parse_json(artifacts.read_bytes(digest))
            for key, digest in sorted(manifest.entities.items())
        }
    except (OSError, ArtifactError, ValueError) as error:
        raise ContentUnavailable(f"backup {backup.id}: {error}") from error
    files = {k: d for k, d in manifest.files.items() if k.split("/")[2:3] == ["media"]}
    spec = backup.spec
    group_kinds = tuple(spec.group_entities)
    if spec.kind == BackupKind.DATA:
        group_kinds = (*group_kinds, RECORDINGS)
    scope = backup.scope
    if scope.tenant_id is not None and scope.group_id is not None:
        groups: tuple[tuple[str, str], ...] = ((scope.tenant_id, scope.group_id),)
    else:
        found = {parse_entity_key(key)[:2] for key in documents}
        groups = tuple(sorted(found))
    return BackupContent(documents, files, group_kinds, tuple(spec.user_entities), groups)


def selected(spec: RestoreSpec, key: str) -> bool:
    """Whether the restore's entity and user lists take in this entity key."""
    _, _, user, entity = parse_entity_key(key)
    if user is None:
        return spec.group_entities is None or entity in spec.group_entities
    if spec.users is not None and user not in spec.users:
        return False
    return spec.user_entities is None or entity in spec.user_entities


def whole_group(spec: RestoreSpec) -> bool:
    """A restore that makes the target equal the backup (and so may delete)."""
    return (
        spec.existing == "update"
        and spec.group_entities is None
        and spec.user_entities is None
        and spec.users is None
    )


# ----------------------------------------------------------------------------- target side
def entity_path(key: str) -> str:
    tenant, group, user, entity = parse_entity_key(key)
    return WorkItem(tenant, group, entity, user).path


def user_key(tenant: str, group: str, user: str) -> str:
    """The progress key of a whole user a restore deleted."""
    return f"{tenant}/{group}/user/{user}"


@dataclass
class Calls:
    ok: int = 0
    errors: int = 0


class TargetReader:
    """Reads (and writes) the target PBX, counting each call in a ``Calls``."""

    def __init__(self, client: PbxClient) -> None:
        self.client = client

    async def _counted(self, calls: Calls, call: Any) -> Any:
        try:
            value = await call
        except PbxNotFound:
            calls.ok += 1
            raise
        except (PbxCallFailed, PbxRejected):
            calls.errors += 1
            raise
        calls.ok += 1
        return value

    async def document(self, key: str, calls: Calls) -> Any | None:
        """The target's document for ``key``; None when it has none (404)."""
        try:
            return await self._counted(calls, self.client.get_json(entity_path(key)))
        except PbxNotFound:
            return None

    async def users(self, tenant: str, group: str) -> list[str]:
        items = await self.client.list_all(f"{group_path(tenant, group)}/users/")
        return [str(item["id"]) for item in items if item.get("id") is not None]

    async def media_digest(self, tenant: str, group: str, file_id: str, calls: Calls) -> str | None:
        """The sha256 of the target's file (streamed and hashed), None when it has none."""
        hasher = hashlib.sha256()
        try:
            async with contextlib.aclosing(
                self.client.stream(media_path(tenant, group, file_id))
            ) as chunks:
                async for chunk in chunks:
                    hasher.update(chunk)
        except PbxNotFound:
            calls.ok += 1
            return None
        except (PbxCallFailed, PbxRejected):
            calls.errors += 1
            raise
        calls.ok += 1
        return hasher.hexdigest()

    async def put(self, key: str, document: Any, calls: Calls) -> None:
        await self._counted(calls, self.client.put_json(entity_path(key), document))

    async def delete(self, path: str, calls: Calls) -> None:
        with contextlib.suppress(PbxNotFound):  # gone already: what was asked for
            await self._counted(calls, self.client.delete(path))

    async def create_user(self, tenant: str, group: str, user: str, calls: Calls) -> None:
        path = f"{group_path(tenant, group)}/users/"
        await self._counted(calls, self.client.post_json(path, {"id": user}, retry=False))

    async def upload(
        self, artifacts: ArtifactStore, tenant: str, group: str, file_id: str, digest: str, c: Calls
    ) -> None:
        """Upload a media file from the artifact store, re-hashed first: a damaged blob
        raises ContentUnavailable before a byte reaches the target (inside the upload's body
        the error would only reach us as a dropped connection, after every retry)."""
        check = await asyncio.to_thread(artifacts.verify, digest)
        if not check.ok:
            reason = (check.reason or "").removeprefix(f"blob {digest}: ")
            raise ContentUnavailable(f"blob {digest} is {check.status} ({reason})")
        path = media_path(tenant, group, file_id)
        await self._counted(
            c, self.client.upload(path, lambda: artifacts.aiter_chunks(digest), None)
        )


# ----------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Step:
    """One recorded unit of a restore."""

    kind: Literal["entity", "remove_entity", "remove_user"]
    key: str
    tenant: str
    group: str
    user: str | None = None


@dataclass
class Plan:
    steps: list[Step]
    target_users: dict[tuple[str, str], set[str]] = field(default_factory=dict)


async def restore_steps(reader: TargetReader, content: BackupContent, spec: RestoreSpec) -> Plan:
    """The steps of a restore, group by group: the backup's selected entities (group ones,
    then users'), then (whole-group restores) removal candidates. Lists the target's users;
    PbxError when it cannot."""
    plan = Plan([])
    delete = whole_group(spec)
    for tenant, group in content.groups:
        users = set(await reader.users(tenant, group))
        plan.target_users[(tenant, group)] = users
        prefix = f"{tenant}/{group}/"
        keys = [k for k in content.documents if k.startswith(prefix) and selected(spec, k)]
        group_keys = sorted(k for k in keys if parse_entity_key(k)[2] is None)
        user_keys = sorted(k for k in keys if parse_entity_key(k)[2] is not None)
        for key in (*group_keys, *user_keys):
            plan.steps.append(Step("entity", key, tenant, group, parse_entity_key(key)[2]))
        if not delete:
            continue
        backup_users = {
            user
            for key in content.documents
            if key.startswith(prefix) and (user := parse_entity_key(key)[2]) is not None
        }
        candidates = [entity_key(tenant, group, e) for e in content.group_kinds]
        for user in sorted(users & backup_users):
            candidates += [entity_key(tenant, group, e, user) for e in content.user_kinds]
        for key in candidates:
            if key not in content.documents and parse_entity_key(key)[3] != RECORDINGS:
                plan.steps.append(Step("remove_entity", key, tenant, group))
        for user in sorted(users - backup_users):
            plan.steps.append(
                Step("remove_user", user_key(tenant, group, user), tenant, group, user)
            )
    return plan


def referenced_files(content: BackupContent, key: str) -> list[tuple[str, str, str]]:
    """(media key, file id, digest) of the files the backup holds for an entity's document."""
    tenant, group, _, entity = parse_entity_key(key)
    if entity not in MEDIA_ENTITIES and entity != RECORDINGS:
        return []
    found = []
    for file_id, _ in media_refs(content.documents[key]):
        mkey = media_key(tenant, group, file_id)
        if mkey in content.files:
            found.append((mkey, file_id, content.files[mkey]))
    return found


# ----------------------------------------------------------------------------- dry run
async def dry_run(reader: TargetReader, content: BackupContent, spec: RestoreSpec) -> StateDiff:
    """What differs between the backup (old) and the target now (new), over what the restore
    would look at; writes nothing."""
    plan = await restore_steps(reader, content, spec)
    calls = Calls()
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    old_media: dict[str, str] = {}
    new_media: dict[str, str] = {}
    for step in plan.steps:
        if step.kind == "entity":
            old[step.key] = content.documents[step.key]
            if step.key.endswith(f"/group/{RECORDINGS}"):
                new[step.key] = old[step.key]  # recordings are compared by their files
            elif step.user is None or step.user in plan.target_users[(step.tenant, step.group)]:
                current = await reader.document(step.key, calls)
                if current is not None:
                    new[step.key] = current
            for mkey, file_id, digest in referenced_files(content, step.key):
                old_media[mkey] = digest
                now = await reader.media_digest(step.tenant, step.group, file_id, calls)
                if now is not None:
                    new_media[mkey] = now
        elif step.kind == "remove_entity":
            current = await reader.document(step.key, calls)
            if current is not None:
                new[step.key] = current
        else:
            assert step.user is not None
            for entity in content.user_kinds:
                key = entity_key(step.tenant, step.group, entity, step.user)
                current = await reader.document(key, calls)
                if current is not None:
                    new[key] = current
    return diff_states(old, new, old_media, new_media)


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
        if status == "CANCELLING":
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
            self._ending = "cancel" if job.status == "CANCELLING" else "lost"
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
        reader = TargetReader(self.clients(host.settings))
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
        self, reader: TargetReader, content: BackupContent, plan: Plan, step: Step, calls: Calls
    ) -> str:
        """Carry out one step; the digest to record."""
        users = plan.target_users[(step.tenant, step.group)]
        if step.kind == "remove_user":
            assert step.user is not None
            await reader.delete(f"{group_path(step.tenant, step.group)}/users/{step.user}", calls)
            users.discard(step.user)
            return DELETED_DIGEST
        if step.kind == "remove_entity":
            if await reader.document(step.key, calls) is not None:
                await reader.delete(entity_path(step.key), calls)
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
            self._ending = "cancel" if job.status == "CANCELLING" else "lost"
        except DomainError as error:
            self.log.warning("command refused", command=command.__name__, error=error.message)
            self._ending = "lost"
        self.stop.set()
        raise _Stop


__all__ = [
    "BackupContent",
    "ContentUnavailable",
    "RestoreRun",
    "TargetReader",
    "dry_run",
    "load_backup_content",
    "restore_steps",
]
