"""Replay's fast path (projections/progress_fast.py) rebuilds exactly the live views: a log
with every kind of job event, rebuilt into fresh storage, equals the live projection's
views row by row and column by column, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.job import Job
from domain.restore import RestoreSpec
from domain.scope import Scope
from projections import replay
from projections.progress_fast import ProgressEvent, read_progress
from projections.replay import compare, fresh_views, rebuild
from projections.service import ViewsService
from projections.views import ViewsMixin
from tests.support.stores import StoreTarget


def _backup(app: RewindApplication, group: str, entities: int = 3) -> UUID:
    spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t1", group_id=group))
    backup_id = app.request_backup(spec, "alice").id
    app.claim(backup_id, "w1", 30)
    app.resolve_scope(backup_id, "w1", entities + 2)
    for i in range(entities):
        app.hold(backup_id, "w1").record_success(f"t1/{group}/user/u{i}", f"{i:064x}", 2, 1, i == 1)
    app.hold(backup_id, "w1").record_error(f"t1/{group}/user/broken", "HTTP 500", 1, 3)
    app.hold(backup_id, "w1").record_ignored(f"t1/{group}/user/odd", "not served")
    return backup_id


def _every_kind_of_log(app: RewindApplication) -> dict[str, UUID]:
    """Backups that succeed, fail, are cancelled, deleted, purged, marked missing and
    intact, and a restore with outcomes of each kind."""
    app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    jobs: dict[str, UUID] = {}
    jobs["done"] = _backup(app, "g1")
    app.hold(jobs["done"], "w1").complete(420, "/artifacts/g1.json")
    jobs["failed"] = _backup(app, "g2")
    app.fail(jobs["failed"], "PBX unreachable", "worker:w1")
    jobs["cancelled"] = _backup(app, "g3")
    app.cancel(jobs["cancelled"], "alice")
    app.acknowledge_cancel(jobs["cancelled"], "worker:w1")
    jobs["deleted"] = _backup(app, "g4")
    app.hold(jobs["deleted"], "w1").complete(1, "/artifacts/g4.json")
    app.delete_backup(jobs["deleted"], "alice")
    jobs["purged"] = _backup(app, "g5")
    app.hold(jobs["purged"], "w1").complete(1, "/artifacts/g5.json")
    app.delete_backup(jobs["purged"], "alice")
    app.purge_backup(jobs["purged"], 3, "system")
    jobs["missing"] = _backup(app, "g6")
    app.hold(jobs["missing"], "w1").complete(1, "/artifacts/g6.json")
    app.mark_missing(jobs["missing"], "blob gone", "verifier")
    app.mark_intact(jobs["missing"], "verifier")
    jobs["running"] = _backup(app, "g7", entities=40)
    target = Scope(host_id="default", tenant_id="t1", group_id="g1")
    spec = RestoreSpec(backup_id=jobs["done"], target=target, allow_partial=True)
    restore = app.request_restore(spec, "bob")
    jobs["restore"] = restore.id
    app.claim(restore.id, "w2", 30)
    app.resolve_scope(restore.id, "w2", 3)
    app.hold(restore.id, "w2").record_success("t1/g1/user/u0", "0" * 64, 1)
    app.hold(restore.id, "w2").record_error("t1/g1/user/u1", "refused", 0, 1)
    app.hold(restore.id, "w2").record_ignored("t1/g1/user/u2", "skip existing")
    app.hold(restore.id, "w2").complete()
    return jobs


async def test_a_replay_equals_the_live_views_row_by_row(
    service: tuple[RewindApplication, ViewsService], store: StoreTarget
) -> None:
    app, views = service
    jobs = await asyncio.to_thread(_every_kind_of_log, app)
    assert await views.waiter.wait(app.current_position(), timeout=30)
    live = views.view.snapshot()
    assert str(jobs["purged"]) not in {r["id"] for r in live["backups"]}
    assert {r["outcome"] for r in live["outcomes"]} == {"success", "error", "ignored"}
    assert {r["status"] for r in live["backups"]} >= {"SUCCESS", "FAILED", "IN_PROGRESS"}
    with fresh_views(store.settings()) as fresh:
        applied = await asyncio.to_thread(rebuild, app, fresh)
        rebuilt = fresh.snapshot()
    assert applied == app.current_position()
    assert compare(live, rebuilt) == []
    assert rebuilt == live
    # Both of those read progress events by the fast path (the live runner does too): the
    # views built from events the mapper decoded and pydantic validated must be the same.
    with fresh_views(store.settings()) as slow:
        await asyncio.to_thread(_apply_decoded, app, slow)
        validated = slow.snapshot()
    assert compare(validated, live) == []
    assert validated == live


def _apply_decoded(app: RewindApplication, view: ViewsMixin) -> None:
    """The whole log applied as validated domain events only (no fast path)."""
    notes = app.recorder.select_notifications(start=1, limit=10_000)
    events = [(app.mapper.to_domain_event(n), Tracking(app.name, n.id)) for n in notes]
    assert not any(isinstance(event, ProgressEvent) for event, _ in events)
    view.apply_events(events)


_ENVELOPE: dict[str, object] = {
    "originator_id": "86e7e745-04c4-4a3a-8326-d2b81992258d",
    "originator_version": 4,
    "timestamp": "2026-11-23T15:22:42.703306Z",
}
_PAYLOAD: dict[str, object] = {
    "key": "t1/g1/user/u0",
    "digest": "ab" * 32,
    "successful_calls": 1,
    "error_calls": 0,
    "principal": "worker:w1",
    "unchanged": False,
}


def _stored_success(**changes: object) -> bytes:
    state = {**_ENVELOPE, **_PAYLOAD, "class_version": 3, **changes}
    return orjson.dumps({k: v for k, v in state.items() if v is not None})


def test_the_fast_path_leaves_what_it_cannot_read_exactly_to_the_mapper(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    """Older versions are upcast as the mapper does; missing fields, wrong types, unknown
    fields and odd times go the slow way; a payload it reads gives the audit time the
    validated event would."""
    app, _ = service
    topic, mapper = get_topic(Job.EntitySucceeded), app.mapper
    read = read_progress(mapper, topic, _stored_success())
    assert read is not None and read.time == "2026-11-23T15:22:42.703306+00:00"
    assert (read.job_id, read.version) == ("86e7e745-04c4-4a3a-8326-d2b81992258d", 4)
    assert read.payload == _PAYLOAD
    # ints as orjson (and so the mapper) reads them: 2**63 exactly, 2**64 only as a float
    calls = _stored_success(successful_calls=7)
    big = read_progress(mapper, topic, calls.replace(b":7,", b":9223372036854775808,"))
    assert big is not None and big.payload["successful_calls"] == 2**63
    huge = calls.replace(b":7,", b":18446744073709551616,")
    assert read_progress(mapper, topic, huge) is None
    whole = read_progress(mapper, topic, _stored_success(timestamp="2026-11-23T15:22:42Z"))
    assert whole is not None and whole.time == "2026-11-23T15:22:42+00:00"
    older = read_progress(mapper, topic, _stored_success(class_version=2, unchanged=None))
    assert older is not None and older.payload["unchanged"] is False  # upcast v2 -> v3
    first = _stored_success(class_version=None, successful_calls=None, error_calls=None, calls=4)
    oldest = read_progress(mapper, topic, first)  # v1: fields reordered by the upcast
    assert oldest is not None and oldest.outcome_params(7)[5:7] == (4, 0)
    for odd in (
        {"class_version": 3, "unchanged": None},
        {"successful_calls": "1"},
        {"unchanged": 0},
        {"successful_calls": True},
        {"error_calls": 1.0},
        {"extra": 1},
        {"timestamp": "yesterday"},
        {"originator_id": "not-a-uuid"},
    ):
        assert read_progress(mapper, topic, _stored_success(**odd)) is None, odd
    assert read_progress(mapper, get_topic(Job.Claimed), _stored_success()) is None


async def test_a_replay_in_small_pages_equals_the_live_views(
    service: tuple[RewindApplication, ViewsService],
    store: StoreTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replay prepares a page while the previous one is written. With pages of three
    events, jobs pause for many pages and resume: a resumed job's row must come from the
    page being written, or from the views once that write is done, never be lost."""
    app, views = service
    await asyncio.to_thread(_every_kind_of_log, app)
    assert await views.waiter.wait(app.current_position(), timeout=30)
    live = views.view.snapshot()
    monkeypatch.setattr(replay, "PAGE", 3)
    with fresh_views(store.settings()) as fresh:
        applied = await asyncio.to_thread(rebuild, app, fresh)
        rebuilt = fresh.snapshot()
    assert applied == app.current_position() > 100
    assert compare(live, rebuilt) == []
    assert rebuilt == live
