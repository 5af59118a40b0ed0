"""Races across OS processes (forked from a fresh forkserver process, not from the test's, so
nothing is shared but the store): the event store's optimistic concurrency, through the guard
aggregates, decides who wins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope
from tests.support.forkserver import racer_context
from tests.support.stores import StoreTarget

PROCESSES = 8
SCOPE = Scope(host_id="default", tenant_id="t1", group_id="g1")


def _request_backup(target: StoreTarget, barrier: Any, results: Any) -> None:
    from domain.errors import DomainError

    app = target.open()
    barrier.wait()
    try:
        backup = app.request_backup(BackupSpec(scope=SCOPE), principal="racer")
        results.put(("ok", str(backup.id)))
    except DomainError as error:
        results.put(("refused", error.code))
    finally:
        app.close()


def _claim(target: StoreTarget, job_id: str, worker: str, barrier: Any, results: Any) -> None:
    from domain.errors import DomainError

    app = target.open()
    barrier.wait()
    try:
        app.claim(UUID(job_id), worker, 30.0)
        results.put(("ok", worker))
    except DomainError as error:
        results.put(("refused", error.code))
    finally:
        app.close()


def _race(target: Any, args_for: Any) -> list[tuple[str, Any]]:
    ctx = racer_context(__name__)
    barrier = ctx.Barrier(PROCESSES, timeout=60)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outcomes


def _prepared(store: StoreTarget) -> None:
    app = store.open()
    app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "admin")
    app.close()


def test_eight_processes_request_one_scope_and_exactly_one_wins(store: StoreTarget) -> None:
    _prepared(store)
    outcomes = _race(_request_backup, lambda i: (store,))
    winners = [o for o in outcomes if o[0] == "ok"]
    assert len(winners) == 1
    assert sorted(o[1] for o in outcomes if o[0] == "refused") == [1015] * (PROCESSES - 1)
    app = store.open()
    try:
        backup = app.get_backup(UUID(winners[0][1]))
        assert backup.status == "INITIALIZING"
        requested = [e for _, e in app.iter_log() if e.type == "Backup.Requested"]
        assert len(requested) == 1, "a losing request left an event behind"
    finally:
        app.close()


def test_eight_processes_claim_one_backup_and_exactly_one_lands(store: StoreTarget) -> None:
    _prepared(store)
    app = store.open()
    backup = app.request_backup(BackupSpec(scope=SCOPE), principal="alice")
    app.close()
    outcomes = _race(_claim, lambda i: (store, str(backup.id), f"w{i}"))
    winners = [o[1] for o in outcomes if o[0] == "ok"]
    assert len(winners) == 1
    assert sorted(o[1] for o in outcomes if o[0] == "refused") == [2001] * (PROCESSES - 1)
    app = store.open()
    try:
        claims = [e for e in app.history(backup.id) if e.type == "Job.Claimed"]
        assert len(claims) == 1
        assert claims[0].payload["worker_id"] == winners[0]
        assert app.get_backup(backup.id).worker_id == winners[0]
    finally:
        app.close()
