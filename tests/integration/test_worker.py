"""The worker against real parts: the sandbox PBX over HTTP, real event stores (SQLite and
PostgreSQL for the basic flow and the fault test), a real artifact store in a temp dir.

No timing assertions: tests wait for states with a deadline, and check what was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import orjson
import pytest

from adapters.artifacts import FolderArtifactStore, Manifest
from adapters.renderers import parse_xml, render_json
from adapters.worker import Worker
from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.catalogue import (
    GROUP_ENTITIES,
    USER_ENTITIES,
    BackupKind,
    entity_key,
    parse_entity_key,
)
from domain.host import HostSettings
from domain.scope import Scope
from tests.integration.conftest import SandboxFactory
from tests.support.stores import StoreTarget

T, G = "t01", "t01-g01"
GROUP_PATH = f"/1.0/tenants/{T}/groups/{G}"
PROGRESS = {"Job.ScopeResolved", "Job.EntitySucceeded", "Job.EntityFailed", "Job.EntityIgnored"}
RECORDED = PROGRESS - {"Job.ScopeResolved"}


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def app(store: StoreTarget) -> Iterator[RewindApplication]:
    """An application on each kind of store (SQLite file, PostgreSQL schema)."""
    application = store.open()
    yield application
    application.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> StoreTarget:
    return StoreTarget.sqlite(tmp_path / "data")


@pytest.fixture
def sqlite_app(sqlite_store: StoreTarget) -> Iterator[RewindApplication]:
    application = sqlite_store.open()
    yield application
    application.close()


@contextlib.asynccontextmanager
async def running(*workers: Worker) -> AsyncIterator[None]:
    """Run workers for the duration of the block, then stop them as a shutdown would."""
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        async with asyncio.timeout(15):  # a worker that does not stop is a failure, not a hang
            await asyncio.gather(*tasks, return_exceptions=True)


def register(app: RewindApplication, url: str, host_id: str = "default") -> None:
    app.register_host(host_id, HostSettings(name="sandbox", base_url=url), "admin")


def group_spec(tenant: str = T, group: str = G, **fields: Any) -> BackupSpec:
    return BackupSpec(scope=Scope(host_id="default", tenant_id=tenant, group_id=group), **fields)


def full_spec(**fields: Any) -> BackupSpec:
    return group_spec(group_entities=GROUP_ENTITIES, user_entities=USER_ENTITIES, **fields)


async def request(app: RewindApplication, spec: BackupSpec) -> UUID:
    backup = await asyncio.to_thread(app.request_backup, spec, "alice")
    return backup.id


async def wait_backup(
    app: RewindApplication,
    backup_id: UUID,
    ready: Callable[[Backup], bool],
    timeout: float = 30.0,
) -> Backup:
    """Poll the backup until ``ready`` holds (AssertionError naming its state otherwise)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        backup = await asyncio.to_thread(app.get_backup, backup_id)
        if ready(backup):
            return backup
        if loop.time() > deadline:
            raise AssertionError(
                f"backup still {backup.status} ({len(backup.outcomes)} of {backup.total}, "
                f"reason {backup.failure_reason!r})"
            )
        await asyncio.sleep(0.05)


def ended(backup: Backup) -> bool:
    return not backup.is_active


async def history_types(app: RewindApplication, backup_id: UUID) -> list[tuple[str, Any]]:
    entries = await asyncio.to_thread(app.history, backup_id)
    return [(entry.type, entry.payload) for entry in entries]


async def recorded_keys(app: RewindApplication, backup_id: UUID) -> list[str]:
    """Every entity key recorded for the backup, once per progress event."""
    return [p["key"] for t, p in await history_types(app, backup_id) if t in RECORDED]


async def get_json(url: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Accept": "application/json"}) as response,
    ):
        assert response.status == 200
        return orjson.loads(await response.read())


def exported_document(export: dict[str, Any], key: str) -> Any:
    _, _, user, entity = parse_entity_key(key)
    if user is None:
        return export["group"][entity]
    return export["users"][user][entity]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the basic flow (SQLite and PostgreSQL) ---------------------------------------------------


