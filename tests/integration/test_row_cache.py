"""Poll rows kept in memory by the SQLite views (projections/row_cache.py): a poll never
sees a row older than what the view has applied, and a read racing a commit cannot put a
stale row back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope
from projections.row_cache import BackupRowCache
from projections.rows import BackupRow
from projections.service import ViewsService
from tests.support.stores import StoreTarget


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[RewindApplication, ViewsService]]:
    store = StoreTarget.sqlite(tmp_path / "data")
    app = store.open()
    app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    views = ViewsService(store.settings())
    task = asyncio.create_task(views.run())
    try:
        while views.runner is None:
            await asyncio.sleep(0.01)
        yield app, views
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        app.close()


async def test_a_polled_row_follows_every_change_of_its_backup(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    app, views = service
    spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t1", group_id="g1"))
    backup = await asyncio.to_thread(app.request_backup, spec, "alice")
    assert await views.waiter.wait(app.current_position(), 30)
    view = views.view
    first = view.backup(str(backup.id))
    assert first is not None and first.status == "INITIALIZING"
    assert view.cached_backup(first.reference_id) == first  # now served from memory
    steps = [
        (lambda: app.claim(backup.id, "w1", 30), "IN_PROGRESS"),
        (lambda: app.cancel(backup.id, "bob"), "CANCELLING"),
        (lambda: app.acknowledge_cancel(backup.id, "w1"), "FAILED"),
    ]
    for command, status in steps:
        await asyncio.to_thread(command)
        assert await views.waiter.wait(app.current_position(), 30)
        polled = view.cached_backup(str(backup.id)) or view.backup(str(backup.id))
        assert polled is not None and polled.status == status
        assert view.backup_by_reference(first.reference_id) == polled


def test_a_read_older_than_an_invalidation_is_not_kept() -> None:
    cache = BackupRowCache()
    generation = cache.generation
    cache.invalidate(["some-job"])  # a commit landed while the reader was querying
    stale = BackupRow.model_construct(id="b1", reference_id="ref-1", status="INITIALIZING")
    cache.put(stale, generation)
    assert cache.get("b1") is None and cache.get("ref-1") is None
    cache.put(stale, cache.generation)
    assert cache.get("ref-1") is stale
    cache.invalidate(["b1"])
    assert cache.get("b1") is None and cache.get("ref-1") is None


def test_the_least_recently_used_rows_go_first() -> None:
    cache = BackupRowCache(max_rows=2)
    rows = [BackupRow.model_construct(id=f"b{i}", reference_id=f"r{i}") for i in range(3)]
    cache.put(rows[0], cache.generation)
    cache.put(rows[1], cache.generation)
    assert cache.get("r0") is rows[0]  # b0 is now the most recent
    cache.put(rows[2], cache.generation)
    assert cache.get("b1") is None and cache.get("r1") is None
    assert cache.get("b0") is rows[0] and cache.get("r2") is rows[2]
