"""The artifact store port: where a backup's content goes, by digest, with one manifest each.

Every name here is a digest or a backup id, never a filesystem path, so a store kept in a
folder today and in an object store later answer the same calls. The methods are
synchronous where the folder store is (callers run them in worker threads) and asynchronous
for streams.

Maintenance (purge, garbage collection, stale temporary writes, size accounting, the
readiness probe) is part of the port rather than an adapter-only interface: the API's
delete and readiness routes and the scheduler's sweep call them on whatever store is
configured, and every implementation has some form of each (a bucket's "temporary writes"
are its unfinished multipart uploads).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Protocol, runtime_checkable

from domain.ports.artifact_values import (
    ArtifactError,
    BlobCheck,
    BlobCorruptError,
    BlobNotFoundError,
    BlobRef,
    BlobStatus,
    Manifest,
    ManifestCorruptError,
    PurgeResult,
    StoreStats,
    check_backup_id,
    check_digest,
    sha256_hex,
)

__all__ = [
    "ArtifactError",
    "ArtifactStore",
    "BlobBatch",
    "BlobCheck",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStatus",
    "Manifest",
    "ManifestCorruptError",
    "PurgeResult",
    "StoreStats",
    "check_backup_id",
    "check_digest",
    "sha256_hex",
]


class BlobBatch(Protocol):
    """Blobs put together and made durable together by :meth:`commit`.

    A durable put per small blob is what made backups of many small entities slow; a batch
    lets the store pay for durability once. A digest a batched put returned must not be
    recorded anywhere durable before the batch is committed. Thread-safe.
    """

    def __len__(self) -> int:
        """How many blobs wait for the next commit."""
        ...

    def put(self, data: bytes) -> BlobRef:
        """Add ``data``; deduplicates against the store and the batch itself."""
        ...

    def commit(self) -> int:
        """Make every blob put since the last commit durable; how many there were."""
        ...

    def discard(self) -> None:
        """Drop every blob put since the last commit; the store is left as it was."""
        ...


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed blobs (named by the sha256 of their content) plus manifests.

    Missing blobs raise BlobNotFoundError, blobs whose content no longer matches their
    digest raise BlobCorruptError on read (never hand back wrong bytes), and bad digests or
    backup ids raise ValueError before anything is touched.
    """

    # -- blobs ---------------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store ``data`` durably (once: identical content is deduplicated)."""
        ...

    async def put_stream(self, chunks: AsyncIterable[bytes]) -> BlobRef:
        """Store a stream of unknown length without holding it in memory."""
        ...

    def batch(self) -> BlobBatch:
        """A batch of puts made durable together (see BlobBatch)."""
        ...

    def has(self, digest: str) -> bool:
        """Whether a blob of ``digest`` is stored (its content is not checked)."""
        ...

    def reuse(self, digest: str) -> bool:
        """:meth:`has`, and mark the blob as just used so a concurrent purge spares it."""
        ...

    def stored_size(self, digest: str) -> int:
        """The blob's size as stored (compressed); BlobNotFoundError if absent."""
        ...

    def read_bytes(self, digest: str) -> bytes:
        """The whole content, checked against its digest."""
        ...

    def iter_chunks(self, digest: str, chunk_size: int = ...) -> Iterator[bytes]:
        """The content in chunks; the digest is checked before the last chunk is given."""
        ...

    def aiter_chunks(self, digest: str, chunk_size: int = ...) -> AsyncIterator[bytes]:
        """:meth:`iter_chunks` for the event loop."""
        ...

    def probe(self, digest: str) -> BlobCheck:
        """A cheap check (present, frame intact) without re-hashing the content."""
        ...

    def verify(self, digest: str) -> BlobCheck:
        """Re-hash the content and compare it with its digest."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Every stored blob's digest, in no particular order."""
        ...

    def delete(self, digest: str) -> bool:
        """Remove one blob; whether it was there. Callers normally :meth:`purge` instead."""
        ...

    # -- manifests -----------------------------------------------------------------------------

    def write_manifest(self, manifest: Manifest, *, require_blobs: bool = True) -> object:
        """Write or replace a backup's manifest atomically; with ``require_blobs`` every blob
        it names must be stored already (ValueError otherwise). The return value is the
        implementation's own receipt, which callers do not rely on."""
        ...

    def read_manifest(self, backup_id: str) -> Manifest | None:
        """The backup's manifest; None if there is none, ManifestCorruptError if damaged."""
        ...

    def delete_manifest(self, backup_id: str) -> bool:
        """Remove the manifest only (its blobs stay); whether it was there."""
        ...

    def list_manifests(self) -> list[str]:
        """The backup ids that have a manifest, sorted."""
        ...

    def referenced_digests(self, exclude: str | None = None) -> set[str]:
        """Every digest some manifest (other than ``exclude``'s) names."""
        ...

    def location(self, backup_id: str) -> str:
        """Where the backup's content is, in words for an operator (reported by the API as
        the backup's content location); not meant to be opened by clients."""
        ...

    # -- maintenance ---------------------------------------------------------------------------

    @property
    def stats(self) -> StoreStats:
        """A snapshot of this process's write counters."""
        ...

    def size_on_disk(self, manifest: Manifest) -> int:
        """What the backup's content costs in storage (manifest and blobs as stored)."""
        ...

    def purge(self, backup_id: str, *, grace_seconds: float = 0.0) -> PurgeResult:
        """Delete the backup's manifest and the blobs no other manifest names."""
        ...

    def collect_garbage(self, *, grace_seconds: float = 3600.0) -> PurgeResult:
        """Delete blobs no manifest names (older than the grace period)."""
        ...

    def cleanup_temp(self, older_than: float = 3600.0) -> int:
        """Remove unfinished writes older than ``older_than`` seconds; how many."""
        ...

    def check_writable(self) -> None:
        """Return if a blob could be written now; raise (with the reason) if not."""
        ...
