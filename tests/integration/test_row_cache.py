"""Poll rows kept in memory by the SQLite views (projections/row_cache.py): a poll never
sees a row older than what the view has applied, and a read racing a commit cannot put a
stale row back."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope
from projections.row_cache import BackupRowCache
from projections.rows import BackupRow
from projections.service import ViewsService


async def test_a_polled_row_follows_every_change_of_its_backup(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    app, views = service
    if not app.has_host("default"):
        app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    spec = BackupSpec(scope=Scope(host_id="default", tenant_id="t1", group_id="g1"))
    backup = await asyncio.to_thread(app.request_backup, spec, "alice")
    assert await views.waiter.wait(app.current_position(), 30)
    view = views.view
    first = view.backup(str(backup.id))
    assert first is not None and first.status == "INITIALIZING"
    cached = view.cached_backup(first.reference_id)
    if view.row_cache is None:  # PostgreSQL views are shared by servers: never cached
        assert cached is None
    else:
        assert cached == first  # now served from memory
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


def _row(backup_id: str, reference_id: str) -> BackupRow:
    """A poll row with only what the cache looks at (its id and reference id)."""
    fields: dict[str, Any] = {"id": backup_id, "reference_id": reference_id}
    return BackupRow.model_construct(**fields)


def test_a_read_older_than_an_invalidation_is_not_kept() -> None:
    cache = BackupRowCache()
    generation = cache.generation
    cache.invalidate(["some-job"])  # a commit landed while the reader was querying
    stale = _row("b1", "ref-1")
    cache.put(stale, generation)
    assert cache.get("b1") is None and cache.get("ref-1") is None
    cache.put(stale, cache.generation)
    assert cache.get("ref-1") is stale
    cache.invalidate(["b1"])
    assert cache.get("b1") is None and cache.get("ref-1") is None


def test_the_least_recently_used_rows_go_first() -> None:
    cache = BackupRowCache(max_rows=2)
    rows = [_row(f"b{i}", f"r{i}") for i in range(3)]
    cache.put(rows[0], cache.generation)
    cache.put(rows[1], cache.generation)
    assert cache.get("r0") is rows[0]  # b0 is now the most recent
    cache.put(rows[2], cache.generation)
    assert cache.get("b1") is None and cache.get("r1") is None
    assert cache.get("b0") is rows[0] and cache.get("r2") is rows[2]
