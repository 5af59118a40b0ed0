"""Restores against real parts: sandbox PBXs over HTTP, real event stores, a real artifact
store and a real Worker; the HTTP routes through the real aiohttp application in-process.

Success is judged by the sandbox's ``_export`` (canonical JSON of the whole group): after a
restore it must equal the export taken right after the backup. No timing assertions.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.artifacts import FolderArtifactStore
from adapters.pbx.client import PbxClient
from adapters.restore_diff import diff_states
from adapters.secrets import hash_token
from adapters.settings import Settings
from adapters.worker import Worker
from adapters.worker.backup_content import load_backup_content
from adapters.worker.restore_plan import TargetReader, dry_run
from api.core.app import ServeOptions, create_app
from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.catalogue import USER_ENTITIES, BackupKind, entity_key
from domain.errors import BackupNotRestorable, RestoreInProgress
from domain.restore import Restore, RestoreSpec
from domain.scope import Scope
from tests.integration.conftest import SandboxFactory
from tests.integration.test_worker import (
    GROUP_PATH,
    G,
    T,
    ended,
    full_spec,
    get_json,
    register,
    request,
    running,
    wait_backup,
)
from tests.support.stores import StoreTarget

EXPORT = f"{GROUP_PATH}/_export"
IVR = entity_key(T, G, "ivr")
CALL_CENTER = entity_key(T, G, "call_center")


@pytest.fixture
def app(store: StoreTarget) -> Iterator[RewindApplication]:
    application = store.open()
    yield application
    application.close()


def worker_for(app: RewindApplication, artifacts: FolderArtifactStore) -> Worker:
    return Worker(app, artifacts, worker_id="w1", poll_interval=0.05)


async def wait_restore(app: RewindApplication, restore_id: UUID, timeout: float = 60.0) -> Restore:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        restore = await asyncio.to_thread(app.get_restore, restore_id)
        if not restore.is_active:
            return restore
        if loop.time() > deadline:
            raise AssertionError(f"restore still {restore.status}")
        await asyncio.sleep(0.05)


async def backed_up(app: RewindApplication, worker: Worker, spec: BackupSpec) -> UUID:
    backup_id = await request(app, spec)
    worker.nudge()
    backup = await wait_backup(app, backup_id, ended)
    assert backup.status == "SUCCESS", backup.failure_reason
    assert not backup.has_errors
    return backup_id


async def send(method: str, url: str, body: Any = None, data: bytes | None = None) -> int:
    headers = {"Accept": "application/json"}
    if data is not None:
        headers = {"Accept": "application/json", "Content-Type": "audio/wav"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, json=body, data=data, headers=headers) as response,
    ):
        await response.read()
        return response.status


async def vandalise(url: str, export: dict[str, Any]) -> tuple[str, str]:
    """Change the IVR, delete the call center, delete a user and replace a user's audio
    file. Returns (the deleted user, the replaced file id)."""
    ivr = {**export["group"]["ivr"], "name": "Changed by the test"}
    assert await send("PUT", f"{url}{GROUP_PATH}/ivr", ivr) == 200
    assert await send("DELETE", f"{url}{GROUP_PATH}/call_center") == 200
    users = sorted(export["users"])
    assert await send("DELETE", f"{url}{GROUP_PATH}/users/{users[0]}") == 200
    file_id = export["users"][users[1]]["announcements"]["files"][0]["id"]
    status = await send("PUT", f"{url}{GROUP_PATH}/media/{file_id}", data=b"RIFF other audio")
    assert status == 200
    return users[0], file_id


def group_target(host_id: str = "default") -> Scope:
    return Scope(host_id=host_id, tenant_id=T, group_id=G)


# -- round trips -------------------------------------------------------------------------------


async def test_restore_puts_the_backed_up_group_back(
    app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await backed_up(app, worker, full_spec(download_files=True))
        saved = await get_json(f"{url}{EXPORT}")
        await vandalise(url, saved)
        assert await get_json(f"{url}{EXPORT}") != saved

        spec = RestoreSpec(backup_id=backup_id, target=group_target())
        restore = await asyncio.to_thread(app.request_restore, spec, "alice")
        worker.nudge()
        done = await wait_restore(app, restore.id)

    assert done.status == "SUCCESS", done.failure_reason
    assert not done.has_errors
    assert await get_json(f"{url}{EXPORT}") == saved
    assert done.total == len(done.outcomes) > 0
    assert {o.outcome for o in done.outcomes.values()} == {"success"}


async def test_restore_into_another_host_makes_it_equal_the_source(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    source = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2, seed=1)
    target = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2, seed=2)
    register(app, source)
    register(app, target, "other")
    worker = worker_for(app, artifacts)
    async with running(worker):
        # A DATA backup carries the recordings too, so the whole export can match.
        spec = full_spec(download_files=True, kind=BackupKind.DATA)
        backup_id = await backed_up(app, worker, spec)
        saved = await get_json(f"{source}{EXPORT}")
        assert await get_json(f"{target}{EXPORT}") != saved

        restore_spec = RestoreSpec(backup_id=backup_id, target=group_target("other"))
        restore = await asyncio.to_thread(app.request_restore, restore_spec, "alice")
        worker.nudge()
        done = await wait_restore(app, restore.id)

    assert done.status == "SUCCESS", done.failure_reason
    assert not done.has_errors
    assert await get_json(f"{target}{EXPORT}") == saved
    assert await get_json(f"{source}{EXPORT}") == saved  # the source is only read


async def test_skip_keeps_existing_entities_and_creates_absent_ones(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await backed_up(app, worker, full_spec(download_files=True))
        saved = await get_json(f"{url}{EXPORT}")
        user, _ = await vandalise(url, saved)
        spec = RestoreSpec(backup_id=backup_id, target=group_target(), existing="skip")
        restore = await asyncio.to_thread(app.request_restore, spec, "alice")
        worker.nudge()
        done = await wait_restore(app, restore.id)

    assert done.status == "SUCCESS", done.failure_reason
    now = await get_json(f"{url}{EXPORT}")
    assert now["group"]["ivr"]["name"] == "Changed by the test"  # existing: kept
    assert now["group"]["call_center"] == saved["group"]["call_center"]  # absent: created
    assert now["users"][user] == saved["users"][user]  # the deleted user is back


# -- dry run and diffs -------------------------------------------------------------------------


async def test_dry_run_lists_exactly_the_changes_and_appends_nothing(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await backed_up(app, worker, full_spec(download_files=True))
        await worker.wait_idle(30)
    saved = await get_json(f"{url}{EXPORT}")
    user, file_id = await vandalise(url, saved)

    position = app.current_position()
    backup = app.get_backup(backup_id)
    content = await asyncio.to_thread(load_backup_content, artifacts, backup)
    spec = RestoreSpec(backup_id=backup_id, target=group_target())
    async with PbxClient(url) as client:
        result = await dry_run(TargetReader(client), content, spec)
    diff = result.diff
    assert result.skipped == []

    assert app.current_position() == position  # nothing appended
    assert await get_json(f"{url}{EXPORT}") != saved  # nothing written
    user_keys = [entity_key(T, G, e, user) for e in USER_ENTITIES if e in saved["users"][user]]
    assert diff.added == []
    assert diff.removed == sorted([CALL_CENTER, *user_keys])
    assert [c.key for c in diff.changed] == [IVR]
    assert [(f.path, f.new) for f in diff.changed[0].fields] == [("/name", "Changed by the test")]
    assert [m.key for m in diff.media_changed] == [f"{T}/{G}/media/{file_id}"]
    assert diff.media_added == diff.media_removed == []


async def test_diff_of_two_backups_shows_exactly_the_changed_field(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=2, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        first = await backed_up(app, worker, full_spec())
        export = await get_json(f"{url}{EXPORT}")
        ivr = copy.deepcopy(export["group"]["ivr"])
        ivr["ivrs"][0]["name"] = "Night service"
        assert await send("PUT", f"{url}{GROUP_PATH}/ivr", ivr) == 200
        second = await backed_up(app, worker, full_spec())

    a = load_backup_content(artifacts, app.get_backup(first))
    b = load_backup_content(artifacts, app.get_backup(second))
    diff = diff_states(a.documents, b.documents, a.files, b.files)
    assert diff.added == diff.removed == []
    assert [c.key for c in diff.changed] == [IVR]
    [change] = diff.changed[0].fields
    assert (change.path, change.op, change.old, change.new) == (
        "/ivrs/0/name",
        "replace",
        export["group"]["ivr"]["ivrs"][0]["name"],
        "Night service",
    )


# -- refusals and cancel -----------------------------------------------------------------------


async def test_restores_are_refused_while_one_runs_and_for_unfinished_backups(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=2, media_kb=2)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await backed_up(app, worker, full_spec())
        await worker.wait_idle(30)
    # No worker runs now: whatever is requested stays INITIALIZING.
    pending = await request(app, full_spec(name="not-finished"))
    with pytest.raises(BackupNotRestorable) as refused:
        app.request_restore(RestoreSpec(backup_id=pending, target=group_target()), "alice")
    assert refused.value.code == 2010
    app.cancel(pending, "alice")
    app.acknowledge_cancel(pending, "alice")

    spec = RestoreSpec(backup_id=backup_id, target=group_target())
    first = app.request_restore(spec, "alice")
    position = app.current_position()
    with pytest.raises(RestoreInProgress) as busy:
        app.request_restore(spec, "bob")
    assert (busy.value.code, busy.value.status) == (1016, 409)
    assert app.current_position() == position

    # A restore cancelled before any worker took it is acknowledged by the worker.
    app.cancel(first.id, "alice")
    async with running(worker):
        worker.nudge()
        done = await wait_restore(app, first.id)
    assert (done.status, done.failure_reason) == ("FAILED", "cancelled")
    app.request_restore(spec, "bob")  # the host is free again


async def test_a_running_restore_stops_on_cancel_and_a_dead_workers_one_is_resumed(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=10, media_kb=2, latency_ms=30)
    register(app, url)
    worker = worker_for(app, artifacts)
    spec = RestoreSpec(backup_id=uuid.uuid4(), target=group_target())
    async with running(worker):
        spec = spec.model_copy(
            update={"backup_id": await backed_up(app, worker, full_spec(download_files=True))}
        )
        await worker.wait_idle(30)
        saved = await get_json(f"{url}{EXPORT}")
        await vandalise(url, saved)
        first = await asyncio.to_thread(app.request_restore, spec, "alice")
        worker.nudge()
        while len((await asyncio.to_thread(app.get_restore, first.id)).outcomes) < 2:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(app.cancel, first.id, "alice")
        cancelled = await wait_restore(app, first.id)
    assert (cancelled.status, cancelled.failure_reason) == ("FAILED", "cancelled")
    assert cancelled.total is not None and len(cancelled.outcomes) < cancelled.total

    # A worker that claimed a restore and died: another resumes it once the lease expired.
    second = app.request_restore(spec, "alice")
    app.claim(second.id, "dead-worker", 0.2)
    async with running(worker):
        worker.nudge()
        done = await wait_restore(app, second.id)
    assert done.status == "SUCCESS", done.failure_reason
    assert done.worker_id == "w1"
    assert await get_json(f"{url}{EXPORT}") == saved


# -- the HTTP routes -----------------------------------------------------------------------------

TOKEN = "restore-test-token"


@pytest.fixture
async def api(tmp_path: Path, sandbox_factory: SandboxFactory) -> AsyncIterator[tuple[Any, str]]:
    """The real application (views, worker) in-process, the default host a sandbox."""
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=2)
    settings = Settings(data_dir=tmp_path / "api-data", verify_sample_share=0)
    options = ServeOptions(settings=settings, admin_token_hash=hash_token(TOKEN), pbx_url=url)
    client = TestClient(TestServer(create_app(options)))
    await client.start_server()
    try:
        yield client, url
    finally:
        await client.close()


async def call(client: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    response = await client.request(method, path, json=body, headers=headers)
    return response.status, await response.json()


async def until_ended(client: Any, path: str) -> dict[str, Any]:
    for _ in range(1200):
        status, view = await call(client, "GET", path)
        assert status == 200, view
        if view["status"] not in ("INITIALIZING", "IN_PROGRESS", "CANCELLING"):
            return dict(view)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not end: {view}")


async def test_routes_dry_run_restore_with_safety_backup_and_diff(api: tuple[Any, str]) -> None:
    client, url = api
    body = {"tenant_id": T, "group_id": G, "download_announcement_files": True}
    status, accepted = await call(client, "POST", "/api/v1/backups", body)
    assert status == 202, accepted
    backup = await until_ended(client, f"/api/v1/backups/{accepted['id']}")
    assert backup["status"] == "SUCCESS"
    saved = await get_json(f"{url}{EXPORT}")
    await vandalise(url, saved)

    status, errors = await call(
        client, "POST", "/api/v1/restores", {"backup_id": backup["id"], "bogus": 1}
    )
    assert status == 400 and "bogus" in errors[0]
    status, _ = await call(client, "POST", "/api/v1/restores", {"backup_id": "nope"})
    assert status == 404

    _, events_before = await call(client, "GET", "/api/v1/events")
    status, dry = await call(
        client, "POST", "/api/v1/restores", {"backup_id": backup["id"], "dry_run": True}
    )
    assert status == 200, dry
    assert [c["key"] for c in dry["diff"]["changed"]] == [IVR]
    assert CALL_CENTER in dry["diff"]["removed"]
    assert (await call(client, "GET", "/api/v1/events"))[1] == events_before

    status, started = await call(client, "POST", "/api/v1/restores", {"backup_id": backup["id"]})
    assert status == 202, started
    assert started["status"] == "INITIALIZING" and started["safety_backup_id"]
    view = await until_ended(client, f"/api/v1/restores/{started['id']}")
    assert view["status"] == "SUCCESS", view
    assert view["safety_backup_id"] == started["safety_backup_id"]
    assert view["progress"]["done"] == view["progress"]["total"] > 0
    assert await get_json(f"{url}{EXPORT}") == saved

    safety = await until_ended(client, f"/api/v1/backups/{started['safety_backup_id']}")
    assert safety["status"] == "SUCCESS" and safety["name"].startswith("safety-")
    status, diff = await call(client, "GET", f"/api/v1/backups/{backup['id']}/diff/{safety['id']}")
    assert status == 200, diff
    # The safety backup holds the vandalised state: the diff shows what the restore undid.
    assert [c["key"] for c in diff["diff"]["changed"]] == [IVR]
    assert CALL_CENTER in diff["diff"]["removed"]
    status, _ = await call(client, "GET", f"/api/v1/backups/{backup['id']}/diff/nope")
    assert status == 404

    status, listing = await call(client, "GET", "/api/v1/restores")
    assert status == 200 and listing["total"] == 1
    assert listing["items"][0]["id"] == started["id"]
    status, _ = await call(client, "GET", "/api/v1/restores/nope")
    assert status == 404
    status, refused = await call(client, "POST", f"/api/v1/restores/{started['id']}/cancel")
    assert status == 409, refused
