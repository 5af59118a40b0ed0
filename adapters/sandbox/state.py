"""What the sandbox holds now: the generated data set with the writes of restores on top.

Writes are kept in memory as overrides (documents, users added or removed, media replaced or
deleted), so an untouched sandbox costs nothing per user and a reset is a restart. Uploaded
audio is the only thing written to disk: streamed into a private temporary directory that is
removed when the server stops.

Rules a restore relies on:
- ``PUT`` of an entity replaces its document whole (seed 003 merges partial updates; a restore
  needs the exact document back), and recreates a deleted one.
- Removing a user removes its documents; creating it again starts with none, except a
  ``profile`` built from the creation body when that body holds more than the id.
- Media files belong to the group, not to a user: removing a user keeps its files.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES

from .dataset import Dataset, MediaFile
from .documents import Document


@dataclass(frozen=True)
class StoredFile:
    """An uploaded audio file on disk."""

    path: Path
    size: int
    sha256: str


@dataclass
class _GroupWrites:
    docs: dict[str, Document | None] = field(default_factory=dict)
    user_docs: dict[tuple[str, str], Document | None] = field(default_factory=dict)
    added_users: set[str] = field(default_factory=set)
    removed_users: set[str] = field(default_factory=set)
    blank_users: set[str] = field(default_factory=set)
    """Generated users that were removed once: their generated documents no longer apply."""
    media: dict[str, StoredFile | None] = field(default_factory=dict)


class SandboxState:
    """The sandbox's current content, read and written by the route handlers (loop thread)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._writes: dict[str, _GroupWrites] = {}
        self._media_dir: Path | None = None

    def _group(self, group_id: str) -> _GroupWrites:
        return self._writes.setdefault(group_id, _GroupWrites())

    def _peek(self, group_id: str) -> _GroupWrites:
        return self._writes.get(group_id) or _GroupWrites()

    # -- users ----------------------------------------------------------------------------

    def user_ids(self, group_id: str) -> list[str]:
        """The group's users now, sorted."""
        writes = self._peek(group_id)
        generated = [u for u in self.dataset.user_ids(group_id) if u not in writes.removed_users]
        return sorted([*generated, *writes.added_users])

    def has_user(self, group_id: str, user_id: str) -> bool:
        """Whether the user exists now."""
        writes = self._peek(group_id)
        if user_id in writes.added_users:
            return True
        generated = self.dataset.user_index(group_id, user_id) is not None
        return generated and user_id not in writes.removed_users

    def add_user(self, group_id: str, user_id: str, profile: Document | None) -> bool:
        """Create a user (False when it exists already)."""
        if self.has_user(group_id, user_id):
            return False
        writes = self._group(group_id)
        if user_id in writes.removed_users:
            writes.removed_users.discard(user_id)
        else:
            writes.added_users.add(user_id)
        if profile is not None:
            writes.user_docs[(user_id, "profile")] = profile
        return True

    def remove_user(self, group_id: str, user_id: str) -> bool:
        """Remove a user and its documents (False when it does not exist)."""
        if not self.has_user(group_id, user_id):
            return False
        writes = self._group(group_id)
        if user_id in writes.added_users:
            writes.added_users.discard(user_id)
        else:
            writes.removed_users.add(user_id)
            writes.blank_users.add(user_id)
        for entity in USER_ENTITIES:
            writes.user_docs.pop((user_id, entity), None)
        return True

    # -- documents ------------------------------------------------------------------------

    def group_doc(self, group_id: str, entity: str) -> Document | None:
        """A group entity's document now (None once deleted)."""
        writes = self._peek(group_id)
        if entity in writes.docs:
            return writes.docs[entity]
        return self.dataset.group_document(group_id, entity)

    def user_doc(self, group_id: str, user_id: str, entity: str) -> Document | None:
        """A user entity's document now (None when deleted or never written)."""
        writes = self._peek(group_id)
        if (user_id, entity) in writes.user_docs:
            return writes.user_docs[(user_id, entity)]
        if user_id in writes.added_users or user_id in writes.blank_users:
            return None
        return self.dataset.user_document(group_id, user_id, entity)

    def put_group_doc(self, group_id: str, entity: str, doc: Document | None) -> None:
        """Replace (or, with None, delete) a group entity's document."""
        self._group(group_id).docs[entity] = doc

    def put_user_doc(self, group_id: str, user_id: str, entity: str, doc: Document | None) -> None:
        """Replace (or, with None, delete) a user entity's document."""
        self._group(group_id).user_docs[(user_id, entity)] = doc

    # -- media ----------------------------------------------------------------------------

    def media(self, group_id: str, file_id: str) -> MediaFile | StoredFile | None:
        """A media file now: generated, uploaded, or None (missing or deleted)."""
        writes = self._peek(group_id)
        if file_id in writes.media:
            return writes.media[file_id]
        return self.dataset.media_file(group_id, file_id)

    def media_ids(self, group_id: str) -> list[str]:
        """Every media file id of the group now, sorted."""
        writes = self._peek(group_id)
        ids = {f.file_id for f in self.dataset.media_files(group_id)}
        ids |= {file_id for file_id, stored in writes.media.items() if stored is not None}
        ids -= {file_id for file_id, stored in writes.media.items() if stored is None}
        return sorted(ids)

    def delete_media(self, group_id: str, file_id: str) -> bool:
        """Delete a media file (False when it does not exist)."""
        if self.media(group_id, file_id) is None:
            return False
        self._group(group_id).media[file_id] = None
        return True

    async def store_media(
        self, group_id: str, file_id: str, chunks: AsyncIterator[bytes]
    ) -> StoredFile:
        """Stream an upload to disk (temporary name, then rename) and make it the file's bytes."""
        if self._media_dir is None:
            self._media_dir = Path(tempfile.mkdtemp(prefix="rewind-sandbox-"))
        name = hashlib.sha256(f"{group_id}/{file_id}".encode()).hexdigest()
        final = self._media_dir / name
        temporary = self._media_dir / f"{name}.{os.urandom(6).hex()}.part"
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(temporary.open, "wb")
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            handle.close()
            temporary.unlink(missing_ok=True)
            raise
        await asyncio.to_thread(handle.close)
        await asyncio.to_thread(os.replace, temporary, final)
        stored = StoredFile(final, size, digest.hexdigest())
        self._group(group_id).media[file_id] = stored
        return stored

    async def media_digest(self, file: MediaFile | StoredFile) -> str:
        """The sha256 of a media file, hashing a generated one off the loop the first time."""
        if isinstance(file, StoredFile):
            return file.sha256
        if self.dataset.digest_cached(file.file_id):
            return self.dataset.audio_digest(file.file_id)
        return await asyncio.to_thread(self.dataset.audio_digest, file.file_id)

    async def warm_digests(self, file_ids: list[str]) -> None:
        """Hash the not yet hashed generated files off the loop, before a document needs them."""
        pending = [f for f in file_ids if not self.dataset.digest_cached(f)]
        if pending:
            await asyncio.to_thread(lambda: [self.dataset.audio_digest(f) for f in pending])

    def close(self) -> None:
        """Remove the uploaded files."""
        if self._media_dir is not None:
            shutil.rmtree(self._media_dir, ignore_errors=True)
            self._media_dir = None

    # -- export ---------------------------------------------------------------------------

    async def export(self, tenant_id: str, group_id: str) -> dict[str, Any]:
        """The group as it is now; the shape is documented in server.py."""
        ids = self.media_ids(group_id)
        await self.warm_digests(ids)
        users = {}
        for user_id in self.user_ids(group_id):
            docs = {e: self.user_doc(group_id, user_id, e) for e in USER_ENTITIES}
            users[user_id] = {e: d for e, d in docs.items() if d is not None}
        group = {e: self.group_doc(group_id, e) for e in GROUP_ENTITIES}
        media = {}
        for file_id in ids:
            file = self.media(group_id, file_id)
            if file is not None:
                media[file_id] = {"sha256": await self.media_digest(file), "size": file.size}
        return {
            "tenant_id": tenant_id,
            "group_id": group_id,
            "group": {e: d for e, d in group.items() if d is not None},
            "users": users,
            "media": media,
        }
