"""The values the artifact store port speaks: digests, blob references, checks, manifests.

Pure data, so the domain can name them; how they are encoded and kept is the adapter's
business. Digests and backup ids are validated here so that no implementation (a folder, a
bucket) can be led outside its own namespace by a caller-supplied string.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

DIGEST_RE = re.compile(r"[0-9a-f]{64}")
"""A lowercase hex sha256; the only spelling accepted, so one content has one name."""

BACKUP_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""Backup ids name manifests: no separators, no leading dot (so no ``..`` or hidden names)."""


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a lowercase hex sha256, else raise ValueError.

    Digests become names in the store, so anything else (``../x``, upper case, a trailing
    newline) is refused before it reaches one.
    """
    if not isinstance(digest, str) or DIGEST_RE.fullmatch(digest) is None:
        raise ValueError(f"invalid digest {digest!r}: expected 64 lowercase hex characters")
    return digest


def check_backup_id(backup_id: str) -> str:
    """Return ``backup_id`` if it is safe as a manifest name, else raise ValueError."""
    if not isinstance(backup_id, str) or BACKUP_ID_RE.fullmatch(backup_id) is None:
        raise ValueError(
            f"invalid backup id {backup_id!r}: expected 1-128 characters of [A-Za-z0-9_.-], "
            "starting with a letter or digit"
        )
    return backup_id


def sha256_hex(data: bytes) -> str:
    """The digest a blob of ``data`` is stored under."""
    return hashlib.sha256(data).hexdigest()


class ArtifactError(Exception):
    """Base of the artifact store's own failures (bad input raises ValueError instead)."""


class BlobNotFoundError(ArtifactError, FileNotFoundError):
    """The blob is not in the store (never written, deleted or purged)."""


class BlobCorruptError(ArtifactError):
    """The stored blob does not decompress to content with its digest."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What a put stored: the digest to record and the sizes to report.

    ``new`` is False when the content was already present and nothing was written.
    """

    digest: str
    size: int
    stored_size: int
    new: bool


BlobStatus = Literal["ok", "missing", "corrupt"]


@dataclass(frozen=True, slots=True)
class BlobCheck:
    """The outcome of re-hashing one blob; ``reason`` explains a corrupt one."""

    digest: str
    status: BlobStatus
    reason: str | None = None
    size: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the blob is present and its content matches its digest."""
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counters of this store object (per process; they are not persisted).

    ``bytes_written`` counts compressed bytes newly stored, ``bytes_deduplicated`` the
    uncompressed bytes that were not written because identical content was already stored.
    """

    bytes_written: int = 0
    bytes_deduplicated: int = 0
    blobs_written: int = 0


class ManifestCorruptError(Exception):
    """A stored manifest exists but cannot be read back as a Manifest.

    Raised rather than treated as absent: purge must not delete blobs a damaged manifest
    might still reference.
    """


class Manifest(BaseModel):
    """What one backup stored: entity key -> digest and file key -> digest.

    Blobs are shared between backups, so a backup *is* its manifest: deleting a backup means
    deleting its manifest and only the blobs no other manifest still names. Entity keys are
    progress keys (``group/ivr``, ``user/u1/voice_mail``) and point at the canonical
    rendering of that entity; file keys name media (announcements, recordings). Digests and
    the backup id are validated here so a manifest can never lead a purge or a read outside
    the store.
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
        """Canonical JSON (sorted keys, compact, UTF-8), so equal manifests give equal bytes
        and a manifest can itself be compared by hash."""
        text = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return text.encode()

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
