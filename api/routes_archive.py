"""``GET /api/v1/backups/{id}/archive``: a backup's builds and media as one tar, streamed.

The tar holds ``manifest.json`` (entity and file keys -> sha256 digests, as stored),
``entities/<key>.json`` (each entity's canonical rendering) and ``files/<key>`` (media), so
an operator can keep a backup outside Rewind, or read it with nothing but ``tar`` and
``jq``. Every blob is checked against its digest as it is read: a damaged blob aborts the
stream instead of shipping wrong content.

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

from aiohttp import web

from adapters.artifacts import ArtifactStore
from adapters.artifacts.manifest import Manifest
from api.context import SERVICES
from api.request_context import name_request
from api.routes_native import find_backup_row
from domain.errors import IllegalMove

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


@archive_routes.get("/api/v1/backups/{backup_id}/archive")
async def archive(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    row = await find_backup_row(services, request.match_info["backup_id"])
    manifest = await services.query(services.artifacts.read_manifest, row.id)
    if manifest is None:
        raise IllegalMove(f"backup {row.id} holds no content to download ({row.status})")
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
        await producer  # re-raises a damaged blob: the client sees a truncated stream
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
