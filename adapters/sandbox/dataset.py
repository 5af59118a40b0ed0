"""The sandbox PBX's generated data set: pure functions of the counts and the seed, no I/O.

Ids depend ONLY on the counts, so two sandboxes with the same counts hold the same scopes:
tenants ``t01``.., groups ``t01-g01``.., users ``t01-g01-u0001``.., media files
``t01-g01-ann-01`` (group announcements), ``t01-g01-u0001-ann-01`` (one per user) and
``t01-g01-rec-0001`` (call recordings, one per five users, at least one). The seed changes
everything else: names, numbers, extensions, settings and the audio bytes.

Documents are built on demand from a ``random.Random`` seeded with the seed and the scope, so
nothing is held per user and 2,000 users cost nothing until asked for. Audio bytes are a
8 kHz / 16-bit mono WAV header followed by a SHAKE-128 stream keyed by seed and file id, cut in
64 KiB blocks that can each be computed alone: a 200 MB data set is never in memory, only its
digests are cached once computed.
"""

from __future__ import annotations

import hashlib
import random
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Literal

from domain.catalogue import GROUP_ENTITIES, MEDIA_ENTITIES, USER_ENTITIES

from .config import SandboxConfig
from .documents import (
    USER_BUILDERS,
    Document,
    GroupFacts,
    file_entry_name,
    person,
    phone,
    user_id,
)
from .group_documents import GROUP_BUILDERS

CHUNK_SIZE = 64 * 1024
"""Size of one generated audio block (and of the chunks the server writes)."""

WAV_HEADER_SIZE = 44
GROUP_ANNOUNCEMENTS = 2
"""Announcement files per group (each user has one more of its own)."""


@dataclass(frozen=True)
class MediaFile:
    """One generated audio file of a group (its bytes are produced on demand)."""

    file_id: str
    kind: Literal["announcement", "recording"]
    owner: str | None
    """The user an announcement belongs to, None for group files and recordings."""
    size: int


def tenant_ids(tenants: int) -> list[str]:
    """The tenant ids of a sandbox with ``tenants`` tenants."""
    return [f"t{i:02d}" for i in range(1, tenants + 1)]


