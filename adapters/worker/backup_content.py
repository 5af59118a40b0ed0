"""What a SUCCESS backup holds, and what it does not know, read for a restore or a diff.

A backup that ended with errors still holds everything it read, but an entity whose read
failed is *unknown*, not absent: the PBX may well have had it. So next to the documents and
files it holds, a backup's content says what it could not read, and which users it listed:

- ``documents``: entity key -> document, for every entity read (the manifest's entities);
- ``absent``: entity keys the PBX answered 404 for (recorded as ignored): known to be absent;
- ``unknown``: entity key -> why the backup could not read it (recorded as an error), and
  media key -> why, for a file a read document references that the backup should have
  downloaded and does not hold (its download failed or its bytes did not match);
- ``users``: per group, the users the backup listed (every user that has an outcome).

Unknowns and users are derived from the backup's recorded outcomes (its events) and its
manifest, not from anything written at backup time for the purpose, so backups taken before
this distinction existed are read the same way. Only what a backup positively holds (a
document, a file, a recorded absence, a listed user) may lead a restore to write or delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.artifacts import ArtifactError, ArtifactStore
from adapters.renderers import parse_json
from adapters.worker.entities import RECORDINGS, downloads_media, media_key, media_refs
from domain.backup import Backup
from domain.catalogue import MEDIA_ENTITIES, BackupKind, parse_entity_key
from domain.restore import RestoreSpec


class ContentUnavailable(Exception):
    """The backup's manifest or one of its blobs cannot be read."""


@dataclass(frozen=True)
class BackupContent:
    """A SUCCESS backup's content, read from the artifact store and its outcomes."""

    documents: dict[str, Any]
    """Entity key -> document."""
    files: dict[str, str]
    """Media key (``t/g/media/{file_id}``) -> digest, for the files the backup holds."""
    group_kinds: tuple[str, ...]
    user_kinds: tuple[str, ...]
    """The entity kinds the backup covered (what a whole-group restore may delete)."""
    groups: tuple[tuple[str, str], ...]
    absent: frozenset[str] = frozenset()
    """Entity keys the backup found absent on the PBX."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Entity or media key -> why the backup could not read it."""
    users: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    """(tenant, group) -> the users the backup listed there."""

    def listed_users(self, tenant: str, group: str) -> frozenset[str]:
        return self.users.get((tenant, group), frozenset())

    def media_unknowns(self, key: str) -> list[tuple[str, str]]:
        """(media key, reason) of the files an entity's document references that the
        backup could not download."""
        tenant, group, _, entity = parse_entity_key(key)
        if entity not in MEDIA_ENTITIES and entity != RECORDINGS:
            return []
        found = []
        for file_id, _ in media_refs(self.documents[key]):
            mkey = media_key(tenant, group, file_id)
            if mkey in self.unknown:
                found.append((mkey, self.unknown[mkey]))
        return found


def _entity_parts(key: str) -> tuple[str, str, str | None, str] | None:
    try:
        return parse_entity_key(key)
    except ValueError:
        return None


def load_backup_content(artifacts: ArtifactStore, backup: Backup) -> BackupContent:
    """Read a backup's manifest and documents (blocking: call it in a thread)."""
    try:
        manifest = artifacts.read_manifest(str(backup.id))
        if manifest is None:
            raise ContentUnavailable(f"backup {backup.id} has no manifest")
        documents = {
            key: parse_json(artifacts.read_bytes(digest))
            for key, digest in sorted(manifest.entities.items())
        }
    except (OSError, ArtifactError, ValueError) as error:
        raise ContentUnavailable(f"backup {backup.id}: {error}") from error
    files = {k: d for k, d in manifest.files.items() if k.split("/")[2:3] == ["media"]}
    spec = backup.spec
    group_kinds = tuple(spec.group_entities)
    if spec.kind == BackupKind.DATA:
        group_kinds = (*group_kinds, RECORDINGS)
    unknown: dict[str, str] = {}
    absent: set[str] = set()
    users: dict[tuple[str, str], set[str]] = {}
    seen_groups: set[tuple[str, str]] = set()
    for key, outcome in backup.outcomes.items():
        parts = _entity_parts(key)
        if parts is None:
            continue
        tenant, group, user, _ = parts
        seen_groups.add((tenant, group))
        if user is not None:
            users.setdefault((tenant, group), set()).add(user)
        if outcome.outcome == "error":
            unknown[key] = f"the backup could not read it: {outcome.message or 'error'}"
        elif outcome.outcome == "ignored":
            absent.add(key)
    for key, document in documents.items():
        tenant, group, _, entity = parse_entity_key(key)
        if not downloads_media(spec, entity):
            continue
        for file_id, _ in media_refs(document):
            mkey = media_key(tenant, group, file_id)
            if mkey not in files:
                unknown[mkey] = f"the backup could not download this file (listed by {key})"
    scope = backup.scope
    if scope.tenant_id is not None and scope.group_id is not None:
        groups: tuple[tuple[str, str], ...] = ((scope.tenant_id, scope.group_id),)
    else:
        groups = tuple(sorted(seen_groups | {parse_entity_key(k)[:2] for k in documents}))
    return BackupContent(
        documents=documents,
        files=files,
        group_kinds=group_kinds,
        user_kinds=tuple(spec.user_entities),
        groups=groups,
        absent=frozenset(absent - documents.keys()),
        unknown=unknown,
        users={g: frozenset(u) for g, u in users.items()},
    )


def selected(spec: RestoreSpec, key: str) -> bool:
    """Whether the restore's entity and user lists take in this entity key."""
    _, _, user, entity = parse_entity_key(key)
    if user is None:
        return spec.group_entities is None or entity in spec.group_entities
    if spec.users is not None and user not in spec.users:
        return False
    return spec.user_entities is None or entity in spec.user_entities


def whole_group(spec: RestoreSpec) -> bool:
    """A restore that makes the target equal the backup (and so may delete)."""
    return spec.existing == "update" and spec.whole_scope


__all__ = ["BackupContent", "ContentUnavailable", "load_backup_content", "selected", "whole_group"]
