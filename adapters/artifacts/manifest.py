"""The per-backup manifest: which blob holds each entity rendering and each media file.

Blobs are shared between backups, so a backup *is* its manifest: deleting a backup means
deleting its manifest and only the blobs no other manifest still names. The manifest is
stored as canonical JSON (sorted keys, no whitespace) so that identical manifests are
byte-identical and can themselves be compared by hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from adapters.artifacts._fs import check_backup_id, check_digest


class ManifestCorruptError(Exception):
    """A manifest file exists but cannot be read back as a Manifest.

    Raised rather than treated as absent: purge must not delete blobs a damaged manifest
    might still reference.
    """


class Manifest(BaseModel):
    """What one backup stored: entity key -> digest and file key -> digest.

    Entity keys are progress keys (``group/ivr``, ``user/u1/voice_mail``) and point at the
    canonical rendering of that entity; file keys name media (announcements, recordings).
    Digests and the backup id are validated here so a manifest can never lead a purge or a
    read outside the store.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backup_id: str
    entities: dict[str, str] = {}
    files: dict[str, str] = {}
    formats: list[str] = []
    meta: dict[str, str] = {}

    @field_validator("backup_id")
    @classmethod
    def _valid_backup_id(cls, value: str) -> str:
        return check_backup_id(value)

    @field_validator("entities", "files")
    @classmethod
    def _valid_digests(cls, value: dict[str, str]) -> dict[str, str]:
        for digest in value.values():
            check_digest(digest)
        return value

    def digests(self) -> set[str]:
        """Every distinct blob the backup needs (entities and files together)."""
        return set(self.entities.values()) | set(self.files.values())

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, compact, UTF-8; equal manifests give equal bytes."""
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse :meth:`to_json` output; ManifestCorruptError if it is not a valid manifest."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise ManifestCorruptError(f"invalid manifest: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge (or garbage collection) did.

    ``removed``: blobs deleted; ``kept``: blobs still referenced by another manifest;
    ``deferred``: unreferenced blobs spared because they were written or deduplicated
    against within the grace period (an in-flight backup may be about to reference them).
    """

    backup_id: str | None
    manifest_removed: bool
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    bytes_freed: int = 0
