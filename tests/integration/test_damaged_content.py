"""A blob whose bytes decompress cleanly but hash to another digest (a file swapped or
rewritten on disk) is refused wherever it is read, not only by a verification: a stream of
it never delivers the whole content, and a restore fails naming the blob instead of writing
wrong content to the PBX. Real sandbox PBX, real stores, a real Worker."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest
import zstandard

from adapters.artifacts import BlobCorruptError, FolderArtifactStore
from domain.application import RewindApplication
from domain.restore import RestoreSpec
from tests.integration.conftest import SandboxFactory
from tests.integration.test_restore import (
    EXPORT,
    IVR,
    backed_up,
    group_target,
    vandalise,
    wait_restore,
    worker_for,
)
from tests.integration.test_worker import (
    GROUP_PATH,
    G,
    T,
    full_spec,
    get_json,
    register,
    running,
)


def swap_content(store: FolderArtifactStore, digest: str, other: bytes) -> None:
    """Replace a blob's file with a valid zstd frame (checksum and all) of other content."""
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(other)
    store.blob_path(digest).write_bytes(frame)


def test_a_stream_of_a_swapped_blob_never_hands_out_all_its_content(
    artifacts: FolderArtifactStore,
) -> None:
    content = os.urandom(300_000)
    ref = artifacts.put_bytes(content)
    swap_content(artifacts, ref.digest, os.urandom(len(content)))

    received = 0
    with pytest.raises(BlobCorruptError, match="content hashes to"):
        for piece in artifacts.iter_chunks(ref.digest, chunk_size=65536):
            received += len(piece)
    assert 0 < received < len(content)
    with pytest.raises(BlobCorruptError):
        artifacts.read_bytes(ref.digest)


async def test_a_restore_of_a_swapped_media_blob_fails_and_uploads_nothing(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await backed_up(app, worker, full_spec(download_files=True))
        saved = await get_json(f"{url}{EXPORT}")
        _, file_id = await vandalise(url, saved)  # the PBX's file is now "RIFF other audio"
        manifest = artifacts.read_manifest(str(backup_id))
        assert manifest is not None
        digest = manifest.files[f"{T}/{G}/media/{file_id}"]
        swap_content(artifacts, digest, b"RIFF swapped on disk")

        spec = RestoreSpec(backup_id=backup_id, target=group_target())
        restore = await asyncio.to_thread(app.request_restore, spec, "alice")
        worker.nudge()
        done = await wait_restore(app, restore.id)

    assert done.status == "FAILED"
    assert digest in (done.failure_reason or ""), done.failure_reason
    assert "corrupt" in (done.failure_reason or "")
    async with aiohttp.ClientSession() as http, http.get(f"{url}{GROUP_PATH}/media/{file_id}") as r:
        assert await r.read() == b"RIFF other audio"  # neither the swapped bytes nor a retry


async def test_a_restore_of_a_swapped_document_blob_fails_and_writes_nothing(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await backed_up(app, worker, full_spec())
        saved = await get_json(f"{url}{EXPORT}")
        await vandalise(url, saved)
        vandalised = await get_json(f"{url}{EXPORT}")
        manifest = artifacts.read_manifest(str(backup_id))
        assert manifest is not None
        digest = manifest.entities[IVR]
        swap_content(artifacts, digest, b'{"ivrs": [], "name": "not what was backed up"}')

        spec = RestoreSpec(backup_id=backup_id, target=group_target())
        restore = await asyncio.to_thread(app.request_restore, spec, "alice")
        worker.nudge()
        done = await wait_restore(app, restore.id)

    assert done.status == "FAILED"
    assert digest in (done.failure_reason or ""), done.failure_reason
    assert await get_json(f"{url}{EXPORT}") == vandalised
