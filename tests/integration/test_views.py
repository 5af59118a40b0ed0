"""The views on both backends: exactly-once application, catching up after a restart,
read-your-writes, supervision of a failing projection, and replay --check."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest
from eventsourcing.persistence import StoredEvent, Tracking

from adapters.event_store import VIEWS_FILE, application_env
from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope
from projections.replay import fresh_views, open_views, rebuild
from projections.rows import fold
from projections.schema import AUDIT_COLUMNS, OUTCOME_COLUMNS
from projections.service import ViewsService, view_class_for
from projections.views import BackupFilters, PreparedBatch
from tests.support.processes import REWIND
from tests.support.stores import PG_URL, StoreTarget


def _seed(app: RewindApplication, groups: int = 3, tenant: str = "t1") -> list[UUID]:
    if not app.has_host("default"):
        app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    ids = []
    for g in range(groups):
        spec = BackupSpec(scope=Scope(host_id="default", tenant_id=tenant, group_id=f"g{g}"))
        backup = app.request_backup(spec, "alice")
        app.claim(backup.id, "w1", 30)
        app.resolve_scope(backup.id, "w1", 2)
        app.hold(backup.id, "w1").record_success(f"{tenant}/g{g}/group/profile", "ab" * 32, 1)
        app.hold(backup.id, "w1").record_ignored(f"{tenant}/g{g}/group/nonsense", "not served")
        if g % 2 == 0:
            app.hold(backup.id, "w1").complete(42, "/x")
        ids.append(backup.id)
    return ids


def _log(app: RewindApplication) -> list[tuple[int, Any]]:
    records = app.recorder.select_notifications(start=0, limit=100000, inclusive_of_start=False)
    return [(r.id, app.mapper.to_domain_event(r)) for r in records]


async def _caught_up(app: RewindApplication, views: ViewsService) -> None:
    assert await views.waiter.wait(app.current_position(), timeout=30)


async def test_views_follow_commands_and_equal_the_fold(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    app, views = service
    ids = await asyncio.to_thread(_seed, app)
    await _caught_up(app, views)
    view = views.view
    folded = fold(_log(app))
    for backup_id in ids:
        row = view.backup(str(backup_id))
        assert row == folded.backups[str(backup_id)]
        live = app.get_backup(backup_id)
        assert (row.status, row.done, row.total) == (live.status, live.done, live.total)
        assert row.successful_calls == live.successful_calls
        assert [o.outcome for o in view.outcomes(str(backup_id))] == ["success", "ignored"]
    total, rows = view.list_backups(BackupFilters(status=["SUCCESS"]))
    assert total == 2 and all(r.status == "SUCCESS" for r in rows)
    assert [r.created_at for r in rows] == sorted((r.created_at for r in rows), reverse=True)
    assert len(view.audit_log(0, 10000)) == app.current_position()


async def test_read_your_writes_a_poll_right_after_a_command_finds_it(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    app, views = service
    await asyncio.to_thread(_seed, app, 1)

    def command() -> tuple[UUID, int]:
        app.reset_saved_position()
        spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t9", group_id="g9"))
        backup = app.request_backup(spec, "alice")
        return backup.id, app.saved_position()

    backup_id, position = await asyncio.to_thread(command)
    assert position == app.current_position()
    assert await views.waiter.wait(position, timeout=30)
    row = views.view.backup(str(backup_id))
    assert row is not None and row.status == "INITIALIZING"


async def test_a_new_runner_resumes_where_the_last_stopped(store: StoreTarget) -> None:
    app = store.open()
    try:
        settings = store.settings()
        first = ViewsService(settings)
        task = asyncio.create_task(first.run())
        await asyncio.to_thread(_seed, app, 2)
        while first.waiter.position < app.current_position():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stopped_at = app.current_position()
        more = await asyncio.to_thread(_seed, app, 2, "t2")
        stored = open_views(application_env(settings), view_class_for(settings))
        assert stored.max_tracking_id(app.name) == stopped_at  # type: ignore[attr-defined]
        second = ViewsService(settings)
        task = asyncio.create_task(second.run())
        try:
            while second.runner is None:
                await asyncio.sleep(0.01)
            await _caught_up(app, second)
            view = second.view
            assert len(view.audit_log(0, 10000)) == app.current_position(), "applied twice"
            assert view.backup(str(more[0])) is not None
            assert len(view.snapshot()["backups"]) == 4
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        app.close()


def test_applying_a_position_twice_changes_nothing(store: StoreTarget) -> None:
    app = store.open()
    try:
        _seed(app, 1)
        view = open_views(application_env(store.settings()), view_class_for(store.settings()))
        log = _log(app)
        for position, event in log:
            view.apply_event(event, Tracking(app.name, position))
        before = view.snapshot()
        # Another API process of a scaled-out deployment may have applied it already: the
        # second application is skipped (not an error that would stop the projection).
        position, event = log[-1]
        view.apply_event(event, Tracking(app.name, position))
        position, event = log[3]
        view.apply_event(event, Tracking(app.name, position))
        assert view.snapshot() == before
    finally:
        app.close()


async def test_a_failing_projection_is_restarted_and_reported(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    app, views = service
    await asyncio.to_thread(_seed, app, 1)
    await _caught_up(app, views)
    broken = StoredEvent(
        originator_id=UUID(int=7),
        originator_version=1,
        topic="domain.backup:Backup.NoSuchEvent",
        state=orjson.dumps({}),
    )
    app.recorder.insert_events([broken])
    deadline = asyncio.get_running_loop().time() + 30
    while views.restarts < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert views.restarts >= 2, "the supervisor did not restart the failing projection"
    assert views.last_error is not None and "NoSuchEvent" in views.last_error


def test_replay_check_over_ten_thousand_events(tmp_path: Path) -> None:
    """`rewind replay --check` passes on live views, and fails naming an altered row."""
    target = StoreTarget.sqlite(tmp_path)
    app = target.open()
    try:
        app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
        spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t1", group_id="g1"))
        backup = app.request_backup(spec, "alice")
        job = app.get_backup(backup.id)
        job.claim("w1", 30, "worker:w1")
        for i in range(10_000):
            job.record_success("w1", f"t1/g1/user/u{i:05d}/profile", "cd" * 32, 1, 0, "worker:w1")
        job.complete("w1", 1, "/x", "worker:w1")
        app.save(job)
        assert app.current_position() > 10_000
        live = open_views(application_env(target.settings()), view_class_for(target.settings()))
        rebuild(app, live)
    finally:
        app.close()
    ok = subprocess.run(
        [REWIND, "replay", "--check", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "check passed" in ok.stdout
    with sqlite3.connect(tmp_path / VIEWS_FILE) as conn:
        conn.execute("UPDATE rv_outcomes SET digest = 'tampered' WHERE key LIKE '%u00042%'")
    bad = subprocess.run(
        [REWIND, "replay", "--check", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 1
    assert "u00042/profile.digest: live 'tampered'" in bad.stdout


def _run_sql(store: StoreTarget, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Run statements (``?`` placeholders) on the store's views, as another release would."""
    if store.kind == "sqlite":
        with sqlite3.connect(store.data_dir / VIEWS_FILE) as conn:
            for statement, params in statements:
                conn.execute(statement, params)
        return
    assert store.database_url is not None
    schema = store.database_url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        for statement, params in statements:
            conn.execute(statement.replace("?", "%s"), params)


