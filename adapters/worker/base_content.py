"""What an incremental or differential backup compares itself with: its base's manifest.

Every backup's manifest is self-contained (entity -> digest and file -> digest for all of
its content, unchanged entries naming the blobs the base stored), so a backup restores and
verifies on its own, and deleting its base frees only the blobs nothing else names. The
base only decides what this backup has to *fetch and write*:

- an entity whose canonical JSON hashes to the digest the base recorded for it is counted
  as unchanged (its blob is already stored, so nothing is written for it);
- a media file whose checksum, as the PBX lists it in the referencing document, is the one
  the base's manifest holds for that file is not downloaded again: the stored blob is
  reused (and touched, so a concurrent purge's grace period spares it).

A base whose manifest is gone or unreadable gives an empty comparison: everything is then
fetched and stored as by a full backup, which costs more but is never wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from adapters.artifacts import ArtifactError, ArtifactStore, Manifest, ManifestCorruptError
from domain.backup import Backup

log = structlog.get_logger("rewind.worker")


@dataclass(frozen=True, slots=True)
class BaseContent:
    """The base backup's manifest as an incremental run consults it."""

    backup_id: str | None = None
    entities: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def digests(self) -> set[str]:
        return set(self.entities.values()) | set(self.files.values())

    def unchanged(self, key: str, digest: str) -> bool:
        """Whether an entity's content equals the base's (never true without a base)."""
        return self.backup_id is not None and self.entities.get(key) == digest

    def holds_file(self, key: str, digest: str) -> bool:
        """Whether the base holds this media file with this checksum."""
        return self.backup_id is not None and self.files.get(key) == digest


NO_BASE = BaseContent()


def load_base(artifacts: ArtifactStore, backup: Backup) -> BaseContent:
    """The base of ``backup`` (blocking: reads the manifest; call it in a thread)."""
    if backup.base_backup_id is None:
        return NO_BASE
    base_id = str(backup.base_backup_id)
    try:
        manifest = artifacts.read_manifest(base_id)
    except (OSError, ArtifactError, ManifestCorruptError) as error:
        log.warning("base manifest unreadable", base_backup_id=base_id, error=str(error))
        return NO_BASE
    if manifest is None:
        log.warning("base manifest gone", base_backup_id=base_id)
        return NO_BASE
    return BaseContent(base_id, dict(manifest.entities), dict(manifest.files))


def size_added(artifacts: ArtifactStore, manifest: Manifest, base: BaseContent) -> int:
    """What this backup added on disk: the compressed bytes of the blobs it names that its
    base does not, plus its manifest. Without a base, every blob counts (a full backup)."""
    if base.backup_id is None:
        return artifacts.size_on_disk(manifest)
    inherited = base.digests
    added = Manifest(
        backup_id=manifest.backup_id,
        entities={k: d for k, d in manifest.entities.items() if d not in inherited},
        files={k: d for k, d in manifest.files.items() if d not in inherited},
    )
    return artifacts.size_on_disk(added)