class Dataset:
    """The generated content of one sandbox (immutable; the server layers writes on top)."""

    def __init__(self, *, tenants: int, groups: int, users: int, seed: int, media_kb: int) -> None:
        self.tenants = tenants
        self.groups = groups
        self.users = users
        self.seed = seed
        self.file_size = media_kb * 1024
        self.recordings_per_group = max(1, users // 5)
        self._digests: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Dataset:
        """The data set a sandbox with this configuration serves."""
        return cls(
            tenants=config.tenants,
            groups=config.groups,
            users=config.users,
            seed=config.seed,
            media_kb=config.media_kb,
        )

    # -- scopes ---------------------------------------------------------------------------

    def tenant_ids(self) -> list[str]:
        """Every tenant id, in order."""
        return tenant_ids(self.tenants)

    def group_ids(self, tenant_id: str) -> list[str]:
        """The group ids of a tenant ([] for an unknown tenant)."""
        if not self.is_tenant(tenant_id):
            return []
        return [f"{tenant_id}-g{j:02d}" for j in range(1, self.groups + 1)]

    def user_ids(self, group_id: str) -> list[str]:
        """The generated user ids of a group (the server adds and removes users on top)."""
        return [user_id(group_id, k) for k in range(1, self.users + 1)]

    def is_tenant(self, tenant_id: str) -> bool:
        """Whether ``tenant_id`` is one of :meth:`tenant_ids` (without building the list)."""
        return _in_range(_suffix_number(tenant_id, "t", 2), self.tenants)

    def is_group(self, tenant_id: str, group_id: str) -> bool:
        """Whether ``group_id`` is a group of ``tenant_id``."""
        rest = _child(group_id, tenant_id)
        return self.is_tenant(tenant_id) and _in_range(_suffix_number(rest, "g", 2), self.groups)

    def user_index(self, group_id: str, uid: str) -> int | None:
        """The 1-based index of a generated user of ``group_id``, None for any other id."""
        number = _suffix_number(_child(uid, group_id), "u", 4)
        return number if _in_range(number, self.users) else None

    # -- documents ------------------------------------------------------------------------

    def group_document(self, group_id: str, entity: str) -> Document:
        """The generated configuration document of a group entity (GROUP_ENTITIES)."""
        if entity not in GROUP_ENTITIES:
            raise KeyError(entity)
        rng = random.Random(f"{self.seed}|{group_id}|group|{entity}")
        if entity in MEDIA_ENTITIES:
            ids = self.group_announcement_ids(group_id)
            return {"files": [self._file_entry(rng, file_id) for file_id in ids]}
        return GROUP_BUILDERS[entity](rng, GroupFacts.generate(self.seed, group_id, self.users))

    def user_document(self, group_id: str, uid: str, entity: str) -> Document:
        """The generated document of a generated user's entity (USER_ENTITIES)."""
        index = self.user_index(group_id, uid)
        if entity not in USER_ENTITIES or index is None:
            raise KeyError((uid, entity))
        rng = random.Random(f"{self.seed}|{uid}|{entity}")
        if entity in MEDIA_ENTITIES:
            return {"files": [self._file_entry(rng, f"{uid}-ann-01")]}
        facts = GroupFacts.generate(self.seed, group_id, self.users)
        return USER_BUILDERS[entity](rng, facts, uid, index, person(self.seed, uid))

    def recording(self, file_id: str) -> Document:
        """Metadata of a generated recording (seed 003's recording properties)."""
        rng = random.Random(f"{self.seed}|{file_id}|meta")
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(365))
        clock = f"{rng.randrange(8, 19):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        return {
            "id": file_id,
            "cid": f"{rng.randrange(1_700_000_000, 1_800_000_000)}.{rng.randrange(1000)}",
            "campaign_id": "1",
            "caller": phone(rng),
            "agent_no": str(2000 + rng.randrange(1, 100)),
            "start_time": f"{day.isoformat()} {clock}",
            "filename": f"{file_id}.wav",
        }

    # -- media ----------------------------------------------------------------------------

    def group_announcement_ids(self, group_id: str) -> list[str]:
        """The ids of the group's own announcement files."""
        return [f"{group_id}-ann-{i:02d}" for i in range(1, GROUP_ANNOUNCEMENTS + 1)]

    def media_files(self, group_id: str) -> list[MediaFile]:
        """Every generated audio file of a group: announcements first, then recordings."""
        size = self.file_size
        files = [
            MediaFile(f"{group_id}-ann-{i:02d}", "announcement", None, size)
            for i in range(1, GROUP_ANNOUNCEMENTS + 1)
        ]
        files += [
            MediaFile(f"{u}-ann-01", "announcement", u, size) for u in self.user_ids(group_id)
        ]
        files += [
            MediaFile(f"{group_id}-rec-{i:04d}", "recording", None, size)
            for i in range(1, self.recordings_per_group + 1)
        ]
        return files

    def media_file(self, group_id: str, file_id: str) -> MediaFile | None:
        """The generated file ``file_id`` of the group, or None (parsed, not searched)."""
        rest = _child(file_id, group_id)
        size = self.file_size
        if _in_range(_suffix_number(rest, "ann-", 2), GROUP_ANNOUNCEMENTS):
            return MediaFile(file_id, "announcement", None, size)
        if _in_range(_suffix_number(rest, "rec-", 4), self.recordings_per_group):
            return MediaFile(file_id, "recording", None, size)
        owner = file_id.removesuffix("-ann-01")
        if owner != file_id and self.user_index(group_id, owner) is not None:
            return MediaFile(file_id, "announcement", owner, size)
        return None

    def audio_chunks(self, file_id: str) -> Iterator[bytes]:
        """The bytes of a generated file, in blocks of at most CHUNK_SIZE, computed lazily."""
        data_size = self.file_size - WAV_HEADER_SIZE
        yield _wav_header(data_size)
        for block, offset in enumerate(range(0, data_size, CHUNK_SIZE)):
            length = min(CHUNK_SIZE, data_size - offset)
            key = f"{self.seed}|{file_id}|{block}".encode()
            yield hashlib.shake_128(key).digest(length)

    def audio_digest(self, file_id: str) -> str:
        """The sha256 of a generated file (computed once, then cached; thread safe)."""
        with self._lock:
            cached = self._digests.get(file_id)
        if cached is not None:
            return cached
        digest = hashlib.sha256()
        for chunk in self.audio_chunks(file_id):
            digest.update(chunk)
        with self._lock:
            self._digests[file_id] = digest.hexdigest()
        return digest.hexdigest()

    def digest_cached(self, file_id: str) -> bool:
        """Whether :meth:`audio_digest` answers without hashing (else the server offloads it)."""
        with self._lock:
            return file_id in self._digests

    def _file_entry(self, rng: random.Random, file_id: str) -> Document:
        name, description = file_entry_name(rng, file_id)
        return {
            "id": file_id,
            "name": name,
            "description": description,
            "content_type": "audio/wav",
            "size": self.file_size,
            "sha256": self.audio_digest(file_id),
        }


def _child(child_id: str, parent_id: str) -> str:
    """``g01`` for ``("t01-g01", "t01")``; "" when the child is not under that parent."""
    prefix = f"{parent_id}-"
    return child_id[len(prefix) :] if child_id.startswith(prefix) else ""


def _in_range(number: int | None, count: int) -> bool:
    return number is not None and 1 <= number <= count


def _suffix_number(text: str, prefix: str, width: int) -> int | None:
    """``7`` for ``("t07", "t", 2)``; None unless ``text`` is exactly that formatting."""
    digits = text[len(prefix) :]
    if not text.startswith(prefix) or not digits.isdigit() or len(digits) < width:
        return None
    number = int(digits)
    return number if f"{prefix}{number:0{width}d}" == text else None


def _wav_header(data_size: int) -> bytes:
    """A canonical PCM WAV header: 8 kHz, mono, 16 bit (telephony quality)."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_size,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        8000,
        16000,
        2,
        16,
        b"data",
        data_size,
    )


@cache
def field_types(level: Literal["group", "user"], entity: str) -> dict[str, type | None]:
    """The JSON type of each top-level field of an entity (None: any), for validating writes.

    Taken from a generated document, so the validation can never disagree with what the sandbox
    itself serves. Fields that a write omits or adds are accepted: only a known field with a
    value of another type is refused (seed 003's "Incorrect parameters sent").
    """
    sample = Dataset(tenants=1, groups=1, users=1, seed=0, media_kb=1)
    doc = (
        sample.group_document("t01-g01", entity)
        if level == "group"
        else sample.user_document("t01-g01", "t01-g01-u0001", entity)
    )
    types: dict[str, type | None] = {}
    for key, value in doc.items():
        if value is None:
            types[key] = None
        elif isinstance(value, bool):
            types[key] = bool
        elif isinstance(value, int | float):
            types[key] = float
        else:
            types[key] = type(value)
    return types