def _age_views(store: StoreTarget) -> None:
    """Make the stored views look built by an older release: a column missing and no shape
    fingerprint (as before fingerprints existed)."""
    statements = ["ALTER TABLE rv_backups DROP COLUMN unchanged", "DROP TABLE rv_views_meta"]
    _run_sql(store, [(statement, ()) for statement in statements])


async def test_views_of_an_older_shape_are_rebuilt_from_the_log(store: StoreTarget) -> None:
    """An upgrade that changes a view's columns must not break start-up nor lose rows: the
    service notices the shape changed, drops the views and replays the log into them."""
    app = store.open()
    try:
        first = ViewsService(store.settings())
        task = asyncio.create_task(first.run())
        ids = await asyncio.to_thread(_seed, app, 3)
        while first.waiter.position < app.current_position():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _age_views(store)
        second = ViewsService(store.settings())
        task = asyncio.create_task(second.run())
        try:
            while second.runner is None:
                await asyncio.sleep(0.01)
            await _caught_up(app, second)
            folded = fold(_log(app))
            for backup_id in ids:
                assert second.view.backup(str(backup_id)) == folded.backups[str(backup_id)]
            assert len(second.view.audit_log(0, 10000)) == app.current_position()
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        app.close()


async def test_audit_rows_holding_a_url_password_are_rebuilt_without_it(
    store: StoreTarget,
) -> None:
    """An older release showed a host's URL in the audit trail as it was registered, user
    info and all. Its views count as another shape: the upgrade rebuilds them from the log,
    and the row shows the URL without the password (the event still holds it)."""
    password = "Pa55-in-an-old-url"
    url = f"http://backup:{password}@pbx.example:8080"
    app = store.open()
    try:
        app.register_host("old", HostSettings(name="old", base_url=url), "admin")
        first = ViewsService(store.settings())
        task = asyncio.create_task(first.run())
        while first.runner is None:
            await asyncio.sleep(0.01)
        await _caught_up(app, first)
        [row] = [r for r in first.view.audit_log(0, 100) if r.type == "Host.Registered"]
        assert password not in row.payload
        # As the older release wrote them: the URL as registered, its fingerprint (the
        # digest of the same tables' DDL alone).
        old_payload = row.payload.replace("http://pbx.example:8080", url)
        old_shape = "\n".join(first.view.view_statements())
        old_fingerprint = hashlib.sha256(old_shape.encode()).hexdigest()[:16]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        _run_sql(
            store,
            [
                ("UPDATE rv_audit SET payload = ? WHERE position = ?", (old_payload, row.position)),
                ("UPDATE rv_views_meta SET fingerprint = ?", (old_fingerprint,)),
            ],
        )

        second = ViewsService(store.settings())
        task = asyncio.create_task(second.run())
        try:
            while second.runner is None:
                await asyncio.sleep(0.01)
            await _caught_up(app, second)
            rows = second.view.audit_log(0, 100)
            assert rows and not [r for r in rows if password in r.payload]
            [rebuilt] = [r for r in rows if r.type == "Host.Registered"]
            settings = orjson.loads(rebuilt.payload)["settings"]
            assert settings["base_url"] == "http://pbx.example:8080"
            assert app.get_host("old").settings.base_url == url, "the event is as it was"
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        app.close()


