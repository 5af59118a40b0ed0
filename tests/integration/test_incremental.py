"""Incremental and differential backups against the real sandbox PBX over HTTP, a real SQLite
event store, a real artifact store and a real Worker.

What a user relies on: an incremental stores only what changed since the previous backup of
its plan (a differential since the last full), yet restores on its own exactly as a full
backup taken at the same moment would; deleting its base changes nothing for it; and with
no base it runs as a full backup and says so.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

import pytest

from adapters.artifacts import FolderArtifactStore
from adapters.verifier import verify_backup
from adapters.worker import Worker
from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, BackupType, entity_key
from domain.restore import RestoreSpec
from domain.scope import Scope
from tests.integration.conftest import SandboxFactory
from tests.integration.test_delete_verify import app
from tests.integration.test_restore import api, call, send, until_ended, wait_restore
from tests.integration.test_worker import GROUP_PATH, G, T, get_json, register
from tests.support.stores import StoreTarget

# Fixtures shared with other tests: an SQLite application and the
# in-process HTTP application of the restore tests.
__all__ = ["api", "app"]

EXPORT = f"{GROUP_PATH}/_export"
IVR = entity_key(T, G, "ivr")
CALL_PICKUP = entity_key(T, G, "call_pickup")


class Rig(NamedTuple):
    """What every test here works with."""

    app: RewindApplication
    artifacts: FolderArtifactStore
    worker: Worker
    sandbox_factory: SandboxFactory

    async def pbx(self, **config: Any) -> str:
        """A fresh sandbox (one tenant, one group), registered as the default host."""
        url = await self.sandbox_factory(tenants=1, groups=1, **config)
        register(self.app, url)
        return url


@pytest.fixture
def rig(
    app: RewindApplication,
    artifacts: FolderArtifactStore,
    worker: Worker,
    sandbox_factory: SandboxFactory,
) -> Rig:
    return Rig(app, artifacts, worker, sandbox_factory)


@pytest.fixture
def worker(app: RewindApplication, artifacts: FolderArtifactStore) -> Worker:
    return Worker(app, artifacts, worker_id="w1", poll_interval=0.05, purge_grace_seconds=0)


def spec(backup_type: BackupType = BackupType.FULL, **fields: Any) -> BackupSpec:
    return BackupSpec(
        scope=Scope(host_id="default", tenant_id=T, group_id=G),
        group_entities=GROUP_ENTITIES,
        user_entities=USER_ENTITIES,
        download_files=True,
        backup_type=backup_type,
        **fields,
    )


async def backed_up(app: RewindApplication, worker: Worker, backup_spec: BackupSpec) -> Backup:
    requested = await asyncio.to_thread(app.request_backup, backup_spec, "alice")
    await worker.run_until_idle(60)
    done = await asyncio.to_thread(app.get_backup, requested.id)
    assert done.status == "SUCCESS", done.failure_reason
    assert not done.has_errors
    return done


def blob_bytes(artifacts: FolderArtifactStore) -> int:
    """Compressed bytes of every blob in the store."""
    return sum(artifacts.stored_size(d) for d in artifacts.iter_digests())


def changed_keys(backup: Backup) -> set[str]:
    return {k for k, o in backup.outcomes.items() if o.outcome == "success" and not o.unchanged}


async def rename_ivr(url: str, name: str) -> None:
    export = await get_json(f"{url}{EXPORT}")
    ivr = {**export["group"]["ivr"], "name": name}
    assert await send("PUT", f"{url}{GROUP_PATH}/ivr", ivr) == 200


async def replace_user_audio(url: str, audio: bytes) -> str:
    """Upload new audio for the first user's announcement file and list its new checksum in
    the user's announcements, as a PBX does. Returns the user id."""
    export = await get_json(f"{url}{EXPORT}")
    user = str(sorted(export["users"])[0])
    announcements = export["users"][user]["announcements"]
    file_id = announcements["files"][0]["id"]
    status = await send("PUT", f"{url}{GROUP_PATH}/media/{file_id}", data=audio)
    assert status == 200
    files = [
        {**entry, "sha256": hashlib.sha256(audio).hexdigest(), "size": len(audio)}
        if entry["id"] == file_id
        else entry
        for entry in announcements["files"]
    ]
    path = f"{url}{GROUP_PATH}/users/{user}/announcements"
    assert await send("PUT", path, {**announcements, "files": files}) == 200
    return user


