"""P8 storage: the artifact store's bytes after two backups of a group (the second after
10% of its user entities and of its media files were changed on the PBX) against restic
(apt-get install restic) backing up the same content, exported as files, twice into one
repository. Target <= 1.0.

The export is what the two backups hold: each entity's canonical JSON and each media file,
read back from Rewind's artifact store into a directory tree (one file per entity key and
per media key), refreshed in place before restic's second run, so restic sees exactly the
same bytes and the same change."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from adapters.artifacts import FolderArtifactStore
from bench.client import backup_and_wait, call
from bench.common import Options, dir_bytes, report
from bench.stack import GROUP, Stack, stack
from bench.tools import ensure
from domain.catalogue import USER_ENTITIES

CHANGED_SHARE = 10
"""Every 10th user entity and every 10th user announcement file is changed."""


def _put_media(pbx: str, file_id: str, data: bytes) -> None:
    url = f"{pbx}/1.0/tenants/t01/groups/t01-g01/media/{file_id}"
    request = urllib.request.Request(
        url,
        data=data,
        method="PUT",
        headers={"Content-Type": "audio/wav", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def _edited(document: dict[str, Any]) -> dict[str, Any]:
    """The document with one string field changed (as an administrator's edit would)."""
    for key, value in document.items():
        if isinstance(value, str) and key != "id":
            return {**document, key: value + " (edited)"}
    return {**document, "description": "edited"}


def change_tenth(pbx: str, users: int, media_kb: int) -> tuple[int, int]:
    """Change 10% of the user entities and of the users' announcement files on the PBX."""
    group = f"{pbx}/1.0/tenants/t01/groups/t01-g01"
    pairs = [(u, e) for u in range(1, users + 1) for e in USER_ENTITIES]
    entities = 0
    for index, (number, entity) in enumerate(pairs):
        if index % CHANGED_SHARE:
            continue
        url = f"{group}/users/t01-g01-u{number:04d}/{entity}"
        status, document = call("GET", url)
        if status == 200 and isinstance(document, dict):
            call("PUT", url, _edited(document))
            entities += 1
    rng = random.Random(7)
    files = 0
    for number in range(1, users + 1, CHANGED_SHARE):
        file_id = f"t01-g01-u{number:04d}-ann-01"
        data = rng.randbytes(media_kb * 1024)
        _put_media(pbx, file_id, data)
        # The user's announcements document lists the file's digest: it changes too.
        url = f"{group}/users/t01-g01-u{number:04d}/announcements"
        _status, document = call("GET", url)
        for entry in document["files"]:
            if entry["id"] == file_id:
                entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        call("PUT", url, document)
        files += 1
    return entities, files


def export(store: FolderArtifactStore, backup_id: str, target: Path) -> None:
    """Write the backup's content as files: entities/<key>.json and files/<key>."""
    manifest = store.read_manifest(backup_id)
    assert manifest is not None
    for folder, items in (("entities", manifest.entities), ("files", manifest.files)):
        for key, digest in items.items():
            path = target / folder / (key + (".json" if folder == "entities" else ""))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(store.read_bytes(digest))


def restic_bytes(restic: str, repo: Path, source: Path) -> int:
    env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo)}
    subprocess.run(
        [restic, "backup", "-q", "."], cwd=source, env=env, check=True, stdout=subprocess.DEVNULL
    )
    return dir_bytes(repo)


def two_backups(s: Stack, users: int, media_kb: int, restic: str | None) -> tuple[int, int]:
    store = FolderArtifactStore(s.artifacts)
    source, repo = s.data_dir.parent / "export", s.data_dir.parent / "restic"
    env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_REPOSITORY": str(repo)}
    if restic:
        subprocess.run([restic, "init", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
    restic_size = 0
    for run in (1, 2):
        if run == 2:
            entities, files = change_tenth(s.pbx, users, media_kb)
            print(f"changed {entities} user entities and {files} media files on the PBX")
        row = backup_and_wait(s.base, **GROUP, download_announcement_files=True)
        shutil.rmtree(source, ignore_errors=True)
        export(store, row["id"], source)
        if restic:
            restic_size = restic_bytes(restic, repo, source)
        calls = f"{row['successful_calls']} calls ok, {row['error_calls']} failed"
        print(
            f"after backup {run} ({calls}): rewind {dir_bytes(s.artifacts):,} bytes, "
            f"restic {restic_size:,} bytes (export {dir_bytes(source):,} bytes)"
        )
    return dir_bytes(s.artifacts), restic_size


def run(options: Options) -> float:
    users, media_kb = (20, 16) if options.quick else (1000, 64)
    restic = ensure("restic")
    with stack("p8", users, "--media-kb", str(media_kb)) as s:
        rewind_size, restic_size = two_backups(s, users, media_kb, restic)
    if not restic_size:
        print("restic is not installed and cannot be: no comparison")
        return report("P8_storage", float("nan"), "<=1.0")
    return report("P8_storage", rewind_size / restic_size, "<=1.0")