async def test_group_backup_matches_the_sandbox_export(
    app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=50, media_kb=4)
    register(app, url)
    worker = Worker(app, artifacts, worker_id="w1")
    backup_id = await request(app, full_spec(download_files=True, formats=("json", "xml")))
    async with running(worker):
        worker.nudge()
        backup = await wait_backup(app, backup_id, ended)

    assert backup.status == "SUCCESS", backup.failure_reason
    expected_total = len(GROUP_ENTITIES) + 50 * len(USER_ENTITIES)
    assert backup.total == expected_total == 13 + 50 * 5
    assert len(backup.outcomes) == expected_total
    assert {o.outcome for o in backup.outcomes.values()} == {"success"}
    assert backup.error_calls == 0 and not backup.has_errors
    # 263 documents, 2 group announcement files and one per user.
    assert backup.successful_calls == expected_total + 2 + 50

    export = await get_json(f"{url}{GROUP_PATH}/_export")
    manifest = artifacts.read_manifest(str(backup_id))
    assert manifest is not None
    assert backup.content_path == artifacts.content_path(str(backup_id))
    assert backup.size_on_disk == artifacts.size_on_disk(manifest) > 0
    assert manifest.entities == {k: o.digest for k, o in backup.outcomes.items()}
    referenced: set[str] = set()
    for key, outcome in backup.outcomes.items():
        document = exported_document(export, key)
        assert outcome.digest == hashlib.sha256(render_json(document)).hexdigest(), key
        assert parse_xml(artifacts.read_bytes(manifest.files[f"{key}.xml"])) == document
        if key.endswith("/announcements"):
            referenced |= {file["id"] for file in document["files"]}
    assert len(referenced) == 2 + 50
    for file_id in referenced:
        digest = export["media"][file_id]["sha256"]
        assert manifest.files[f"{T}/{G}/media/{file_id}"] == digest
        assert hashlib.sha256(artifacts.read_bytes(digest)).hexdigest() == digest


async def test_failed_calls_are_counted_exactly(
    app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    """Every entity call whose every attempt was an injected fault is one error call; every
    other entity call one successful call. (Rates above the brief's 0.1 / 0.02 make calls
    that fail for good certain to occur with two attempts.)"""
    url = await sandbox_factory(
        tenants=1, groups=1, users=50, seed=3, error_rate=0.2, timeout_rate=0.02, hang_seconds=2
    )
    register(app, url)
    worker = Worker(app, artifacts, worker_id="w1", pbx_timeout_s=0.5, pbx_attempts=2)
    backup_id = await request(app, full_spec())
    async with running(worker):
        worker.nudge()
        backup = await wait_backup(app, backup_id, ended)

    assert backup.status == "SUCCESS", backup.failure_reason
    stats = (await get_json(f"{url}/1.0/_stats"))["paths"]
    assert stats  # sanity: the sandbox counted the calls
    failed_for_good = set()
    for key in backup.outcomes:
        _, _, user, entity = parse_entity_key(key)
        path = f"{GROUP_PATH}/{entity}" if user is None else f"{GROUP_PATH}/users/{user}/{entity}"
        counts = stats[path]
        if counts["requests"] == counts["injected_errors"] + counts["injected_timeouts"]:
            failed_for_good.add(key)
    assert failed_for_good, "the fault rates should make some calls fail for good"
    assert backup.error_calls == len(failed_for_good)
    assert backup.successful_calls + backup.error_calls == 13 + 50 * 5 == backup.total
    errors = {k for k, o in backup.outcomes.items() if o.outcome == "error"}
    assert errors == failed_for_good
    assert backup.has_errors
    manifest = artifacts.read_manifest(str(backup_id))
    assert manifest is not None
    assert set(manifest.entities) == set(backup.outcomes) - errors


# -- outcomes and failures (SQLite) -----------------------------------------------------------


async def test_unknown_entity_is_ignored_with_a_reason(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=2))
    spec = group_spec(group_entities=("profile", "nonsense"), user_entities=("voice_mail",))
    backup_id = await request(sqlite_app, spec)
    await Worker(sqlite_app, artifacts, worker_id="w1").run_until_idle(20)

    backup = await asyncio.to_thread(sqlite_app.get_backup, backup_id)
    assert backup.status == "SUCCESS"
    ignored = backup.outcomes[entity_key(T, G, "nonsense")]
    assert ignored.outcome == "ignored"
    assert ignored.message == "the host cannot serve nonsense"
    assert backup.successful_calls == 3 and backup.error_calls == 0
    manifest = artifacts.read_manifest(str(backup_id))
    assert manifest is not None and entity_key(T, G, "nonsense") not in manifest.entities