async def restored_export(rig: Rig, backup_id: UUID, host_id: str) -> Any:
    """Restore a backup into a fresh sandbox (same counts and seed as every other fresh
    one, unlike the source) and return that sandbox's export."""
    app, worker = rig.app, rig.worker
    url = await rig.sandbox_factory(tenants=1, groups=1, users=3, media_kb=32, seed=7)
    register(app, url, host_id)
    target = Scope(host_id=host_id, tenant_id=T, group_id=G)
    restore = await asyncio.to_thread(
        app.request_restore, RestoreSpec(backup_id=backup_id, target=target), "alice"
    )
    await worker.run_until_idle(60)
    done = await wait_restore(app, restore.id)
    assert done.status == "SUCCESS", done.failure_reason
    assert not done.has_errors
    return await get_json(f"{url}{EXPORT}")


async def full_then_changes(rig: Rig) -> tuple[str, Backup, str]:
    """A full backup of a fresh sandbox, then two changes: the IVR renamed and the first
    user's audio file replaced. Returns (the sandbox URL, the full backup, that user)."""
    url = await rig.pbx(users=3, media_kb=32)
    full = await backed_up(rig.app, rig.worker, spec())
    await rename_ivr(url, "Changed since the full")
    user = await replace_user_audio(url, b"RIFF new greeting " * 500)
    return url, full, user


# -- tests -------------------------------------------------------------------------------------


async def test_an_incremental_stores_only_the_changes_and_restores_like_a_full(
    rig: Rig,
) -> None:
    app, artifacts, worker = rig.app, rig.artifacts, rig.worker
    url, full, user = await full_then_changes(rig)
    assert (full.effective_type, full.base_backup_id) == (BackupType.FULL, None)
    before = blob_bytes(artifacts)
    incremental = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    added = blob_bytes(artifacts) - before
    # An equivalent full taken at the same moment (nothing changes in between).
    equivalent = await backed_up(app, worker, spec())

    assert incremental.effective_type is BackupType.INCREMENTAL
    assert incremental.base_backup_id == full.id
    announcements = entity_key(T, G, "announcements", user)
    assert changed_keys(incremental) == {IVR, announcements}
    assert incremental.total is not None
    unchanged = [o for o in incremental.outcomes.values() if o.unchanged]
    assert len(unchanged) == incremental.total - 2
    # Only the changed audio file was downloaded: one call per document, plus one file.
    assert incremental.successful_calls == incremental.total + 1
    assert full.successful_calls > incremental.successful_calls

    # It stored the two changed documents and the one new file, nothing else; its
    # size_on_disk is exactly that plus its manifest, a small part of the full's.
    manifest = artifacts.read_manifest(str(incremental.id))
    base_manifest = artifacts.read_manifest(str(full.id))
    assert manifest is not None and base_manifest is not None
    new_blobs = manifest.digests() - base_manifest.digests()
    assert len(new_blobs) == 3
    assert added == sum(artifacts.stored_size(d) for d in new_blobs)
    manifest_size = artifacts.manifest_path(str(incremental.id)).stat().st_size
    assert incremental.size_on_disk == added + manifest_size
    assert incremental.size_on_disk * 4 < full.size_on_disk

    # Self-contained: it names everything the equivalent full names.
    same_moment = artifacts.read_manifest(str(equivalent.id))
    assert same_moment is not None
    assert (manifest.entities, manifest.files) == (same_moment.entities, same_moment.files)

    source = await get_json(f"{url}{EXPORT}")
    from_incremental = await restored_export(rig, incremental.id, "b")
    from_full = await restored_export(rig, equivalent.id, "c")
    assert from_incremental == from_full
    assert from_incremental["group"] == source["group"]
    assert from_incremental["users"] == source["users"]


