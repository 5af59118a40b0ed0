"""The artifact store: shared blobs plus one manifest per backup.

Layout under the root (the data directory's ``artifacts/``)::

    blobs/<aa>/<digest>.zst      zstd of the content whose sha256 is <digest> (aa = its first 2 hex)
    blobs/.tmp-stream.*.part     in-progress put_stream writes (digest not yet known)
    blobs/<aa>/.tmp-*.part       in-progress put_bytes writes
    manifests/<backup_id>.json   canonical JSON Manifest
    manifests/.tmp-*.part        in-progress manifest writes

Temp files are never visible as blobs or manifests; ``cleanup_temp`` removes stale ones.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from adapters.artifacts._fs import (
    check_backup_id,
    is_temp_name,
    probe_writable,
    remove_durably,
    remove_temp_files,
    write_atomic,
)
from adapters.artifacts.blobs import BlobStore
from adapters.artifacts.manifest import Manifest, ManifestCorruptError, PurgeResult

MANIFEST_SUFFIX = ".json"


class FolderArtifactStore(BlobStore):
    """The artifact store port (domain.ports.artifacts) kept in a folder: blobs (see
    :class:`BlobStore`) and the manifests that give them owners.

    Purging is reference-counted by scanning manifests rather than keeping counters, so
    there is no second source of truth to drift after a crash: the manifests are the truth.
    """

    def __init__(self, root: Path, *, level: int = 3) -> None:
        """Open (lazily creating) the store under ``root``."""
        super().__init__(root, level=level)
        self.manifests_dir = self.root / "manifests"

    def manifest_path(self, backup_id: str) -> Path:
        """Where a backup's manifest lives; ValueError for an unsafe id."""
        check_backup_id(backup_id)
        return self.manifests_dir / f"{backup_id}{MANIFEST_SUFFIX}"

    def location(self, backup_id: str) -> str:
        """The manifest's path as a string: what the API reports as a backup's content
        location, for an operator to find it on the server (clients never open it)."""
        return str(self.manifest_path(backup_id))

    def content_path(self, backup_id: str) -> str:
        """:meth:`location` under the name it had before the port (this store's own)."""
        return self.location(backup_id)

    def check_writable(self) -> None:
        """Write, sync and remove a small hidden file where blobs go: raises the OSError
        (read-only, full, gone) that a backup's first write would meet."""
        probe_writable(self.blobs_dir, "readyz")

    # -- manifests -----------------------------------------------------------------------------

    def write_manifest(self, manifest: Manifest, *, require_blobs: bool = True) -> Path:
        """Atomically write (or replace) a backup's manifest.

        With ``require_blobs`` (the default) every referenced blob must already be stored,
        so a manifest can never promise content that is not there; ValueError names the
        missing ones.
        """
        if require_blobs:
            missing = sorted(d for d in manifest.digests() if not self.has(d))
            if missing:
                raise ValueError(
                    f"manifest {manifest.backup_id} references {len(missing)} missing "
                    f"blob(s): {', '.join(missing[:5])}"
                )
        path = self.manifest_path(manifest.backup_id)
        write_atomic(path, manifest.to_json())
        return path

    def read_manifest(self, backup_id: str) -> Manifest | None:
        """The backup's manifest, None if it has none; ManifestCorruptError if unreadable."""
        path = self.manifest_path(backup_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        manifest = Manifest.from_json(data)
        if manifest.backup_id != backup_id:
            raise ManifestCorruptError(
                f"manifest {path.name} names backup {manifest.backup_id!r}, not {backup_id!r}"
            )
        return manifest

    def delete_manifest(self, backup_id: str) -> bool:
        """Remove a manifest (not its blobs; see :meth:`purge`); False if absent."""
        return remove_durably(self.manifest_path(backup_id))

    def list_manifests(self) -> list[str]:
        """Backup ids that have a manifest, sorted."""
        try:
            names = os.listdir(self.manifests_dir)
        except FileNotFoundError:
            return []
        ids = []
        for name in names:
            if is_temp_name(name) or not name.endswith(MANIFEST_SUFFIX):
                continue
            backup_id = name[: -len(MANIFEST_SUFFIX)]
            try:
                ids.append(check_backup_id(backup_id))
            except ValueError:
                continue
        return sorted(ids)

    def referenced_digests(self, exclude: str | None = None) -> set[str]:
        """Every digest referenced by a manifest other than ``exclude``.

        A manifest that cannot be read raises ManifestCorruptError: guessing would risk
        deleting blobs it still needs.
        """
        refs: set[str] = set()
        for backup_id in self.list_manifests():
            if backup_id == exclude:
                continue
            manifest = self.read_manifest(backup_id)
            if manifest is not None:
                refs |= manifest.digests()
        return refs

    def size_on_disk(self, manifest: Manifest) -> int:
        """Compressed bytes of the manifest's distinct blobs plus its manifest file.

        Shared blobs are counted in full for every backup that uses them: this is what the
        backup would occupy alone, not what deleting it would free. Missing blobs count 0.
        """
        total = 0
        for digest in manifest.digests():
            try:
                total += self.blob_path(digest).stat().st_size
            except FileNotFoundError:
                continue
        return total + self._manifest_size(manifest.backup_id)

    # -- deletion ------------------------------------------------------------------------------

    def _recent(self, digest: str, cutoff: float) -> bool:
        try:
            return self.blob_path(digest).stat().st_mtime > cutoff
        except FileNotFoundError:
            return False

    def purge(self, backup_id: str, *, grace_seconds: float = 0.0) -> PurgeResult:
        """Delete a backup's manifest and every blob of it no other manifest references.

        Blobs go first and the manifest last, so a crash part-way leaves a manifest that a
        retried purge finishes (idempotent; a purge of an absent manifest does nothing).

        ``grace_seconds`` spares unreferenced blobs written or deduplicated against within
        that window: a backup still running has no manifest yet, and may have just reused
        one of these blobs. Use the job lease period in the service; ``collect_garbage``
        removes what was spared once it is old enough.
        """
        manifest = self.read_manifest(backup_id)
        if manifest is None:
            return PurgeResult(backup_id, manifest_removed=False)
        others = self.referenced_digests(exclude=backup_id)
        cutoff = time.time() - grace_seconds
        removed: list[str] = []
        kept: list[str] = []
        deferred: list[str] = []
        freed = 0
        for digest in sorted(manifest.digests()):
            if digest in others:
                kept.append(digest)
                continue
            if grace_seconds > 0 and self._recent(digest, cutoff):
                deferred.append(digest)
                continue
            try:
                size = self.blob_path(digest).stat().st_size
            except FileNotFoundError:
                size = 0
            if self.delete(digest):
                removed.append(digest)
                freed += size
        freed += self._manifest_size(backup_id)
        self.delete_manifest(backup_id)
        return PurgeResult(backup_id, True, removed, kept, deferred, freed)

    def _manifest_size(self, backup_id: str) -> int:
        try:
            return self.manifest_path(backup_id).stat().st_size
        except FileNotFoundError:
            return 0

    def collect_garbage(self, *, grace_seconds: float = 3600.0) -> PurgeResult:
        """Delete blobs no manifest references and untouched for ``grace_seconds``.

        Catches what purge deferred and what crashed backups wrote before they could write a
        manifest. The grace period must exceed the longest a running backup can go between
        storing a blob and writing its manifest.
        """
        refs = self.referenced_digests()
        cutoff = time.time() - grace_seconds
        removed: list[str] = []
        deferred: list[str] = []
        freed = 0
        for digest in list(self.iter_digests()):
            if digest in refs:
                continue
            if self._recent(digest, cutoff):
                deferred.append(digest)
                continue
            try:
                size = self.blob_path(digest).stat().st_size
            except FileNotFoundError:
                continue
            if self.delete(digest):
                removed.append(digest)
                freed += size
        return PurgeResult(None, False, removed, [], deferred, freed)

    def cleanup_temp(self, older_than: float = 3600.0) -> int:
        """Remove stale temp files of blobs and manifests (see :meth:`BlobStore.cleanup_temp`)."""
        return super().cleanup_temp(older_than) + remove_temp_files(
            [self.manifests_dir], older_than
        )
