"""Delete and verify against real parts: the sandbox PBX over HTTP, a real SQLite event
store, a real artifact store in a temp dir and a real Worker (purge grace 0: immediate).

No mocks, no timing assertions: tests wait for states with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.artifacts import FolderArtifactStore
from adapters.verifier import verify_backup, verify_sample
from adapters.worker import Worker
from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES
from domain.errors import IllegalMove
from domain.host import HostSettings
from domain.scope import Scope
from tests.integration.conftest import SandboxFactory
from tests.support.stores import StoreTarget

T, G = "t01", "t01-g01"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[RewindApplication]:
    application = StoreTarget.sqlite(tmp_path / "data").open()
    yield application
    application.close()


def spec(**fields: Any) -> BackupSpec:
    scope = Scope(host_id="default", tenant_id=T, group_id=G)
    return BackupSpec(
        scope=scope, group_entities=GROUP_ENTITIES, user_entities=USER_ENTITIES, **fields
    )


async def backed_up(
    app: RewindApplication, artifacts: FolderArtifactStore, worker: Worker, backup_spec: BackupSpec
) -> UUID:
    backup = await asyncio.to_thread(app.request_backup, backup_spec, "alice")
    await worker.run_until_idle(60)
    done = await asyncio.to_thread(app.get_backup, backup.id)
    assert done.status == "SUCCESS", done.failure_reason
    return backup.id


def digests(artifacts: FolderArtifactStore, backup_id: UUID) -> set[str]:
    manifest = artifacts.read_manifest(str(backup_id))
    assert manifest is not None
    return manifest.digests()


@pytest.fixture
async def two_backups(
    app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> tuple[Worker, UUID, UUID]:
    """Two backups of one unchanged group: the first with XML and media files too, the
    second JSON only, so they share the JSON blobs and the first has blobs of its own."""
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=4)
    app.register_host("default", HostSettings(name="sandbox", base_url=url), "admin")
    worker = Worker(app, artifacts, worker_id="w1", purge_grace_seconds=0)
    first = await backed_up(
        app, artifacts, worker, spec(formats=("json", "xml"), download_files=True)
    )
    second = await backed_up(app, artifacts, worker, spec())
    return worker, first, second


async def test_delete_purges_only_blobs_no_other_manifest_references(
    app: RewindApplication, artifacts: FolderArtifactStore, two_backups: tuple[Worker, UUID, UUID]
) -> None:
    worker, first, second = two_backups
    first_blobs, second_blobs = digests(artifacts, first), digests(artifacts, second)
    shared = first_blobs & second_blobs
    own = first_blobs - second_blobs
    assert shared and own, "the fixture should give the backups shared and own blobs"

    deleting = await asyncio.to_thread(app.delete_backup, first, "alice")
    assert deleting.status == "DELETING"
    version = deleting.version
    again = await asyncio.to_thread(app.delete_backup, first, "alice")
    assert again.status == "DELETING" and again.version == version  # nothing appended
    await worker.run_until_idle(30)

    purged = await asyncio.to_thread(app.get_backup, first)
    assert purged.purged
    history = [e.type for e in await asyncio.to_thread(app.history, first)]
    assert history[-2:] == ["Backup.DeleteRequested", "Backup.Purged"]
    assert artifacts.read_manifest(str(first)) is None
    assert not any(artifacts.has(d) for d in own)
    assert all(artifacts.blob_path(d).exists() for d in second_blobs)
    result = await asyncio.to_thread(verify_backup, app, artifacts, second, "verifier")
    assert result.status == "SUCCESS" and result.intact
    assert result.checked == len(second_blobs) and result.missing == result.corrupt == 0
    with pytest.raises(IllegalMove):
        await asyncio.to_thread(app.delete_backup, first, "alice")
    with pytest.raises(IllegalMove):
        await asyncio.to_thread(verify_backup, app, artifacts, first, "alice")


async def test_verify_detects_a_missing_blob_and_recovers_when_restored(
    app: RewindApplication, artifacts: FolderArtifactStore, two_backups: tuple[Worker, UUID, UUID]
) -> None:
    _, _, backup_id = two_backups
    digest = sorted(digests(artifacts, backup_id))[0]
    path = artifacts.blob_path(digest)
    original = path.read_bytes()
    path.unlink()

    result = await asyncio.to_thread(verify_backup, app, artifacts, backup_id, "alice")
    assert result.status == "MISSING" and result.missing == 1 and result.corrupt == 0
    assert result.reason is not None and digest in result.reason and "1 of" in result.reason
    backup = await asyncio.to_thread(app.get_backup, backup_id)
    assert backup.status == "MISSING" and not backup.is_valid
    last = (await asyncio.to_thread(app.history, backup_id))[-1]
    assert last.type == "Backup.MarkedMissing" and last.principal == "alice"

    # Still broken: reported again, nothing more recorded.
    version = backup.version
    again = await asyncio.to_thread(verify_backup, app, artifacts, backup_id, "alice")
    assert again.status == "MISSING"
    assert (await asyncio.to_thread(app.get_backup, backup_id)).version == version

    path.write_bytes(original)
    result = await asyncio.to_thread(verify_backup, app, artifacts, backup_id, "alice")
    assert result.status == "SUCCESS" and result.intact
    backup = await asyncio.to_thread(app.get_backup, backup_id)
    assert backup.status == "SUCCESS" and backup.is_valid


async def test_verify_detects_a_corrupted_blob(
    app: RewindApplication, artifacts: FolderArtifactStore, two_backups: tuple[Worker, UUID, UUID]
) -> None:
    _, _, backup_id = two_backups
    digest = sorted(digests(artifacts, backup_id))[-1]
    path = artifacts.blob_path(digest)
    original = path.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))

    result = await asyncio.to_thread(verify_backup, app, artifacts, backup_id, "alice")
    assert result.status == "MISSING" and result.corrupt == 1 and result.missing == 0
    assert result.reason is not None and digest in result.reason and "corrupt" in result.reason

    path.write_bytes(original)
    result = await asyncio.to_thread(verify_backup, app, artifacts, backup_id, "alice")
    assert result.status == "SUCCESS" and result.intact


async def test_a_missing_manifest_marks_missing_and_the_sampler_verifies(
    app: RewindApplication, artifacts: FolderArtifactStore, two_backups: tuple[Worker, UUID, UUID]
) -> None:
    """The periodic verifier's round: every candidate verified (share 1), a bad candidate
    (unknown id) logged and skipped, the manifest-less backup marked MISSING."""
    _, first, second = two_backups
    manifest = artifacts.manifest_path(str(second))
    saved = manifest.read_bytes()
    manifest.unlink()
    unknown = "00000000-0000-4000-8000-000000000000"
    candidates = [str(first), unknown, str(second)]

    results = await verify_sample(app, artifacts, lambda: candidates, 1.0, "verifier")
    by_id = {r.backup_id: r for r in results}
    assert set(by_id) == {str(first), str(second)}
    assert by_id[str(first)].status == "SUCCESS"
    assert by_id[str(second)].status == "MISSING"
    assert by_id[str(second)].reason == "manifest missing"
    last = (await asyncio.to_thread(app.history, second))[-1]
    assert last.type == "Backup.MarkedMissing" and last.principal == "verifier"

    manifest.write_bytes(saved)
    results = await verify_sample(app, artifacts, lambda: [str(second)], 1.0)
    assert [r.status for r in results] == ["SUCCESS"]


async def test_an_unfinished_backup_is_not_verified(
    app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=1)
    app.register_host("default", HostSettings(name="sandbox", base_url=url), "admin")
    backup = await asyncio.to_thread(app.request_backup, spec(), "alice")
    with pytest.raises(IllegalMove):
        await asyncio.to_thread(verify_backup, app, artifacts, backup.id, "alice")
