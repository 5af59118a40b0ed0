"""What a restore looks at and what it will do, step by step; shared by the worker's run and
the API's dry run, so a dry run reports exactly what a run would look at.

The steps, group by group: the backup's selected entities (group ones, then users'); for each,
either putting it back (``entity``) or, when the backup could not read it, ``skip`` (recorded
with the reason, nothing written); a file a restored document references that the backup
could not download is a ``skip`` too. A whole-group restore then removes what the backup
positively found absent (``remove_entity``) and the users the target has that the backup
listed no outcome for (``remove_user``, only when the backup covered user entities, so it
listed the group's users). Nothing the backup does not hold is ever created, changed or
deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.artifacts import ArtifactStore
from adapters.pbx.client import PbxCallFailed, PbxClient, PbxNotFound, PbxRejected
from adapters.pbx.gateways import gateway_for
from adapters.restore_diff import Skipped, StateDiff, diff_states
from adapters.worker.backup_content import (
    BackupContent,
    ContentUnavailable,
    selected,
    whole_group,
)
from adapters.worker.entities import RECORDINGS, media_key, media_refs
from domain.catalogue import MEDIA_ENTITIES, entity_key, parse_entity_key
from domain.ports.pbx import PbxGateway
from domain.restore import RestoreSpec


def user_key(tenant: str, group: str, user: str) -> str:
    """The progress key of a whole user a restore deleted."""
    return f"{tenant}/{group}/user/{user}"


@dataclass
class Calls:
    ok: int = 0
    errors: int = 0


class TargetReader:
    """Reads (and writes) the target PBX, counting each call in a ``Calls``.

    A read answered 404 is a successful call (the target has no such thing). A write answered
    404 failed: the restore could not put back what it was asked to, so it counts as an error
    call like any other refused or failed write."""

    def __init__(self, target: PbxGateway | PbxClient) -> None:
        """``target`` is the target PBX's gateway; a bare client is taken as a tree PBX."""
        self.gateway = gateway_for(target) if isinstance(target, PbxClient) else target

    async def _counted(self, calls: Calls, call: Any, *, write: bool = False) -> Any:
        try:
            value = await call
        except PbxNotFound:
            if write:
                calls.errors += 1
            else:
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
            tenant, group, user, entity = parse_entity_key(key)
            call = self.gateway.read_entity(tenant, group, entity, user)
            return await self._counted(calls, call)
        except PbxNotFound:
            return None

    async def users(self, tenant: str, group: str) -> list[str]:
        return await self.gateway.list_users(tenant, group)

    async def media_digest(self, tenant: str, group: str, file_id: str, calls: Calls) -> str | None:
        """The sha256 of the target's file (streamed and hashed), None when it has none."""
        hasher = hashlib.sha256()
        try:
            async with contextlib.aclosing(
                self.gateway.stream_media(tenant, group, file_id)
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
        tenant, group, user, entity = parse_entity_key(key)
        call = self.gateway.write_entity(tenant, group, entity, document, user)
        await self._counted(calls, call, write=True)

    async def delete(self, key: str, calls: Calls) -> None:
        """Remove the entity of ``key``; one already gone is what was asked for."""
        tenant, group, user, entity = parse_entity_key(key)
        with contextlib.suppress(PbxNotFound):
            await self._counted(calls, self.gateway.delete_entity(tenant, group, entity, user))

    async def delete_user(self, tenant: str, group: str, user: str, calls: Calls) -> None:
        """Remove a whole user; one already gone is what was asked for."""
        with contextlib.suppress(PbxNotFound):
            await self._counted(calls, self.gateway.delete_user(tenant, group, user))

    async def create_user(self, tenant: str, group: str, user: str, calls: Calls) -> None:
        await self._counted(calls, self.gateway.create_user(tenant, group, user), write=True)

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
        call = self.gateway.upload_media(
            tenant, group, file_id, lambda: artifacts.aiter_chunks(digest)
        )
        await self._counted(c, call, write=True)


@dataclass(frozen=True)
class Step:
    """One recorded unit of a restore."""

    kind: Literal["entity", "remove_entity", "remove_user", "skip"]
    key: str
    tenant: str
    group: str
    user: str | None = None
    reason: str = ""
    """Why a ``skip`` is skipped."""


@dataclass
class RestorePlan:
    steps: list[Step]
    target_users: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _entity_steps(content: BackupContent, spec: RestoreSpec, prefix: str) -> list[Step]:
    """The selected entities of one group: put back, or skipped when the backup could not
    read them; then the files their documents reference that it could not download."""
    known = [k for k in content.documents if k.startswith(prefix) and selected(spec, k)]
    unknown = [
        k
        for k in content.unknown
        if k.startswith(prefix) and k.split("/")[2] in ("group", "user") and selected(spec, k)
    ]
    keys = sorted({*known, *unknown}, key=lambda k: (parse_entity_key(k)[2] is not None, k))
    steps: list[Step] = []
    skipped_files: set[str] = set()
    for key in keys:
        tenant, group, user, _ = parse_entity_key(key)
        if key not in content.documents:
            steps.append(Step("skip", key, tenant, group, user, content.unknown[key]))
            continue
        steps.append(Step("entity", key, tenant, group, user))
        for mkey, reason in content.media_unknowns(key):
            if mkey not in skipped_files:
                skipped_files.add(mkey)
                steps.append(Step("skip", mkey, tenant, group, None, reason))
    return steps


async def restore_steps(
    reader: TargetReader, content: BackupContent, spec: RestoreSpec
) -> RestorePlan:
    """The steps of a restore (see the module doc). Lists the target's users; PbxError when
    it cannot."""
    plan = RestorePlan([])
    delete = whole_group(spec)
    for tenant, group in content.groups:
        users = set(await reader.users(tenant, group))
        plan.target_users[(tenant, group)] = users
        prefix = f"{tenant}/{group}/"
        plan.steps.extend(_entity_steps(content, spec, prefix))
        if not delete:
            continue
        listed = content.listed_users(tenant, group)
        removals = sorted(
            key
            for key in content.absent
            if key.startswith(prefix)
            and parse_entity_key(key)[3] != RECORDINGS
            # a user the target lacks has none of its entities to remove
            and ((user := parse_entity_key(key)[2]) is None or user in users)
        )
        plan.steps.extend(Step("remove_entity", key, tenant, group) for key in removals)
        if not content.user_kinds:
            continue  # the backup did not cover users: it holds nothing to say which to keep
        for user in sorted(users - listed):
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
@dataclass(frozen=True)
class DryRunResult:
    diff: StateDiff
    skipped: list[Skipped]


async def dry_run(reader: TargetReader, content: BackupContent, spec: RestoreSpec) -> DryRunResult:
    """What differs between the backup (old) and the target now (new), over what the restore
    would look at, and what it would skip; writes nothing."""
    plan = await restore_steps(reader, content, spec)
    calls = Calls()
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    old_media: dict[str, str] = {}
    new_media: dict[str, str] = {}
    skipped: list[Skipped] = []
    for step in plan.steps:
        if step.kind == "skip":
            skipped.append(Skipped(key=step.key, reason=step.reason))
        elif step.kind == "entity":
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
    return DryRunResult(diff_states(old, new, old_media, new_media), skipped)


__all__ = [
    "Calls",
    "DryRunResult",
    "RestorePlan",
    "Step",
    "TargetReader",
    "dry_run",
    "referenced_files",
    "restore_steps",
    "user_key",
]
