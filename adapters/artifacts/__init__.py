"""The folder artifact store: zstd blobs named by sha256, one manifest per backup, in a
directory. ``ArtifactStore`` here is the port (domain.ports.artifacts) callers type against;
``FolderArtifactStore`` is this implementation of it.

Import from here; the submodules are an implementation split (paths and durable writes in
``_fs``, blobs in ``blobs``, batched durable writes in ``deferred``, the zstd frame check
in ``frames``, the manifest model in ``manifest``, the combined store in ``store``).
"""

from adapters.artifacts._fs import probe_writable
from adapters.artifacts.blobs import (
    ArtifactError,
    BlobCheck,
    BlobCorruptError,
    BlobNotFoundError,
    BlobRef,
    BlobStatus,
    BlobStore,
    StoreStats,
    sha256_hex,
)
from adapters.artifacts.manifest import Manifest, ManifestCorruptError, PurgeResult
from adapters.artifacts.store import FolderArtifactStore
from domain.ports.artifacts import ArtifactStore, BlobBatch

__all__ = [
    "ArtifactError",
    "ArtifactStore",
    "BlobBatch",
    "BlobCheck",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStatus",
    "BlobStore",
    "FolderArtifactStore",
    "Manifest",
    "ManifestCorruptError",
    "PurgeResult",
    "StoreStats",
    "probe_writable",
    "sha256_hex",
]
