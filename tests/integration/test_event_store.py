"""The event store on both backends: durable settings, versioned events, the audit trail."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from adapters.event_store import EVENTS_FILE
from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.errors import IllegalMove
from domain.host import HostSettings
from domain.job import Job
from domain.scope import Scope
from tests.support.stores import StoreTarget

GROUP = Scope(host_id="default", tenant_id="t1", group_id="g1")


def _running_backup(store: StoreTarget) -> tuple[RewindApplication, Backup]:
    app = store.open()
    app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    backup = app.request_backup(BackupSpec(scope=GROUP, group_entities=("profile",)), "alice")
    app.claim(backup.id, "w1", 30)
    return app, backup


def test_sqlite_is_a_wal_file_with_full_synchronous_commits(tmp_path: Path) -> None:
    app = StoreTarget.sqlite(tmp_path).open()
    try:
        app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
        recorder = app.recorder
        assert isinstance(recorder, SQLiteApplicationRecorder)
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0].lower() == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2, "synchronous must be FULL (2)"
    finally:
        app.close()
    assert (tmp_path / EVENTS_FILE).is_file()


def test_a_stored_version_1_progress_event_is_upcast_on_load(store: StoreTarget) -> None:
    app, backup = _running_backup(store)
    try:
        version = app.get_backup(backup.id).version
        v1_payload = {
            "originator_id": str(backup.id),
            "originator_version": version + 1,
            "timestamp": "2024-01-02T03:04:05.000006+00:00",
            "key": "t1/g1/group/profile",
            "digest": "ab" * 32,
            "calls": 4,
            "principal": "worker:w1",
        }
        app.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=backup.id,
                    originator_version=version + 1,
                    topic=get_topic(Job.EntitySucceeded),
                    state=orjson.dumps(v1_payload),
                )
            ]
        )
        loaded = app.get_backup(backup.id)
        assert loaded.successful_calls == 4
        assert loaded.error_calls == 0
        assert loaded.outcomes["t1/g1/group/profile"].digest == "ab" * 32
        # New events are stored as version 2 and carry no "calls".
        app.hold(backup.id, "w1").record_success("t1/g1/group/ivr", "cd" * 32, 2, 1)
        last = app.history(backup.id)[-1]
        assert last.payload["successful_calls"] == 2
        assert "calls" not in last.payload
    finally:
        app.close()


def test_history_lists_every_event_of_a_job_in_order_with_principals(store: StoreTarget) -> None:
    app, backup = _running_backup(store)
    try:
        bid = backup.id
        app.resolve_scope(bid, "w1", 1)
        app.hold(bid, "w1").record_success("t1/g1/group/profile", "ab" * 32, 1)
        app.hold(bid, "w1").complete(100, "/x")
        app.delete_backup(bid, "bob")
        entries = app.history(bid)
        assert [e.type for e in entries] == [
            "Backup.Requested",
            "Job.Claimed",
            "Job.ScopeResolved",
            "Backup.BaseChosen",
            "Job.EntitySucceeded",
            "Job.Completed",
            "Backup.DeleteRequested",
        ]
        assert [e.version for e in entries] == [1, 2, 3, 4, 5, 6, 7]
        assert [e.principal for e in entries] == [
            "alice",
            "worker:w1",
            "worker:w1",
            "worker:w1",
            "worker:w1",
            "worker:w1",
            "bob",
        ]
        assert all(a.time <= b.time for a, b in itertools.pairwise(entries))
        assert entries[0].payload["spec"]["scope"] == {
            "host_id": "default",
            "tenant_id": "t1",
            "group_id": "g1",
        }
    finally:
        app.close()


def test_the_global_log_reads_from_a_position(store: StoreTarget) -> None:
    app, _backup = _running_backup(store)
    try:
        everything = list(app.iter_log(page=2))
        positions = [p for p, _ in everything]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        after = positions[1]
        tail = app.read_log(after=after, limit=100)
        assert [p for p, _ in tail] == positions[2:]
        assert everything[-1][1].type == "Job.Claimed"
        assert app.current_position() == positions[-1]
    finally:
        app.close()


def test_an_illegal_move_appends_nothing_on_either_backend(store: StoreTarget) -> None:
    app, backup = _running_backup(store)
    try:
        bid = backup.id
        position = app.current_position()
        try:
            app.mark_intact(bid, "verifier")
        except IllegalMove as error:
            assert error.code == 2001 and error.status == 409
        else:
            raise AssertionError("IN_PROGRESS -> mark_intact must be refused")
        assert app.current_position() == position
    finally:
        app.close()


def test_events_survive_a_new_process_reading_the_sqlite_file(tmp_path: Path) -> None:
    """What a command acknowledged is in the file, readable by plain sqlite3."""
    app = StoreTarget.sqlite(tmp_path).open()
    app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    backup = app.request_backup(BackupSpec(scope=GROUP), "alice")
    app.close()
    with sqlite3.connect(tmp_path / EVENTS_FILE) as conn:
        topics = [row[0] for row in conn.execute("SELECT topic FROM stored_events")]
    assert "domain.backup:Backup.Requested" in topics
    assert StoreTarget.sqlite(tmp_path).open().get_backup(backup.id).status == "INITIALIZING"
