"""Property: whatever a backup could not read and however the PBX is edited afterwards, a
restore never removes or changes what the backup did not read, and brings everything it did
read (and the restore selects) back to the backed-up content.

Each example is a real run: a fresh sandbox PBX over HTTP whose chosen reads fail during the
backup (``/1.0/_faults``), a real worker and event store, random edits over HTTP, a restore
(whole scope with ``allow_partial``, or narrowed by entity and user lists), and the sandbox's
``_export`` judged against an oracle that knows only which paths were made to fail.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from adapters.artifacts import FolderArtifactStore
from adapters.sandbox import SandboxConfig, start_sandbox
from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES, entity_key
from domain.host import HostSettings
from domain.restore import RestoreSpec
from domain.scope import Scope
from tests.integration.test_restore import EXPORT, send, wait_restore, worker_for
from tests.integration.test_restore_partial import (
    choose_failures,
    entity_url_path,
    media_key_of,
    media_url_path,
    read_failures,
    value_at,
)
from tests.integration.test_worker import GROUP_PATH, G, T, ended, get_json, running, wait_backup
from tests.support.stores import StoreTarget

USERS = (f"{G}-u0001", f"{G}-u0002")
"""The sandbox's users with ``users=2`` (ids depend only on the counts)."""
FILES = (f"{G}-ann-01", f"{G}-ann-02", f"{USERS[0]}-ann-01", f"{USERS[1]}-ann-01")
"""Its announcement files: the group's two, one per user."""
OWNER = {
    FILES[0]: entity_key(T, G, "announcements"),
    FILES[1]: entity_key(T, G, "announcements"),
    FILES[2]: entity_key(T, G, "announcements", USERS[0]),
    FILES[3]: entity_key(T, G, "announcements", USERS[1]),
}
"""The document that lists each file."""
KEYS = tuple(
    [entity_key(T, G, e) for e in GROUP_ENTITIES]
    + [entity_key(T, G, e, u) for u in USERS for e in USER_ENTITIES]
)

edits = st.lists(
    st.one_of(
        st.tuples(st.just("change"), st.sampled_from(KEYS)),
        st.tuples(st.just("delete"), st.sampled_from(KEYS)),
        st.tuples(st.just("delete_user"), st.sampled_from(USERS)),
        st.tuples(st.just("add_user"), st.sampled_from(("extra-1", "extra-2"))),
        st.tuples(st.just("replace_file"), st.sampled_from(FILES)),
    ),
    max_size=6,
)
narrowing = st.one_of(
    st.none(),
    st.tuples(
        st.frozensets(st.sampled_from(GROUP_ENTITIES), max_size=4),
        st.frozensets(st.sampled_from(USER_ENTITIES), min_size=1),
        st.frozensets(st.sampled_from(USERS)),
    ),
)


@dataclass(frozen=True)
class Scenario:
    failing: frozenset[str]
    """Entities whose every read fails during the backup."""
    failing_files: frozenset[str]
    """Files whose every download fails during the backup."""
    edits: list[tuple[str, str]]
    narrowing: tuple[frozenset[str], frozenset[str], frozenset[str]] | None
    """(group entities, user entities, users) the restore is narrowed to; None: all."""

    def selects(self, key: str) -> bool:
        if self.narrowing is None:
            return True
        group_entities, user_entities, users = self.narrowing
        parts = key.split("/")
        if parts[2] == "group":
            return parts[3] in group_entities
        return parts[3] in users and parts[4] in user_entities


async def apply_edit(url: str, action: str, target: str, serial: int) -> None:
    """One edit of the PBX, when it applies to what the PBX holds now."""
    now = await get_json(f"{url}{EXPORT}")
    if action in ("change", "delete"):
        current = value_at(now, target)
        if current is None:
            return
        path = f"{url}{entity_url_path(target)}"
        if action == "delete":
            assert await send("DELETE", path) == 200
        else:
            assert await send("PUT", path, {**current, "note": f"edit {serial}"}) == 200
    elif action == "delete_user" and target in now["users"]:
        assert await send("DELETE", f"{url}{GROUP_PATH}/users/{target}") == 200
    elif action == "add_user" and target not in now["users"]:
        assert await send("POST", f"{url}{GROUP_PATH}/users/", {"id": target}) == 201
        phone_book = f"{url}{GROUP_PATH}/users/{target}/phone_book"
        assert await send("PUT", phone_book, {"note": f"edit {serial}"}) == 200
    elif action == "replace_file":
        data = f"RIFF edit {serial}".encode()
        assert await send("PUT", f"{url}{media_url_path(target)}", data=data) == 200


