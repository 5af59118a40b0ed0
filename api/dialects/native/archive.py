"""``GET /api/v1/backups/{id}/archive``: a backup's builds and media as one tar, streamed.

The tar holds ``manifest.json`` (entity and file keys -> sha256 digests, as stored),
``entities/<key>.json`` (each entity's canonical rendering) and ``files/<key>`` (media), so
an operator can keep a backup outside Rewind, or read it with nothing but ``tar`` and
``jq``.

Damage is answered before the first byte where that is cheap: the manifest is read and every
blob it lists is looked at (present, its zstd frame whole) before the 200 goes out; a SUCCESS
backup found damaged is marked MISSING with the reason (as a verification would, principal
``archive``) and the download is refused (409). Content is re-hashed only as it streams: a
blob whose bytes hash to another digest marks the backup MISSING in the same way and then
drops the connection, without the chunked body's final chunk, so every HTTP client reports
a failed download; no well-formed tar of wrong content, and no second answer inside the body.

The tar is written by a thread (tarfile is blocking) into a bounded queue that the handler
drains into the response, so memory stays at a few chunks whatever the backup's size, and a
client that stops reading stops the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import posixpath
import tarfile
import threading
import time
from collections.abc import Iterator
from uuid import UUID

import structlog
from aiohttp import web

from adapters.artifacts import ArtifactError, ArtifactStore
from adapters.artifacts.manifest import Manifest
from adapters.verifier import inspect_artifacts, record_damage
from api.core.request_context import name_request
from api.core.services import SERVICES, Services
from api.dialects.native.backups import find_backup_row
from domain.errors import IllegalMove
from domain.lifecycle import CONTENT_STATUSES
from projections.rows import BackupRow

log = structlog.get_logger("rewind.api")
archive_routes = web.RouteTableDef()
QUEUE_CHUNKS = 8
_DONE = b""


def member_name(prefix: str, key: str, suffix: str = "") -> str:
    """A safe path inside the tar for a manifest key (no absolute paths, no ``..``)."""
    parts = [p for p in posixpath.normpath(key).split("/") if p not in ("", ".", "..")]
    return posixpath.join(prefix, *parts) + suffix


def archive_members(store: ArtifactStore, manifest: Manifest) -> Iterator[tuple[str, bytes]]:
    yield "manifest.json", manifest.to_json()
    for key, digest in sorted(manifest.entities.items()):
        yield member_name("entities", key, ".json"), store.read_bytes(digest)
    for key, digest in sorted(manifest.files.items()):
        yield member_name("files", key), store.read_bytes(digest)


class _QueueWriter(io.RawIOBase):
    """A write-only file whose writes go to an asyncio queue (from a worker thread)."""

    def __init__(self, queue: asyncio.Queue[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.queue, self.loop = queue, loop
        self.abandoned = threading.Event()
        """Set when the client went away: the next write stops the tar writer."""

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self.abandoned.is_set():
            raise BrokenPipeError("the client stopped reading the archive")
        chunk = bytes(data)
        if chunk:
            asyncio.run_coroutine_threadsafe(self.queue.put(chunk), self.loop).result()
        return len(chunk)


def write_tar(store: ArtifactStore, manifest: Manifest, out: io.RawIOBase) -> None:
    now = time.time()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in archive_members(store, manifest):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), now, 0o644
            tar.addfile(info, io.BytesIO(data))


async def _checked_manifest(services: Services, row: BackupRow) -> Manifest:
    """The manifest, once every blob it lists is there and whole; else 409, and a SUCCESS
    backup is marked MISSING with the reason first."""
    artifacts = services.artifacts
    manifest, _, _, _, reason = await services.query(
        inspect_artifacts, artifacts, row.id, artifacts.probe
    )
    if manifest is not None and reason is None:
        return manifest
    if row.status not in CONTENT_STATUSES:
        raise IllegalMove(f"backup {row.id} holds no content to download ({row.status})")
    status = await services.run(record_damage, services.app, UUID(row.id), reason, "archive")
    raise IllegalMove(f"backup {row.id} is {status}, its content cannot be downloaded: {reason}")


async def _break_off(
    request: web.Request, services: Services, row: BackupRow, error: Exception
) -> None:
    """Record what a blob read mid-stream showed, then drop the connection before the body's
    final chunk, so the client sees a failed download, never a complete-looking tar."""
    if isinstance(error, ArtifactError):
        reason = f"{error} (found while streaming the archive)"
        status = await services.run(record_damage, services.app, UUID(row.id), reason, "archive")
        log.warning("archive broken off", backup_id=row.id, reason=reason, status=status)
    else:  # the store failed to read (not the content's fault): nothing to record
        log.error("archive broken off", backup_id=row.id, error=f"{type(error).__name__}: {error}")
    if request.transport is not None:
        request.transport.close()


@archive_routes.get("/api/v1/backups/{backup_id}/archive")
async def archive(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    row = await find_backup_row(services, request.match_info["backup_id"])
    manifest = await _checked_manifest(services, row)
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-tar",
            "Content-Disposition": f'attachment; filename="rewind-{row.id}.tar"',
        }
    )
    name_request(request, response)
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_CHUNKS)

    writer = _QueueWriter(queue, loop)

    def produce() -> None:
        try:
            write_tar(services.artifacts, manifest, writer)
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(_DONE), loop).result()

    producer = asyncio.ensure_future(asyncio.to_thread(produce))
    try:
        while (chunk := await queue.get()) != _DONE:
            await response.write(chunk)
        try:
            await producer
        except (ArtifactError, OSError) as error:
            await _break_off(request, services, row, error)
            return response  # aiohttp's final write meets the closed transport: nothing sent
        await response.write_eof()
    finally:
        if not producer.done():
            # The client went away: stop the writer, and drain so it is never stuck on a put.
            writer.abandoned.set()
            while not producer.done():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                await asyncio.sleep(0.01)
            producer.exception()  # retrieved: the BrokenPipeError is expected here
    return response