async def test_host_scope_lists_tenants_groups_and_users(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=2, groups=2, users=2, media_kb=1))
    spec = BackupSpec(
        scope=Scope(host_id="default"), group_entities=("ivr",), user_entities=("services",)
    )
    backup_id = await request(sqlite_app, spec)
    await Worker(sqlite_app, artifacts, worker_id="w1").run_until_idle(20)

    backup = await asyncio.to_thread(sqlite_app.get_backup, backup_id)
    assert backup.status == "SUCCESS"
    groups = [(t, f"{t}-g0{g}") for t in ("t01", "t02") for g in (1, 2)]
    expected = {entity_key(t, g, "ivr") for t, g in groups} | {
        entity_key(t, g, "services", f"{g}-u000{u}") for t, g in groups for u in (1, 2)
    }
    assert backup.total == len(expected) == 12
    assert set(backup.outcomes) == expected


async def test_unknown_group_fails_naming_it(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=1))
    backup_id = await request(sqlite_app, group_spec(group="t01-g09", group_entities=("ivr",)))
    await Worker(sqlite_app, artifacts, worker_id="w1").run_until_idle(20)

    backup = await asyncio.to_thread(sqlite_app.get_backup, backup_id)
    assert backup.status == "FAILED"
    assert backup.failure_reason == "group t01-g09 not found in tenant t01 on host default"


async def test_unreachable_host_fails_saying_so(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    register(sqlite_app, url)
    backup_id = await request(sqlite_app, group_spec(group_entities=("ivr",)))
    worker = Worker(sqlite_app, artifacts, worker_id="w1", pbx_attempts=2, pbx_timeout_s=1)
    await worker.run_until_idle(20)

    backup = await asyncio.to_thread(sqlite_app.get_backup, backup_id)
    assert backup.status == "FAILED"
    assert backup.failure_reason is not None
    said = f"host unreachable: no answer to GET {url}{GROUP_PATH}/users/ after 2 attempts: "
    assert backup.failure_reason.startswith(said), backup.failure_reason
    assert backup.total is None and not backup.outcomes


async def test_a_pbx_answering_500_fails_the_backup_saying_what_it_answered(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    """The PBX is reachable but answers 500 to every attempt at the users listing: the
    reason says so, with the request, rather than that the host could not be reached."""
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=1, error_rate=1.0))
    backup_id = await request(sqlite_app, group_spec(group_entities=("ivr",)))
    worker = Worker(sqlite_app, artifacts, worker_id="w1", pbx_attempts=3, pbx_timeout_s=5)
    await worker.run_until_idle(20)

    backup = await asyncio.to_thread(sqlite_app.get_backup, backup_id)
    assert backup.status == "FAILED"
    assert backup.failure_reason == (
        f"PBX answered 500 to GET {GROUP_PATH}/users/ after 3 attempts: "
        "Internal server error (injected by the sandbox)"
    )


# -- cancel, force and delete (SQLite) --------------------------------------------------------


def some_progress(backup: Backup) -> bool:
    return len(backup.outcomes) >= 5 or not backup.is_active


async def test_the_pbx_never_answers_more_calls_at_once_than_the_bound(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=30, latency_ms=20, media_kb=2)
    register(sqlite_app, url)
    worker = Worker(sqlite_app, artifacts, worker_id="w1", entity_concurrency=4)
    backup_id = await request(sqlite_app, full_spec(download_files=True))
    async with running(worker):
        worker.nudge()
        backup = await wait_backup(sqlite_app, backup_id, ended)

    assert backup.status == "SUCCESS", backup.failure_reason
    stats = await get_json(f"{url}/1.0/_stats")
    assert stats["requests"] >= 13 + 30 * 5
    # Documents and media downloads together: the bound holds, and is used.
    assert stats["most_in_flight"] == 4


