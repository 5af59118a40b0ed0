"""Restores of backups that could not read part of their scope, against real parts: sandbox
PBXs over HTTP (their ``/1.0/_faults`` control makes chosen paths fail), a real event store,
artifact store and worker.

What the backup could not read is unknown, not absent: a restore never creates, changes or
deletes it, lists it as skipped with the reason, and a whole-scope restore of such a backup
needs ``allow_partial``. Judged by the sandbox's ``_export`` of the group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from adapters.artifacts import FolderArtifactStore
from adapters.pbx.client import PbxClient
from adapters.worker import Worker
from adapters.worker.backup_content import load_backup_content
from adapters.worker.restore_plan import TargetReader, dry_run
from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, entity_key
from domain.errors import BackupNotRestorable, IncompleteBackup
from domain.restore import Restore, RestoreSpec
from tests.integration.conftest import SandboxFactory
from tests.integration.test_restore import (
    EXPORT,
    group_target,
    send,
    wait_restore,
    worker_for,
)
from tests.integration.test_worker import (
    GROUP_PATH,
    G,
    T,
    ended,
    full_spec,
    get_json,
    group_spec,
    register,
    request,
    running,
    wait_backup,
)

# -- the sandbox's chosen failures, and the export as keys --------------------------------------


async def choose_failures(url: str, rules: list[dict[str, Any]]) -> None:
    """Make these paths fail on the sandbox (``[]`` clears every chosen failure)."""
    async with (
        aiohttp.ClientSession() as http,
        http.put(f"{url}/1.0/_faults", json={"rules": rules}) as response,
    ):
        assert response.status == 200, await response.text()


def entity_url_path(key: str) -> str:
    """The sandbox path of an entity key (``t/g/group/e`` or ``t/g/user/u/e``)."""
    parts = key.split("/")
    if parts[2] == "group":
        return f"{GROUP_PATH}/{parts[3]}"
    return f"{GROUP_PATH}/users/{parts[3]}/{parts[4]}"


def media_url_path(file_id: str) -> str:
    return f"{GROUP_PATH}/media/{file_id}"


def read_failures(keys: Sequence[str], files: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rules that make the backup's GET of these entities and downloads of these files fail."""
    rules = [{"path": entity_url_path(k), "method": "GET"} for k in keys]
    return rules + [{"path": media_url_path(f), "method": "GET"} for f in files]


def value_at(export: dict[str, Any], key: str) -> Any:
    """An entity's document (or a file's digest) in an export; None when absent."""
    parts = key.split("/")
    if parts[2] == "group":
        return export["group"].get(parts[3])
    if parts[2] == "media":
        file = export["media"].get(parts[3])
        return None if file is None else file["sha256"]
    return export["users"].get(parts[3], {}).get(parts[4])


def user_keys(user: str) -> list[str]:
    return [entity_key(T, G, e, user) for e in USER_ENTITIES]


def media_key_of(file_id: str) -> str:
    return f"{T}/{G}/media/{file_id}"


async def edit(url: str, export: dict[str, Any], key: str, note: str) -> None:
    """Change an entity on the sandbox (a field added to its document)."""
    document = {**value_at(export, key), "note": note}
    assert await send("PUT", f"{url}{entity_url_path(key)}", document) == 200


async def backed_up_with_errors(app: RewindApplication, worker: Worker, spec: BackupSpec) -> Backup:
    backup_id = await request(app, spec)
    worker.nudge()
    backup = await wait_backup(app, backup_id, ended, timeout=60)
    assert backup.status == "SUCCESS", backup.failure_reason
    assert backup.has_errors
    return backup


async def restored(app: RewindApplication, worker: Worker, spec: RestoreSpec) -> Restore:
    restore = await asyncio.to_thread(app.request_restore, spec, "alice")
    worker.nudge()
    return await wait_restore(app, restore.id)


def skipped_keys(restore: Restore) -> set[str]:
    return {key for key, o in restore.outcomes.items() if o.outcome == "ignored"}


# -- the tests ----------------------------------------------------------------------------------


async def test_the_sandbox_fails_chosen_paths_until_cleared(
    sandbox_factory: SandboxFactory,
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=1, media_kb=1)
    ivr = f"{url}{GROUP_PATH}/ivr"
    await choose_failures(url, [{"path": f"{GROUP_PATH}/ivr/", "method": "PUT", "status": 404}])
    assert await send("GET", ivr) == 200  # another method: answered
    assert await send("PUT", ivr, {"name": "x"}) == 404
    await choose_failures(url, [{"path": f"{GROUP_PATH}/ivr"}])
    assert await send("GET", ivr) == 500 and await send("GET", f"{ivr}?_page=1") == 500
    assert await send("GET", f"{url}{GROUP_PATH}/profile") == 200
    stats = await get_json(f"{url}/1.0/_stats")
    assert stats["injected_errors"] == 3
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{url}/1.0/_faults", json={"rules": [{"path": "x"}]}) as bad:
            assert bad.status == 400 and "rules.0.path" in (await bad.json())[0]
        async with http.delete(f"{url}/1.0/_faults") as cleared:
            assert (await cleared.json()) == {"rules": []}
    assert await send("GET", ivr) == 200