async def test_a_differential_after_two_incrementals_is_based_on_the_full(
    rig: Rig,
) -> None:
    app, worker = rig.app, rig.worker
    url = await rig.pbx(users=3, media_kb=4)
    full = await backed_up(app, worker, spec())
    await rename_ivr(url, "first change")
    first = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    export = await get_json(f"{url}{EXPORT}")
    pickup = {**export["group"]["call_pickup"], "name": "second change"}
    assert await send("PUT", f"{url}{GROUP_PATH}/call_pickup", pickup) == 200
    second = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    differential = await backed_up(app, worker, spec(BackupType.DIFFERENTIAL))

    assert first.base_backup_id == full.id
    assert second.base_backup_id == first.id
    assert changed_keys(first) == {IVR}
    assert changed_keys(second) == {CALL_PICKUP}  # the IVR did not change since `first`
    assert differential.effective_type is BackupType.DIFFERENTIAL
    assert differential.base_backup_id == full.id
    assert changed_keys(differential) == {IVR, CALL_PICKUP}  # everything since the full

    # A later differential still bases on the full, not on the differential.
    again = await backed_up(app, worker, spec(BackupType.DIFFERENTIAL))
    assert again.base_backup_id == full.id
    # And a new full becomes the next incremental's base.
    newer_full = await backed_up(app, worker, spec())
    after = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    assert after.base_backup_id == newer_full.id
    assert changed_keys(after) == set()


async def test_deleting_the_base_keeps_the_incremental_restorable_and_verifiable(
    rig: Rig,
) -> None:
    app, artifacts, worker = rig.app, rig.artifacts, rig.worker
    url, full, _ = await full_then_changes(rig)
    incremental = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    source = await get_json(f"{url}{EXPORT}")
    full_only = (artifacts.read_manifest(str(full.id)) or pytest.fail()).digests() - (
        artifacts.read_manifest(str(incremental.id)) or pytest.fail()
    ).digests()
    assert full_only  # the old IVR and the old audio file

    await asyncio.to_thread(app.delete_backup, full.id, "alice")
    await worker.run_until_idle(60)
    assert (await asyncio.to_thread(app.get_backup, full.id)).purged
    assert not any(artifacts.has(d) for d in full_only)  # the full's own blobs are gone

    result = await asyncio.to_thread(verify_backup, app, artifacts, incremental.id, "alice")
    assert (result.status, result.reason, result.missing) == ("SUCCESS", None, 0)
    restored = await restored_export(rig, incremental.id, "b")
    assert restored["group"] == source["group"]
    assert restored["users"] == source["users"]

    # With its base deleted, the next incremental bases on the incremental.
    nxt = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    assert nxt.base_backup_id == incremental.id


async def test_without_a_base_an_incremental_runs_as_a_full_and_says_so(
    rig: Rig,
) -> None:
    app, artifacts, worker = rig.app, rig.artifacts, rig.worker
    await rig.pbx(users=2, media_kb=4)
    first = await backed_up(app, worker, spec(BackupType.INCREMENTAL))
    differential = await backed_up(app, worker, spec(BackupType.DIFFERENTIAL))

    assert (first.effective_type, first.base_backup_id) == (BackupType.FULL, None)
    assert "ran as a full backup" in first.base_reason
    assert not any(o.unchanged for o in first.outcomes.values())
    manifest = artifacts.read_manifest(str(first.id))
    assert manifest is not None
    assert first.size_on_disk == artifacts.size_on_disk(manifest)
    chosen = [e.payload for e in app.history(first.id) if e.type == "Backup.BaseChosen"]
    assert chosen == [
        {
            "backup_type": "full",
            "base_backup_id": None,
            "reason": first.base_reason,
            "principal": "worker:w1",
        }
    ]
    # The incremental that ran as a full is the differential's full base.
    assert differential.base_backup_id == first.id
    assert differential.total is not None
    assert len([o for o in differential.outcomes.values() if o.unchanged]) == differential.total