async def test_cancel_mid_run_stops_recording(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=30, latency_ms=50))
    worker = Worker(sqlite_app, artifacts, worker_id="w1", entity_concurrency=4)
    backup_id = await request(sqlite_app, full_spec())
    async with running(worker):
        worker.nudge()
        await wait_backup(sqlite_app, backup_id, some_progress)
        await asyncio.to_thread(sqlite_app.cancel, backup_id, "alice")
        worker.nudge()
        backup = await wait_backup(sqlite_app, backup_id, ended)

    assert backup.status == "FAILED" and backup.failure_reason == "cancelled"
    assert backup.total is not None and len(backup.outcomes) < backup.total
    types = [t for t, _ in await history_types(sqlite_app, backup_id)]
    acknowledged = types.index("Job.CancelAcknowledged")
    assert types.index("Job.CancelRequested") < acknowledged
    assert not PROGRESS & set(types[acknowledged:])
    assert artifacts.read_manifest(str(backup_id)) is None


async def test_force_backup_waits_for_the_cancelled_one(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=20, latency_ms=50))
    worker = Worker(sqlite_app, artifacts, worker_id="w1", entity_concurrency=4)
    old_id = await request(sqlite_app, full_spec())
    async with running(worker):
        worker.nudge()
        await wait_backup(sqlite_app, old_id, some_progress)
        new_id = await request(sqlite_app, full_spec(force=True))
        worker.nudge()
        new = await wait_backup(sqlite_app, new_id, ended)

    old = await asyncio.to_thread(sqlite_app.get_backup, old_id)
    assert old.status == "FAILED" and old.failure_reason == "cancelled"
    assert new.status == "SUCCESS" and len(new.outcomes) == new.total
    log = [(e.aggregate_id, e.type) for _, e in sqlite_app.iter_log()]
    assert log.index((str(old_id), "Job.CancelAcknowledged")) < log.index(
        (str(new_id), "Job.Claimed")
    )


async def test_delete_purges_finished_and_running_backups(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=1, groups=2, users=20, latency_ms=20))
    worker = Worker(
        sqlite_app, artifacts, worker_id="w1", entity_concurrency=4, purge_grace_seconds=0
    )
    done_id = await request(sqlite_app, group_spec(group_entities=GROUP_ENTITIES))
    running_id = await request(sqlite_app, full_spec(group="t01-g02"))
    async with running(worker):
        worker.nudge()
        await wait_backup(sqlite_app, done_id, ended)
        await wait_backup(sqlite_app, running_id, some_progress)
        assert artifacts.read_manifest(str(done_id)) is not None
        for backup_id in (done_id, running_id):
            await asyncio.to_thread(sqlite_app.delete_backup, backup_id, "alice")
        worker.nudge()
        for backup_id in (done_id, running_id):
            backup = await wait_backup(sqlite_app, backup_id, lambda b: b.purged)
            assert backup.status == "DELETING"
    assert artifacts.read_manifest(str(done_id)) is None
    types = [t for t, _ in await history_types(sqlite_app, running_id)]
    assert types[-2:] == ["Backup.DeleteAcknowledged", "Backup.Purged"]


# -- several workers, resume (SQLite) ---------------------------------------------------------


