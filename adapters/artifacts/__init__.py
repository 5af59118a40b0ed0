"""Content-addressed artifact store: zstd blobs named by sha256, one manifest per backup.

Import from here; the submodules are an implementation split (paths and durable writes in
``_fs``, blobs in ``blobs``, batched durable writes in ``deferred``, the zstd frame check
in ``frames``, the manifest model in ``manifest``, the combined store in ``store``).
"""

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
from adapters.artifacts.store import ArtifactStore

__all__ = [
    "ArtifactError",
    "ArtifactStore",
    "BlobCheck",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStatus",
    "BlobStore",
    "Manifest",
    "ManifestCorruptError",
    "PurgeResult",
    "StoreStats",
    "sha256_hex",
]
