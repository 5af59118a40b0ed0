"""Blobs written and made durable together, by batch (see DeferredBlobs)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from adapters.artifacts._fs import ensure_dir, sync_filesystem, temp_path, unlink_quietly
from domain.ports.artifact_values import BlobRef


class DeferredBlobs:
    """Blobs kept in memory (compressed) and written together, durably, by ``commit``.

    A durable put costs two fsyncs (the file, then its directory after the rename) and, on
    the worker's event loop, a hop to a thread for the writing; a backup storing thousands
    of small entity documents spent most of its time in them (measured on large backups). Here a
    put only hashes and compresses, and ``commit`` does, for every blob added since the last one:
    write each to a hidden temporary file, ``syncfs`` (the data), rename each to its digest
    name, ``syncfs`` again (the renames). So a digest name only ever holds fully synced
    content, even after a power cut: a later backup that finds the name and deduplicates
    against it is never handed a torn blob. The caller must commit before it records
    (durably) any digest a deferred put returned; the backup run does so in the saving
    thread right before each batch of progress events is saved. Thread-safe.
    """

    def __init__(
        self, root: Path, put_bytes: Callable[[bytes, DeferredBlobs], BlobRef] | None = None
    ) -> None:
        self.root = root
        self._put_bytes = put_bytes
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Path, bytes]] = {}
        """digest -> (digest name, compressed bytes)"""

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def put(self, data: bytes) -> BlobRef:
        """Hash and compress ``data`` into this batch (the port's BlobBatch.put)."""
        if self._put_bytes is None:
            raise TypeError("this batch was made without a store to put through")
        return self._put_bytes(data, self)

    def stored_size(self, digest: str) -> int | None:
        """The stored size of a blob of ``digest`` waiting in this batch; None if none is."""
        with self._lock:
            pending = self._pending.get(digest)
        return None if pending is None else len(pending[1])

    def add(self, digest: str, final: Path, compressed: bytes) -> None:
        with self._lock:
            self._pending[digest] = (final, compressed)

    def commit(self) -> int:
        """Write every blob added so far, durably, under its digest name; how many."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        written: list[tuple[Path, Path]] = []
        try:
            for final, compressed in batch.values():
                ensure_dir(final.parent)
                tmp = temp_path(final.parent)
                written.append((tmp, final))
                with open(tmp, "xb") as fh:
                    fh.write(compressed)
            sync_filesystem(self.root)
            for tmp, final in written:
                os.replace(tmp, final)
            sync_filesystem(self.root)
        except BaseException:
            for tmp, _ in written:
                unlink_quietly(tmp)
            raise
        return len(batch)

    def discard(self) -> None:
        """Drop the blobs added since the last commit (their digests were never recorded)."""
        with self._lock:
            self._pending.clear()