async def run_scenario(
    app: RewindApplication, artifacts: FolderArtifactStore, case: Scenario
) -> None:
    runner, url = await start_sandbox(
        SandboxConfig(port=0, tenants=1, groups=1, users=len(USERS), media_kb=1)
    )
    host_id = f"h{next(SERIAL)}"
    app.register_host(host_id, HostSettings(name="sandbox", base_url=url), "admin")
    scope = Scope(host_id=host_id, tenant_id=T, group_id=G)
    worker = worker_for(app, artifacts)
    try:
        saved = await get_json(f"{url}{EXPORT}")
        await choose_failures(url, read_failures(sorted(case.failing), sorted(case.failing_files)))
        async with running(worker):
            spec = BackupSpec(
                scope=scope,
                group_entities=GROUP_ENTITIES,
                user_entities=USER_ENTITIES,
                download_files=True,
            )
            backup = await asyncio.to_thread(app.request_backup, spec, "alice")
            worker.nudge()
            backup = await wait_backup(app, backup.id, ended, timeout=60)
            assert backup.status == "SUCCESS", backup.failure_reason
            await choose_failures(url, [])
            for serial, (action, target) in enumerate(case.edits):
                await apply_edit(url, action, target, serial)
            before = await get_json(f"{url}{EXPORT}")
            narrowed: dict[str, Any] = {"allow_partial": True}
            if case.narrowing is not None:
                group_entities, user_entities, users = case.narrowing
                narrowed = {
                    "group_entities": tuple(sorted(group_entities)),
                    "user_entities": tuple(sorted(user_entities)),
                    "users": tuple(sorted(users)),
                }
            restore = await asyncio.to_thread(
                app.request_restore,
                RestoreSpec(backup_id=backup.id, target=scope, **narrowed),
                "alice",
            )
            worker.nudge()
            done = await wait_restore(app, restore.id)
        after = await get_json(f"{url}{EXPORT}")
    finally:
        await runner.cleanup()
    assert done.status == "SUCCESS", done.failure_reason
    assert done.error_calls == 0
    judge(
        case, saved, before, after, {k for k, o in done.outcomes.items() if o.outcome == "ignored"}
    )


def judge(
    case: Scenario,
    saved: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    skipped: set[str],
) -> None:
    """The oracle: it knows only what was made to fail, what was edited and what was asked."""
    unread = set(case.failing)
    read = set(KEYS) - unread
    for key in unread:  # never removed or changed, selected or not
        assert value_at(after, key) == value_at(before, key), key
    for key in read:
        expected = saved if case.selects(key) else before
        assert value_at(after, key) == value_at(expected, key), key
    for file_id in FILES:
        key = media_key_of(file_id)
        restorable = file_id not in case.failing_files and OWNER[file_id] in read
        expected = saved if restorable and case.selects(OWNER[file_id]) else before
        assert value_at(after, key) == value_at(expected, key), key
    unread_files = {
        media_key_of(f) for f in case.failing_files if OWNER[f] in read and case.selects(OWNER[f])
    }
    assert skipped == {k for k in unread if case.selects(k)} | unread_files
    kept_by_reads = {u for u in USERS if any(k in read and case.selects(k) for k in _keys_of(u))}
    if case.narrowing is None:
        # Every user the backup listed stays or comes back if it read any of its entities;
        # a user it could read nothing of stays as it is; users added since are removed.
        assert set(after["users"]) == kept_by_reads | (set(USERS) & set(before["users"]))
    else:
        assert set(after["users"]) == set(before["users"]) | kept_by_reads


def _keys_of(user: str) -> list[str]:
    return [entity_key(T, G, e, user) for e in USER_ENTITIES]


SERIAL = itertools.count(1)

failures = st.tuples(
    st.frozensets(st.sampled_from(KEYS), max_size=5),
    st.frozensets(st.sampled_from(FILES), max_size=2),
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    # Each example runs real servers for about half a second: shrinking a failure would take
    # minutes, and the failing example is reported as generated.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(failures=failures, edits=edits, narrowing=narrowing)
def test_a_restore_never_touches_what_its_backup_did_not_read(
    failures: tuple[frozenset[str], frozenset[str]],
    edits: list[tuple[str, str]],
    narrowing: tuple[frozenset[str], frozenset[str], frozenset[str]] | None,
) -> None:
    case = Scenario(failures[0], failures[1], edits, narrowing)
    with tempfile.TemporaryDirectory() as tmp:
        app = StoreTarget.sqlite(Path(tmp) / "data").open()
        try:
            asyncio.run(run_scenario(app, FolderArtifactStore(Path(tmp) / "artifacts"), case))
        finally:
            app.close()