async def test_the_native_api_takes_backup_type_and_shows_the_base(api: tuple[Any, str]) -> None:
    client, url = api
    scope = {"tenant_id": T, "group_id": G}
    status, errors = await call(
        client, "POST", "/api/v1/backups", {**scope, "backup_type": "weekly"}
    )
    assert status == 400 and "backup_type" in errors[0]

    status, accepted = await call(
        client, "POST", "/api/v1/backups", {**scope, "backup_type": "incremental"}
    )
    assert status == 202, accepted
    first = await until_ended(client, f"/api/v1/backups/{accepted['id']}")
    assert first["status"] == "SUCCESS"
    # Nothing to base it on: it ran as a full backup.
    assert (first["type"], first["backup_type"], first["base_backup_id"]) == (
        "incremental",
        "full",
        None,
    )
    assert first["unchanged_entities"] == 0

    await rename_ivr(url, "changed through the API test")
    status, accepted = await call(
        client, "POST", "/api/v1/backups", {**scope, "backup_type": "incremental"}
    )
    assert status == 202, accepted
    second = await until_ended(client, f"/api/v1/backups/{accepted['id']}")
    assert second["status"] == "SUCCESS"
    assert (second["backup_type"], second["base_backup_id"]) == ("incremental", first["id"])
    assert second["unchanged_entities"] == second["progress"]["total"] - 1
    assert 0 < second["size_on_disk"] < first["size_on_disk"]
    status, report = await call(client, "GET", f"/api/v1/backups/{second['id']}/report")
    assert status == 200, report
    changes = report["changes"]
    assert (changes["base_backup_id"], changes["backup_type"]) == (first["id"], "incremental")
    assert changes["changed"] == [IVR]
    assert len(changes["unchanged"]) == second["progress"]["total"] - 1
    status, report = await call(client, "GET", f"/api/v1/backups/{first['id']}/report")
    assert status == 200 and set(report) == {"main", "group", "user"}  # seed 000's shape

    status, accepted = await call(client, "POST", "/api/v1/backups", {**scope, "type": "full"})
    assert status == 202, accepted
    full = await until_ended(client, f"/api/v1/backups/{accepted['id']}")
    assert (full["backup_type"], full["base_backup_id"]) == ("full", None)


async def test_another_process_finds_the_base_at_once_from_the_event_store(
    tmp_path: Path, rig: Rig
) -> None:
    """The full completes through one application; a second one on the same event store
    (another process's view of it, with no read model involved) bases the incremental on it
    right away."""
    app, artifacts, worker = rig.app, rig.artifacts, rig.worker
    await rig.pbx(users=2, media_kb=4)
    full = await backed_up(app, worker, spec())
    other_app = StoreTarget.sqlite(tmp_path / "data").open()
    try:
        other = Worker(other_app, artifacts, worker_id="w2", poll_interval=0.05)
        incremental = await backed_up(other_app, other, spec(BackupType.INCREMENTAL))
    finally:
        other_app.close()
    assert incremental.worker_id == "w2"
    assert incremental.base_backup_id == full.id
    assert changed_keys(incremental) == set()


async def test_a_base_whose_manifest_is_gone_costs_a_full_backup_but_nothing_breaks(
    rig: Rig,
) -> None:
    app, artifacts, worker = rig.app, rig.artifacts, rig.worker
    await rig.pbx(users=2, media_kb=4)
    full = await backed_up(app, worker, spec())
    assert artifacts.delete_manifest(str(full.id))  # not verified yet: still SUCCESS
    incremental = await backed_up(app, worker, spec(BackupType.INCREMENTAL))

    assert incremental.base_backup_id == full.id
    assert not any(o.unchanged for o in incremental.outcomes.values())
    manifest = artifacts.read_manifest(str(incremental.id))
    assert manifest is not None
    assert incremental.size_on_disk == artifacts.size_on_disk(manifest)
    result = await asyncio.to_thread(verify_backup, app, artifacts, incremental.id, "alice")
    assert (result.status, result.reason) == ("SUCCESS", None)
    # Every file was downloaded again: one call per document and per file, as a full does.
    assert incremental.successful_calls == full.successful_calls
