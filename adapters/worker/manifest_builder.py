"""A finished backup's manifest, derived from its recorded outcomes and its stored blobs only.

Nothing the worker kept in memory goes in: entity digests come from the progress events, and
the files are re-derived from each stored JSON document (the media it references are
content-addressed by the sha256 the document lists; the XML rendering is rendered again from
it). So a backup resumed by another worker after a crash gets the same manifest as one that
ran uninterrupted over the same data, and a manifest can always be rebuilt from the log.
"""

from __future__ import annotations

from adapters.artifacts import ArtifactStore, Manifest, sha256_hex
from adapters.renderers import parse_json, render_xml
from adapters.worker.entities import downloads_media, media_key, media_refs, wants_xml
from domain.backup import Backup
from domain.catalogue import parse_entity_key


def xml_key(key: str) -> str:
    """The manifest file key of an entity's XML rendering."""
    return f"{key}.xml"


def build_manifest(backup: Backup, artifacts: ArtifactStore) -> Manifest:
    """The manifest of ``backup`` (blocking: reads blobs; call it in a thread).

    Media files that are not in the store (their download failed, counted as an error call)
    are left out, so the manifest never promises content that is not there.
    """
    spec = backup.spec
    xml = wants_xml(spec)
    entities: dict[str, str] = {}
    files: dict[str, str] = {}
    for key, outcome in sorted(backup.outcomes.items()):
        if outcome.outcome != "success" or outcome.digest is None:
            continue
        entities[key] = outcome.digest
        tenant, group, _, entity = parse_entity_key(key)
        media = downloads_media(spec, entity)
        if not (xml or media):
            continue
        document = parse_json(artifacts.read_bytes(outcome.digest))
        if xml:
            rendering = render_xml(document)
            digest = sha256_hex(rendering)
            # Stored when the entity was fetched; put again only if it has gone since.
            files[xml_key(key)] = digest if artifacts.has(digest) else _put(artifacts, rendering)
        if media:
            for file_id, digest in media_refs(document):
                if artifacts.has(digest):
                    files[media_key(tenant, group, file_id)] = digest
    meta = {
        "scope": str(backup.scope),
        "kind": str(spec.kind),
        "type": str(backup.effective_type),
        "sw_version": backup.sw_version,
    }
    if backup.base_backup_id is not None:
        # Informative only: the manifest is self-contained and restores without its base.
        meta["base_backup_id"] = str(backup.base_backup_id)
    return Manifest(
        backup_id=str(backup.id),
        entities=entities,
        files=files,
        formats=list(spec.formats),
        meta=meta,
    )


def _put(artifacts: ArtifactStore, data: bytes) -> str:
    return artifacts.put_bytes(data).digest
