"""Content-addressed, zstd-compressed blobs on the local filesystem.

A blob's name is the sha256 of its *uncompressed* content, so the digest a backup records is
the one the PBX reports for its media, and it does not change if the compression level does.
Identical content is therefore stored once: an incremental backup of unchanged data costs
nothing but its manifest.

Layout: ``<root>/blobs/<first two hex digits>/<digest>.zst`` (256 shards keep directories
small). Every write goes to a hidden temporary file, is fsynced, renamed into place and the
directory fsynced, so a crash never exposes a partial blob; leftovers are invisible to readers
and removed by :meth:`BlobStore.cleanup_temp`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Generator, Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from adapters.artifacts._fs import (
    DIGEST_RE,
    check_digest,
    ensure_dir,
    fsync_dir,
    remove_durably,
    remove_temp_files,
    temp_path,
    unlink_quietly,
)
from adapters.artifacts.deferred import DeferredBlobs
from adapters.artifacts.frames import check_frame
from domain.ports.artifact_values import (
    ArtifactError,
    BlobCheck,
    BlobCorruptError,
    BlobNotFoundError,
    BlobRef,
    BlobStatus,
    StoreStats,
    sha256_hex,
)

__all__ = [
    "ArtifactError",
    "BlobCheck",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStatus",
    "BlobStore",
    "StoreStats",
    "sha256_hex",
]

BLOB_SUFFIX = ".zst"
DEFAULT_CHUNK_SIZE = 65536
DEFAULT_BATCH_SIZE = 1 << 20
"""put_stream hands the worker thread about this much at a time: large enough that the
thread hop is negligible, small enough that memory stays bounded whatever the stream size."""


class BlobStore:
    """The blob half of the artifact store: put, read, verify and delete by digest.

    Thread-safe and safe across processes sharing the directory: writers never touch a final
    name except through ``os.replace`` of a fully written, fsynced file, and concurrent writers
    of one digest write identical bytes, so whichever rename lands last is correct.
    """

    def __init__(self, root: Path, *, level: int = 3) -> None:
        """Open (lazily creating) a store under ``root``; ``level`` is the zstd level."""
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self._blobs_prefix = f"{self.blobs_dir}{os.sep}"
        self.level = level
        self._local = threading.local()
        self._stats_lock = threading.Lock()
        self._bytes_written = 0
        self._bytes_deduplicated = 0
        self._blobs_written = 0

    # -- paths and counters ------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Where the blob of ``digest`` lives; ValueError for anything but a sha256 hex."""
        check_digest(digest)
        return self.blobs_dir / digest[:2] / f"{digest}{BLOB_SUFFIX}"

    @property
    def stats(self) -> StoreStats:
        """A consistent snapshot of the write counters."""
        with self._stats_lock:
            return StoreStats(self._bytes_written, self._bytes_deduplicated, self._blobs_written)

    def _count_written(self, stored: int) -> None:
        with self._stats_lock:
            self._bytes_written += stored
            self._blobs_written += 1

    def _count_deduplicated(self, size: int) -> None:
        with self._stats_lock:
            self._bytes_deduplicated += size

    def _compressor(self) -> zstandard.ZstdCompressor:
        """A per-thread compressor: zstd contexts must not be shared between threads."""
        cctx: zstandard.ZstdCompressor | None = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = zstandard.ZstdCompressor(level=self.level, write_checksum=True)
            self._local.cctx = cctx
        return cctx

    @staticmethod
    def _touch_existing(final: Path | str) -> int | None:
        """Stored size of an existing blob, refreshing its mtime; None if absent.

        The mtime marks the blob as recently wanted, so a purge with a grace period does
        not delete content that an in-flight backup has just deduplicated against.
        """
        try:
            os.utime(final)
            return os.stat(final).st_size
        except FileNotFoundError:
            return None

    def _commit(self, tmp: Path, digest: str, size: int, stored: int) -> BlobRef:
        """Move a fully written and fsynced temp file to its digest name (or drop it)."""
        final = self.blob_path(digest)
        existing = self._touch_existing(final)
        if existing is not None:
            unlink_quietly(tmp)
            self._count_deduplicated(size)
            return BlobRef(digest, size, existing, new=False)
        try:
            ensure_dir(final.parent)
            os.replace(tmp, final)
        except BaseException:
            unlink_quietly(tmp)
            raise
        fsync_dir(final.parent)
        self._count_written(stored)
        return BlobRef(digest, size, stored, new=True)

    # -- writing -------------------------------------------------------------------------------

    def put_bytes(self, data: bytes, deferred: DeferredBlobs | None = None) -> BlobRef:
        """Store ``data`` (whole, in memory) and return its reference.

        The digest is known up front, so present content is detected before compressing.
        With ``deferred``, nothing is written yet: the compressed bytes wait in that batch
        and reach the disk, durably, when ``deferred.commit()`` writes the whole batch;
        until then nothing may record the digest (see DeferredBlobs).
        """
        digest = sha256_hex(data)
        # The path as a plain string (a digest sha256_hex just made needs no check): pathlib's
        # joins were a visible share of a backup of many small entities (measured on large backups).
        final = f"{self._blobs_prefix}{digest[:2]}{os.sep}{digest}{BLOB_SUFFIX}"
        existing = self._touch_existing(final)
        if existing is None and deferred is not None:
            existing = deferred.stored_size(digest)
        if existing is not None:
            self._count_deduplicated(len(data))
            return BlobRef(digest, len(data), existing, new=False)
        compressed = self._compressor().compress(data)
        if deferred is not None:
            deferred.add(digest, Path(final), compressed)
            self._count_written(len(compressed))
            return BlobRef(digest, len(data), len(compressed), new=True)
        shard = Path(final).parent
        ensure_dir(shard)
        tmp = temp_path(shard)
        try:
            with open(tmp, "xb") as fh:
                fh.write(compressed)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            unlink_quietly(tmp)
            raise
        return self._commit(tmp, digest, len(data), len(compressed))

    def deferred(self) -> DeferredBlobs:
        """A batch of blobs written and made durable together (see DeferredBlobs)."""
        return DeferredBlobs(self.root, self.put_bytes)

    def batch(self) -> DeferredBlobs:
        """The port's name for :meth:`deferred`."""
        return self.deferred()

    async def put_stream(
        self, chunks: AsyncIterable[bytes], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> BlobRef:
        """Store a stream of unknown length without holding it in memory.

        Chunks are hashed and fed to a streaming zstd compressor in batches of about
        ``batch_size`` bytes, each batch in a worker thread so the event loop never waits on
        compression or disk. The digest is known only at the end, so the data goes to a temp
        file under ``blobs/`` (same filesystem) and is renamed to its digest name last.
        """
        await asyncio.to_thread(ensure_dir, self.blobs_dir)
        tmp = temp_path(self.blobs_dir, "stream")
        fh = await asyncio.to_thread(open, tmp, "xb")
        hasher = hashlib.sha256()
        cobj = zstandard.ZstdCompressor(level=self.level, write_checksum=True).compressobj()
        size = 0
        stored = 0

        def write_batch(batch: list[bytes], last: bool) -> int:
            written = 0
            for piece in batch:
                hasher.update(piece)
                out = cobj.compress(piece)
                if out:
                    fh.write(out)
                    written += len(out)
            if last:
                out = cobj.flush()
                fh.write(out)
                written += len(out)
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
            return written

        try:
            pending: list[bytes] = []
            pending_size = 0
            async for chunk in chunks:
                if not chunk:
                    continue
                pending.append(chunk)
                pending_size += len(chunk)
                size += len(chunk)
                if pending_size >= batch_size:
                    stored += await asyncio.to_thread(write_batch, pending, False)
                    pending, pending_size = [], 0
            stored += await asyncio.to_thread(write_batch, pending, True)
            del pending
            return await asyncio.to_thread(self._commit, tmp, hasher.hexdigest(), size, stored)
        except BaseException:
            fh.close()
            unlink_quietly(tmp)
            raise

    # -- reading -------------------------------------------------------------------------------

    def has(self, digest: str) -> bool:
        """Whether a blob of ``digest`` is stored (its content is not checked)."""
        return self.blob_path(digest).is_file()

    def reuse(self, digest: str) -> bool:
        """Whether a blob of ``digest`` is stored, marking it recently wanted (as a put of
        the same content would), so a purge's grace period spares it for a backup that will
        reference it without writing it again (an incremental's unchanged media)."""
        return self._touch_existing(self.blob_path(digest)) is not None

    def stored_size(self, digest: str) -> int:
        """Compressed bytes the blob occupies on disk."""
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFoundError(f"blob {digest} not found") from None

    def _open(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFoundError(f"blob {digest} not found") from None

    def read_bytes(self, digest: str) -> bytes:
        """The whole content of a blob, checked against its digest (BlobCorruptError)."""
        return b"".join(self.iter_chunks(digest, chunk_size=DEFAULT_BATCH_SIZE))

    def iter_chunks(self, digest: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream a blob's content in pieces of at most ``chunk_size`` bytes.

        The file is opened now (so a missing blob raises BlobNotFoundError at the call); the
        content is re-hashed while it streams and BlobCorruptError is raised, in place of its
        last piece, if it does not match: a consumer never receives all of a damaged blob.
        """
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        fh = self._open(digest)
        return self._chunks(fh, digest, chunk_size)

    @staticmethod
    def _chunks(fh: BinaryIO, digest: str, chunk_size: int) -> Generator[bytes, None, None]:
        """The content, re-hashed as it is read, with its last piece held back until the
        hash is known: a consumer streaming it on (an upload to a PBX, an archive) is never
        handed the whole of a content that is not the one recorded, only a truncated one
        followed by BlobCorruptError."""
        hasher = hashlib.sha256()
        held: bytes | None = None
        with fh:
            reader = zstandard.ZstdDecompressor().stream_reader(
                fh, read_across_frames=False, closefd=False
            )
            while True:
                try:
                    piece = reader.read(chunk_size)
                except zstandard.ZstdError as exc:
                    raise BlobCorruptError(f"blob {digest}: {exc}") from exc
                if not piece:
                    break
                hasher.update(piece)
                if held is not None:
                    yield held
                held = piece
        actual = hasher.hexdigest()
        if actual != digest:
            raise BlobCorruptError(f"blob {digest}: content hashes to {actual}")
        if held is not None:
            yield held

    async def aiter_chunks(
        self, digest: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncGenerator[bytes, None]:
        """:meth:`iter_chunks` for the event loop: each read runs in a worker thread."""
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        fh = await asyncio.to_thread(self._open, digest)
        gen = self._chunks(fh, digest, chunk_size)
        try:
            while True:
                piece = await asyncio.to_thread(next, gen, b"")
                if not piece:
                    return
                yield piece
        finally:
            # an early exit by the consumer still closes the file; after a cancellation the
            # worker thread may still be inside the generator, which then refuses to close
            with contextlib.suppress(ValueError):
                gen.close()
            fh.close()

    def probe(self, digest: str) -> BlobCheck:
        """The cheap half of :meth:`verify`: the blob is there and its zstd frame is whole
        (block headers walked; nothing decompressed or hashed). ``ok`` here does not vouch
        for the content, only for what can be known before reading it."""
        try:
            with open(self.blob_path(digest), "rb") as fh:
                problem = check_frame(fh)
        except FileNotFoundError:
            return BlobCheck(digest, "missing", "no blob file")
        except OSError as exc:
            return BlobCheck(digest, "corrupt", f"unreadable: {exc}")
        if problem is not None:
            return BlobCheck(digest, "corrupt", problem)
        return BlobCheck(digest, "ok")

    def verify(self, digest: str) -> BlobCheck:
        """Re-hash a blob: ``ok``, ``missing``, or ``corrupt`` with a reason; never raises
        for damaged data (only ValueError for a malformed digest)."""
        path = self.blob_path(digest)
        try:
            with open(path, "rb") as fh:
                problem = check_frame(fh)
                if problem is not None:
                    return BlobCheck(digest, "corrupt", problem)
                fh.seek(0)
                size = 0
                for piece in self._chunks(fh, digest, DEFAULT_BATCH_SIZE):
                    size += len(piece)
        except FileNotFoundError:
            return BlobCheck(digest, "missing", "no blob file")
        except BlobCorruptError as exc:
            return BlobCheck(digest, "corrupt", str(exc))
        except OSError as exc:
            return BlobCheck(digest, "corrupt", f"unreadable: {exc}")
        return BlobCheck(digest, "ok", None, size)

    def iter_digests(self) -> Iterator[str]:
        """Every digest with a blob file (temp files and stray names are skipped)."""
        try:
            shards = sorted(os.scandir(self.blobs_dir), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for shard in shards:
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            for entry in sorted(os.scandir(shard.path), key=lambda e: e.name):
                name = entry.name
                if not name.endswith(BLOB_SUFFIX):
                    continue
                digest = name[: -len(BLOB_SUFFIX)]
                if DIGEST_RE.fullmatch(digest) and digest[:2] == shard.name:
                    yield digest

    # -- removal -------------------------------------------------------------------------------

    def delete(self, digest: str) -> bool:
        """Remove a blob durably; False if it was not there (deleting is idempotent)."""
        return remove_durably(self.blob_path(digest))

    def _temp_dirs(self) -> list[Path]:
        dirs = [self.blobs_dir]
        with contextlib.suppress(FileNotFoundError):
            dirs += [Path(e.path) for e in os.scandir(self.blobs_dir) if e.is_dir()]
        return dirs

    def cleanup_temp(self, older_than: float = 3600.0) -> int:
        """Remove temp files left by crashed writers; returns how many were removed.

        Only files older than ``older_than`` seconds go, so a writer still filling its temp
        file (in this or another process) is not disturbed; pass 0 when nothing else runs.
        """
        return remove_temp_files(self._temp_dirs(), older_than)
