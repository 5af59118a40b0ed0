"""The view queries behind the Unitrends dialect, on SQLite and PostgreSQL: backup numbers
(log positions of first events), the ``numbers`` and ``unset`` filters, stored-entity
counts, the scopes the views hold and the newest SUCCESS backup of each scope."""

from __future__ import annotations

import asyncio
from uuid import UUID

from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope
from projections.service import ViewsService
from projections.views import BackupFilters
from tests.integration.test_views import _caught_up, _log, _seed


def _more(app: RewindApplication) -> tuple[UUID, UUID]:
    """A whole-host backup (on another host) and a whole-tenant backup."""
    app.register_host("other", HostSettings(name="other", base_url="http://other"), "admin")
    host = app.request_backup(BackupSpec(scope=Scope(host_id="other")), "alice")
    tenant = app.request_backup(BackupSpec(scope=Scope(host_id="default", tenant_id="t2")), "bob")
    return host.id, tenant.id


async def test_numbers_scopes_counts_and_latest(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    app, views = service
    groups = await asyncio.to_thread(_seed, app, 3)  # g0, g2 SUCCESS; g1 running
    host_id, tenant_id = await asyncio.to_thread(_more, app)
    await _caught_up(app, views)
    view = views.view
    firsts = {str(e.originator_id): p for p, e in _log(app) if e.originator_version == 1}
    every = [*groups, host_id, tenant_id]
    numbers = view.backup_numbers(BackupFilters())
    assert numbers == {str(i): firsts[str(i)] for i in every}
    assert [numbers[str(i)] for i in every] == sorted(numbers.values())

    for backup_id in every:
        _, rows = view.list_backups(BackupFilters(numbers=[numbers[str(backup_id)]]))
        assert [r.id for r in rows] == [str(backup_id)]
    _, none = view.list_backups(BackupFilters(numbers=[max(numbers.values()) + 1]))
    assert none == []

    _, whole_host = view.list_backups(BackupFilters(unset=["tenant_id"]))
    assert [r.id for r in whole_host] == [str(host_id)]
    _, no_group = view.list_backups(BackupFilters(host_id="default", unset=["group_id"]))
    assert [r.id for r in no_group] == [str(tenant_id)]

    counts = view.success_counts(BackupFilters())
    assert counts == {str(g): 1 for g in groups}
    assert view.success_counts(BackupFilters(tenant_id="t2")) == {}

    scopes = set(view.backup_scopes())
    assert scopes == {
        ("default", "t1", "g0"),
        ("default", "t1", "g1"),
        ("default", "t1", "g2"),
        ("other", None, None),
        ("default", "t2", None),
    }
    latest = view.latest_per_scope("SUCCESS")
    assert latest == {
        ("default", "t1", "g0"): str(groups[0]),
        ("default", "t1", "g2"): str(groups[2]),
    }