async def test_two_workers_share_the_work_without_doubles(
    sqlite_store: StoreTarget, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    apps = [sqlite_store.open(), sqlite_store.open()]
    try:
        register(apps[0], await sandbox_factory(tenants=2, groups=2, users=5, media_kb=1))
        workers = [
            Worker(app, artifacts, worker_id=f"w{n}", max_jobs=2, poll_interval=0.05)
            for n, app in enumerate(apps)
        ]
        ids = [
            await request(apps[n % 2], full_spec(tenant=t, group=f"{t}-g0{g}"))
            for n, (t, g) in enumerate((t, g) for t in ("t01", "t02") for g in (1, 2))
        ]
        async with running(*workers):
            for worker in workers:
                worker.nudge()
            backups = [await wait_backup(apps[1], i, ended) for i in ids]
        assert [b.status for b in backups] == ["SUCCESS"] * 4
        for backup_id in ids:
            history = await history_types(apps[0], backup_id)
            assert [t for t, _ in history].count("Job.Claimed") == 1
            keys = await recorded_keys(apps[0], backup_id)
            assert len(keys) == len(set(keys)) == 13 + 5 * 5
    finally:
        for app in apps:
            app.close()


async def test_a_job_whose_worker_stopped_is_resumed_to_the_same_manifest(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    register(app, await sandbox_factory(tenants=1, groups=1, users=30, latency_ms=30, media_kb=2))
    spec = full_spec(download_files=True, formats=("json", "xml"), kind=BackupKind.DATA)
    first = Worker(app, artifacts, worker_id="gone", lease_seconds=1, entity_concurrency=4)
    backup_id = await request(app, spec)
    async with running(first):
        first.nudge()
        await wait_backup(app, backup_id, lambda b: len(b.outcomes) >= 20 or ended(b))
    stopped = await asyncio.to_thread(app.get_backup, backup_id)
    assert stopped.status == "IN_PROGRESS" and stopped.worker_id == "gone"

    second = Worker(app, artifacts, worker_id="next", lease_seconds=1, poll_interval=0.05)
    async with running(second):
        resumed = await wait_backup(app, backup_id, ended)
        again_id = await request(app, spec)
        second.nudge()
        again = await wait_backup(app, again_id, ended)

    assert resumed.status == again.status == "SUCCESS"
    history = await history_types(app, backup_id)
    assert [p["worker_id"] for t, p in history if t == "Job.Resumed"] == ["next"]
    keys = await recorded_keys(app, backup_id)
    # 13 group entities, recordings, 30 users x 5
    assert len(keys) == len(set(keys)) == resumed.total == 13 + 1 + 30 * 5
    manifests = [artifacts.read_manifest(str(i)) for i in (backup_id, again_id)]
    assert all(isinstance(m, Manifest) for m in manifests)
    resumed_manifest, again_manifest = (m for m in manifests if m is not None)
    assert resumed_manifest.entities == again_manifest.entities
    assert resumed_manifest.files == again_manifest.files
    assert any("-rec-" in key for key in resumed_manifest.files)


async def test_a_restarted_worker_resumes_its_own_jobs_at_once(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    """Same worker id after a restart: no waiting for the (here one minute) lease."""
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=20, latency_ms=30))
    backup_id = await request(sqlite_app, full_spec())
    before = Worker(sqlite_app, artifacts, worker_id="w1", lease_seconds=60, entity_concurrency=4)
    async with running(before):
        before.nudge()
        await wait_backup(sqlite_app, backup_id, some_progress)
    after = Worker(sqlite_app, artifacts, worker_id="w1", lease_seconds=60)
    async with running(after):
        backup = await wait_backup(sqlite_app, backup_id, ended, timeout=20)

    assert backup.status == "SUCCESS"
    history = await history_types(sqlite_app, backup_id)
    assert [p["previous_worker_id"] for t, p in history if t == "Job.Resumed"] == ["w1"]
    keys = await recorded_keys(sqlite_app, backup_id)
    assert len(keys) == len(set(keys)) == backup.total


async def test_a_backup_cancelled_before_any_claim_is_acknowledged(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    register(sqlite_app, await sandbox_factory(tenants=1, groups=1, users=1))
    backup_id = await request(sqlite_app, full_spec())
    await asyncio.to_thread(sqlite_app.cancel, backup_id, "alice")
    await Worker(sqlite_app, artifacts, worker_id="w1").run_until_idle(20)

    backup = await asyncio.to_thread(sqlite_app.get_backup, backup_id)
    assert backup.status == "FAILED" and backup.failure_reason == "cancelled"
    types = [t for t, _ in await history_types(sqlite_app, backup_id)]
    assert types == ["Backup.Requested", "Job.CancelRequested", "Job.CancelAcknowledged"]