@dataclass
class Partial:
    """A group backed up while some reads failed, then edited on the PBX."""

    url: str
    backup: Backup
    saved: dict[str, Any]
    """The group when it was backed up."""
    edited: dict[str, Any]
    """The group after the edits, before any restore."""
    unknown: set[str]
    """What the backup could not read: entities and a file."""
    users: list[str]
    known_file: str


IVR, CALL_CENTER = entity_key(T, G, "ivr"), entity_key(T, G, "call_center")


async def partial_backup(app: RewindApplication, worker: Worker, url: str) -> Partial:
    """Back up a group of 3 users while the IVR, a voice mail, every entity of the second
    user and a file of the third cannot be read; then edit all of those, edit the call center,
    delete the third user's profile, replace two files and add a user."""
    register(app, url)
    saved = await get_json(f"{url}{EXPORT}")
    u0, u1, u2 = users = sorted(saved["users"])
    u0_file = saved["users"][u0]["announcements"]["files"][0]["id"]
    u2_file = saved["users"][u2]["announcements"]["files"][0]["id"]
    unread = [IVR, entity_key(T, G, "voice_mail", u0), *user_keys(u1)]
    await choose_failures(url, read_failures(unread, [u2_file]))
    backup = await backed_up_with_errors(app, worker, full_spec(download_files=True))
    assert backup.error_calls == len(unread) + 1
    await choose_failures(url, [])
    for key in (*unread[:2], entity_key(T, G, "profile", u1), CALL_CENTER):
        await edit(url, saved, key, "edited after the backup")
    profile = entity_key(T, G, "profile", u2)
    assert await send("DELETE", f"{url}{entity_url_path(profile)}") == 200
    for file_id in (u0_file, u2_file):
        assert await send("PUT", f"{url}{media_url_path(file_id)}", data=b"RIFF new") == 200
    assert await send("POST", f"{url}{GROUP_PATH}/users/", {"id": "newcomer"}) == 201
    edited = await get_json(f"{url}{EXPORT}")
    unknown = {*unread, media_key_of(u2_file)}
    return Partial(url, backup, saved, edited, unknown, users, u0_file)


async def test_a_dry_run_lists_what_the_backup_could_not_read_as_skipped_only(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=1)
    worker = worker_for(sqlite_app, artifacts)
    async with running(worker):
        case = await partial_backup(sqlite_app, worker, url)
    content = await asyncio.to_thread(load_backup_content, artifacts, case.backup)
    assert set(content.unknown) == case.unknown
    whole = RestoreSpec(backup_id=case.backup.id, target=group_target(), allow_partial=True)
    position = sqlite_app.current_position()
    async with PbxClient(url) as client:
        planned = await dry_run(TargetReader(client), content, whole)
    assert sqlite_app.current_position() == position
    assert {s.key for s in planned.skipped} == case.unknown
    assert all(s.reason.startswith("the backup could not") for s in planned.skipped)
    diff = planned.diff
    touched = {*diff.added, *diff.removed, *(c.key for c in diff.changed)}
    assert touched == {CALL_CENTER, entity_key(T, G, "profile", case.users[2])}
    assert [m.key for m in diff.media_changed] == [media_key_of(case.known_file)]
    assert await get_json(f"{url}{EXPORT}") == case.edited


async def test_a_whole_scope_restore_of_an_incomplete_backup_needs_allow_partial(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=1)
    worker = worker_for(app, artifacts)
    async with running(worker):
        case = await partial_backup(app, worker, url)
        whole = RestoreSpec(backup_id=case.backup.id, target=group_target())
        position = app.current_position()
        for existing in ("update", "skip"):
            with pytest.raises(IncompleteBackup) as refused:
                app.request_restore(whole.model_copy(update={"existing": existing}), "alice")
            assert (refused.value.code, refused.value.status) == (2011, 409)
            assert "allow_partial" in refused.value.message
        assert app.current_position() == position

        # A restricted restore runs without it, and skips what it selects and cannot know.
        some = whole.model_copy(update={"group_entities": ("ivr", "call_center"), "users": ()})
        narrow = await restored(app, worker, some)
    assert narrow.status == "SUCCESS" and not narrow.has_errors
    assert skipped_keys(narrow) == {IVR}
    now = await get_json(f"{url}{EXPORT}")
    assert value_at(now, IVR) == value_at(case.edited, IVR)
    assert value_at(now, CALL_CENTER) == value_at(case.saved, CALL_CENTER)


