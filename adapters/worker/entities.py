"""Fetching one entity of a backup: its document, its renderings and the media it references.

Call counting follows the PBX client's definition (adapters/pbx/client.py) per entity: every
logical call that succeeded is one successful call, every PbxCallFailed / PbxRejected one
error call. Scope listing is not counted (it is not an entity), so a backup's
successful_calls / error_calls count exactly its entity and media calls.

A referenced media file the PBX answers 404 for, or whose bytes do not hash to the digest the
document lists, also counts as one error call: the configuration promises a file the backup
cannot hold, which a restore would miss.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from adapters.artifacts import ArtifactStore, BlobBatch
from adapters.pbx.client import PbxCallFailed, PbxClient, PbxNotFound, PbxRejected
from adapters.pbx.gateways import gateway_for
from adapters.renderers import render_json, render_xml
from adapters.worker.base_content import NO_BASE, BaseContent
from domain.backup import BackupSpec
from domain.catalogue import DATA_ENTITIES, MEDIA_ENTITIES, OutputFormat, entity_key
from domain.ports.pbx import PbxGateway

"""The group-level entity only DATA backups carry: the call recordings and their audio."""

"""Items per page when an entity is itself a paged list (recordings)."""

_DIGEST = re.compile(r"[0-9a-f]{64}")

RECORDINGS = DATA_ENTITIES[0]
"""The group-level listing of call recordings (read page by page, its files always kept)."""


def media_key(tenant_id: str, group_id: str, file_id: str) -> str:
    """A media file's key in a manifest: files are per group, whichever entity lists them."""
    return f"{tenant_id}/{group_id}/media/{file_id}"


def downloads_media(spec: BackupSpec, entity: str) -> bool:
    """Whether the files an entity references belong in the backup: recordings always (they
    are what a DATA backup is for), media entities when the client asked for files."""
    return entity == RECORDINGS or (entity in MEDIA_ENTITIES and spec.download_files)


def wants_xml(spec: BackupSpec) -> bool:
    return OutputFormat.XML.value in spec.formats


def media_refs(document: Any) -> Iterator[tuple[str, str]]:
    """(file id, sha256) of every file a document lists: announcements' ``files`` and the
    recordings list's ``items``. Entries without an id or a well-formed digest cannot be
    checked or addressed, so they are left out."""
    if not isinstance(document, dict):
        return
    entries = document.get("files", document.get("items"))
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        file_id, digest = entry.get("id"), entry.get("sha256")
        if isinstance(file_id, str) and isinstance(digest, str) and _DIGEST.fullmatch(digest):
            yield file_id, digest


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One entity of a backup: a group entity, a user's entity, or a group's recordings."""

    tenant_id: str
    group_id: str
    entity: str
    user_id: str | None = None

    @property
    def key(self) -> str:
        return entity_key(self.tenant_id, self.group_id, self.entity, self.user_id)


@dataclass(frozen=True, slots=True)
class EntityResult:
    """What to record for one entity."""

    outcome: Literal["success", "error", "ignored"]
    digest: str | None = None
    message: str = ""
    successful_calls: int = 0
    error_calls: int = 0
    unchanged: bool = False
    """The content equals the base backup's (incremental / differential only)."""


class ArtifactStoreFailure(Exception):
    """The artifact store could not take a write: the backup cannot go on."""


@dataclass
class _Calls:
    ok: int = 0
    errors: int = 0


def store_renderings(
    artifacts: ArtifactStore, document: Any, xml: bool, deferred: BlobBatch | None = None
) -> str:
    """Store the canonical JSON (its digest is the entity's) and, if asked, the XML;
    with ``deferred``, durable only once that batch is committed."""
    put = artifacts.put_bytes if deferred is None else deferred.put
    digest = put(render_json(document)).digest
    if xml:
        put(render_xml(document))
    return digest


INLINE_ITEMS = 200
"""A document listing more items than this (a long paged list) is stored from a thread."""


def _small(document: Any) -> bool:
    items = document.get("items") if isinstance(document, dict) else None
    return not isinstance(items, list) or len(items) <= INLINE_ITEMS