async def test_backups_are_found_by_their_qradar_long_id(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    """The QRadar dialect's Long ids (api.dialects.qradar.ids) find each backup, and only it,
    with the
    view's LIKE query on both backends."""
    from api.dialects.qradar.ids import long_id, uuid_like_pattern

    app, views = service
    ids = await asyncio.to_thread(_seed, app, 4)
    await _caught_up(app, views)
    for backup_id in ids:
        pattern = uuid_like_pattern(long_id(backup_id))
        assert pattern is not None
        rows = views.view.backups_by_id_pattern(pattern)
        assert [row.id for row in rows] == [str(backup_id)]
    assert views.view.backups_by_id_pattern("ffffffff-ffff-_fff%") == []


AWKWARD_TEXT = [
    'a quote " and a \\ backslash',
    "a line\nbreak and a\ttab",
    "ünïcødé ☎ 📞",
    "",
    "0012",
    "null",
    '{"looks": ["like", 1, "json"]}',
]


def test_audit_and_outcome_rows_keep_every_value_exactly(store: StoreTarget) -> None:
    """Text stays the same text (quotes, newlines, emoji, digits, JSON-looking text),
    integers stay integers, None stays NULL, and no row of a big batch is lost: SQLite's
    views insert thousands of rows per statement, and what a user reads back must be what
    binding each row on its own gives."""
    audit: list[tuple[Any, ...]] = [
        (i + 1, f"agg-{i}", "Job.Claimed", i, "2026-12-04T10:00:00+00:00", text, text)
        for i, text in enumerate(AWKWARD_TEXT)
    ]
    audit.append((100, "agg-big", "Host.Registered", 2**62, "t", None, "{}"))
    outcomes: list[tuple[Any, ...]] = [
        ("job", f"k{i}", "error", None, text, 2**40, -3, i + 1, 0)
        for i, text in enumerate(AWKWARD_TEXT)
    ]
    outcomes.append(("job", "k9", "success", "ab" * 32, None, 0, 0, 99, 1))
    for i in range(5_000):  # more rows than one statement takes parameters for
        audit.append((1_000 + i, "agg-many", "Job.EntitySucceeded", i, "t", "w", "{}"))
        outcomes.append(("many", f"k{i:05d}", "ignored", None, "skip", 0, 0, 1_000 + i, 0))
    with fresh_views(store.settings()) as view:
        view.write_prepared(PreparedBatch(audit=audit, outcomes=outcomes), Tracking("rewind", 100))
        rows = view.snapshot()
    assert rows["audit"] == [dict(zip(AUDIT_COLUMNS, row, strict=True)) for row in audit]
    assert rows["outcomes"] == [dict(zip(OUTCOME_COLUMNS, row, strict=True)) for row in outcomes]