async def test_a_restore_never_touches_what_its_backup_could_not_read(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=1)
    worker = worker_for(app, artifacts)
    async with running(worker):
        case = await partial_backup(app, worker, url)
        spec = RestoreSpec(backup_id=case.backup.id, target=group_target(), allow_partial=True)
        done = await restored(app, worker, spec)
    assert done.status == "SUCCESS", done.failure_reason
    assert done.error_calls == 0 and not done.has_errors
    assert skipped_keys(done) == case.unknown
    content = await asyncio.to_thread(load_backup_content, artifacts, case.backup)
    assert {k: done.outcomes[k].message for k in case.unknown} == content.unknown
    now = await get_json(f"{url}{EXPORT}")
    for key in case.unknown:  # neither deleted nor changed: as the edits left it
        assert value_at(now, key) == value_at(case.edited, key), key
    assert sorted(now["users"]) == case.users  # the newcomer is gone, the unread user is not
    u0, _, u2 = case.users
    back = [CALL_CENTER, entity_key(T, G, "profile", u2), media_key_of(case.known_file)]
    for key in (*back, *user_keys(u0)[:3]):
        assert value_at(now, key) == value_at(case.saved, key), key


async def test_a_backup_without_user_entities_never_leads_to_deleting_users(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=2, media_kb=1)
    register(app, url)
    worker = worker_for(app, artifacts)
    async with running(worker):
        backup_id = await request(app, group_spec(group_entities=GROUP_ENTITIES))
        worker.nudge()
        backup = await wait_backup(app, backup_id, ended)
        assert backup.status == "SUCCESS" and not backup.has_errors
        saved = await get_json(f"{url}{EXPORT}")
        ivr = entity_key(T, G, "ivr")
        await edit(url, saved, ivr, "edited after the backup")
        done = await restored(app, worker, RestoreSpec(backup_id=backup_id, target=group_target()))
    assert done.status == "SUCCESS", done.failure_reason
    # The backup holds no user, so it says nothing about which users should exist.
    assert await get_json(f"{url}{EXPORT}") == saved


async def test_a_restores_own_failed_writes_count_as_error_calls(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    app = sqlite_app
    url = await sandbox_factory(tenants=1, groups=1, users=1, media_kb=1)
    register(app, url)
    worker = worker_for(app, artifacts)
    ivr, call_center = IVR, CALL_CENTER
    async with running(worker):
        backup_id = await request(app, full_spec())
        worker.nudge()
        assert (await wait_backup(app, backup_id, ended)).status == "SUCCESS"
        saved = await get_json(f"{url}{EXPORT}")
        for key in (ivr, call_center):
            await edit(url, saved, key, "edited after the backup")
        await choose_failures(
            url,
            [
                {"path": entity_url_path(ivr), "method": "PUT", "status": 404},
                {"path": entity_url_path(call_center), "method": "PUT", "status": 500},
            ],
        )
        done = await restored(app, worker, RestoreSpec(backup_id=backup_id, target=group_target()))
    assert done.status == "SUCCESS", done.failure_reason
    failed = {key for key, o in done.outcomes.items() if o.outcome == "error"}
    assert failed == {ivr, call_center}
    assert done.error_calls == 2 and done.has_errors
    assert all(done.outcomes[k].error_calls == 1 for k in failed)


async def test_a_backup_that_cannot_list_the_users_fails_and_restores_nothing(
    sqlite_app: RewindApplication, artifacts: FolderArtifactStore, sandbox_factory: SandboxFactory
) -> None:
    url = await sandbox_factory(tenants=1, groups=1, users=2, media_kb=1)
    register(sqlite_app, url)
    await choose_failures(url, [{"path": f"{GROUP_PATH}/users", "method": "GET"}])
    worker = worker_for(sqlite_app, artifacts)
    async with running(worker):
        backup_id = await request(sqlite_app, full_spec())
        worker.nudge()
        backup = await wait_backup(sqlite_app, backup_id, ended)
    # Without the users it cannot tell which users exist: no content a restore could use.
    assert backup.status == "FAILED" and backup.failure_reason
    with pytest.raises(BackupNotRestorable):
        sqlite_app.request_restore(
            RestoreSpec(backup_id=backup_id, target=group_target(), allow_partial=True), "alice"
        )