class EntityFetcher:
    """Fetches entities of one backup from one PBX into the artifact store."""

    def __init__(
        self,
        gateway: PbxGateway | PbxClient,
        artifacts: ArtifactStore,
        spec: BackupSpec,
        base: BaseContent = NO_BASE,
        deferred: BlobBatch | None = None,
    ) -> None:
        self.gateway = gateway_for(gateway) if isinstance(gateway, PbxClient) else gateway
        """The source PBX (a bare client is taken as a tree PBX)."""
        self.artifacts = artifacts
        self.spec = spec
        self.base = base
        self.deferred = deferred
        """Entity blobs go into this batch (committed before their progress is saved)."""

    async def fetch(self, item: WorkItem) -> EntityResult:
        """Fetch and store one entity. Raises ArtifactStoreFailure when the store fails."""
        calls = _Calls()
        try:
            document = await self._document(item, calls)
        except PbxNotFound:
            return EntityResult("ignored", message=f"the host cannot serve {item.entity}")
        except (PbxCallFailed, PbxRejected) as error:
            return EntityResult(
                "error",
                message=str(error),
                successful_calls=calls.ok,
                error_calls=calls.errors,
            )
        try:
            digest = await self._store(document)
        except OSError as error:
            raise ArtifactStoreFailure(str(error)) from error
        if downloads_media(self.spec, item.entity):
            for file_id, expected in media_refs(document):
                if not await self._reused(item, file_id, expected):
                    await self._download(item, file_id, expected, calls)
        return EntityResult(
            "success",
            digest=digest,
            successful_calls=calls.ok,
            error_calls=calls.errors,
            unchanged=self.base.unchanged(item.key, digest),
        )

    async def _store(self, document: Any) -> str:
        """The entity's renderings into the store. Into the run's deferred batch, a small
        document is hashed and compressed right here: a hop to a thread would cost more
        than the work (measured on large backups); a large one, or a durable write, goes to a
        thread."""
        xml = wants_xml(self.spec)
        if self.deferred is not None and _small(document):
            return store_renderings(self.artifacts, document, xml, self.deferred)
        return await asyncio.to_thread(
            store_renderings, self.artifacts, document, xml, self.deferred
        )

    async def _reused(self, item: WorkItem, file_id: str, expected: str) -> bool:
        """True when the base holds this file with the checksum the PBX lists now and its
        blob is still stored: nothing to download (see adapters.worker.base_content)."""
        key = media_key(item.tenant_id, item.group_id, file_id)
        if not self.base.holds_file(key, expected):
            return False
        return await asyncio.to_thread(self.artifacts.reuse, expected)

    async def _document(self, item: WorkItem, calls: _Calls) -> Any:
        t, g = item.tenant_id, item.group_id
        if item.entity == RECORDINGS and item.user_id is None:
            return await self._paged(item, calls)
        return await self._counted(self.gateway.read_entity(t, g, item.entity, item.user_id), calls)

    @staticmethod
    async def _counted(call: Awaitable[Any], calls: _Calls) -> Any:
        """One read, counted (a 404 is neither: the entity is ignored)."""
        try:
            value = await call
        except (PbxCallFailed, PbxRejected):
            calls.errors += 1
            raise
        calls.ok += 1
        return value

    async def _paged(self, item: WorkItem, calls: _Calls) -> dict[str, Any]:
        """A listing read page by page, each page one call, kept in the PBX's own
        ``{total, items}`` shape so a restore reads it like the PBX's answer."""
        items: list[Any] = []
        pages = self.gateway.read_list_pages(item.tenant_id, item.group_id, item.entity)
        try:
            async with contextlib.aclosing(pages):
                async for page in pages:
                    calls.ok += 1
                    items.extend(page)
        except (PbxCallFailed, PbxRejected):
            calls.errors += 1
            raise
        return {"items": items, "total": len(items)}

    async def _download(self, item: WorkItem, file_id: str, expected: str, calls: _Calls) -> None:
        """Stream one media file into the store and check it is the file the document lists."""
        media = self.gateway.stream_media(item.tenant_id, item.group_id, file_id)
        try:
            async with contextlib.aclosing(media) as chunks:
                stored = await self.artifacts.put_stream(chunks)
        except (PbxCallFailed, PbxRejected, PbxNotFound):
            calls.errors += 1
            return
        except OSError as error:
            raise ArtifactStoreFailure(str(error)) from error
        if stored.digest == expected:
            calls.ok += 1
        else:
            calls.errors += 1
