"""Group commit of backup requests (domain.admission_batch): concurrent requests of one
process share one event-store write, yet each caller gets its own answer, a refused request
changes nothing for the others of its batch, and the log holds exactly the admitted ones."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.errors import DomainError
from domain.host import HostSettings
from domain.scope import Scope
from projections.rows import fold
from projections.service import ViewsService
from projections.views import BackupFilters
from tests.conftest import postgres_store
from tests.support.forkserver import racer_context
from tests.support.stores import StoreTarget

Answer = Backup | DomainError


def _group(n: int) -> Scope:
    return Scope(host_id="default", tenant_id="t1", group_id=f"g{n}")


def _ask(app: RewindApplication, spec: BackupSpec) -> Answer:
    try:
        return app.request_backup(spec, principal="alice")
    except DomainError as refused:
        return refused


def _one_batch(app: RewindApplication, specs: list[BackupSpec]) -> list[Answer]:
    """Request ``specs`` from one thread each while the command lock is held, so that all
    of them are queued before the first can run: they are decided as one batch, in order."""
    answers: list[Answer | None] = [None] * len(specs)

    def ask(i: int) -> None:
        answers[i] = _ask(app, specs[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(specs))]
    with app._command_lock:
        for i, thread in enumerate(threads):
            thread.start()
            deadline = time.monotonic() + 10
            while app._admissions.waiting() < i + 1:  # queue them in this order
                assert time.monotonic() < deadline, "request never queued"
                time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=30)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def _logged(app: RewindApplication, event_type: str) -> list[Any]:
    return [entry for _, entry in app.iter_log() if entry.type == event_type]


def _assert_log_holds_exactly(app: RewindApplication, accepted: list[Backup]) -> None:
    """Nothing half-saved: one request, one admission and one name claim per accepted
    backup, and no event of any refused one."""
    ids = sorted(str(b.id) for b in accepted)
    requested = _logged(app, "Backup.Requested")
    assert sorted(str(e.aggregate_id) for e in requested) == ids
    admitted = _logged(app, "HostActivity.BackupAdmitted")
    assert sorted(str(e.payload["backup_id"]) for e in admitted) == ids
    claimed = _logged(app, "NameClaim.Claimed")
    assert sorted(str(e.payload["backup_id"]) for e in claimed) == ids


def test_many_threads_each_get_their_own_backup(app: RewindApplication) -> None:
    specs = [BackupSpec(scope=_group(n % 30), name=f"b{n}") for n in range(60)]
    answers: dict[int, Answer] = {}
    barrier = threading.Barrier(len(specs))

    def ask(i: int) -> None:
        barrier.wait()
        answers[i] = _ask(app, specs[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(specs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    accepted = [a for a in answers.values() if isinstance(a, Backup)]
    for i, answer in answers.items():
        if isinstance(answer, Backup):
            assert answer.scope == specs[i].scope
            assert answer.name == specs[i].name
            assert app.get_backup(answer.id).status == "INITIALIZING"
        else:
            assert answer.code == 1015, answer
    per_group = Counter(b.scope.group_id for b in accepted)
    assert per_group == Counter({f"g{n}": 1 for n in range(30)})
    assert len({b.id for b in accepted}) == 30
    _assert_log_holds_exactly(app, accepted)


def test_same_group_twice_in_one_batch_first_wins_second_gets_1015(
    app: RewindApplication,
) -> None:
    first, second, other = _one_batch(
        app, [BackupSpec(scope=_group(1)), BackupSpec(scope=_group(1)), BackupSpec(scope=_group(2))]
    )
    assert isinstance(first, Backup) and first.scope == _group(1)
    assert isinstance(second, DomainError) and second.code == 1015
    assert str(first.id) in second.message
    assert isinstance(other, Backup) and other.scope == _group(2)
    _assert_log_holds_exactly(app, [first, other])


def test_duplicate_name_in_one_batch_gets_1005_and_others_land(app: RewindApplication) -> None:
    first, duplicate, other = _one_batch(
        app,
        [
            BackupSpec(scope=_group(1), name="nightly"),
            BackupSpec(scope=_group(2), name="nightly"),
            BackupSpec(scope=_group(3), name="weekly"),
        ],
    )
    assert isinstance(first, Backup) and first.name == "nightly"
    assert isinstance(duplicate, DomainError) and duplicate.code == 1005
    assert isinstance(other, Backup) and other.name == "weekly"
    _assert_log_holds_exactly(app, [first, other])
    # the refused request did not take group 2: it can be backed up now
    later = app.request_backup(BackupSpec(scope=_group(2)), principal="bob")
    assert later.scope == _group(2)


def test_request_refused_halfway_leaves_its_batch_untouched(app: RewindApplication) -> None:
    """A forced request cancels the running backup of its scope, then finds its name taken:
    it is refused, and neither that cancellation nor anything else of it is saved, while the
    requests before and after it in the batch are."""
    running = app.request_backup(BackupSpec(scope=_group(5)), principal="alice")
    before, forced, after = _one_batch(
        app,
        [
            BackupSpec(scope=_group(1), name="taken"),
            BackupSpec(scope=_group(5), name="taken", force=True),
            BackupSpec(scope=_group(6)),
        ],
    )
    assert isinstance(before, Backup)
    assert isinstance(forced, DomainError) and forced.code == 1005
    assert isinstance(after, Backup) and after.scope == _group(6)
    assert app.get_backup(running.id).status == "INITIALIZING"
    assert not _logged(app, "Job.CancelRequested")
    _assert_log_holds_exactly(app, [running, before, after])
    # group 5 is still held by the running backup
    with pytest.raises(DomainError) as refused:
        app.request_backup(BackupSpec(scope=_group(5)), principal="bob")
    assert refused.value.code == 1015


def test_forced_request_in_a_batch_supersedes_one_admitted_just_before(
    app: RewindApplication,
) -> None:
    plain, forced = _one_batch(
        app, [BackupSpec(scope=_group(1)), BackupSpec(scope=_group(1), force=True)]
    )
    assert isinstance(plain, Backup) and isinstance(forced, Backup)
    assert forced.supersedes == (plain.id,)
    assert app.get_backup(plain.id).status == "CANCELLING"
    _assert_log_holds_exactly(app, [plain, forced])


def _race_in_threads(target: StoreTarget, barrier: Any, results: Any) -> None:
    """One process: 20 threads request the same 20 groups as the other process."""
    app = target.open()
    answers: list[tuple[str, Any]] = []

    def ask(n: int) -> None:
        barrier.wait()
        answer = _ask(app, BackupSpec(scope=_group(n)))
        if isinstance(answer, Backup):
            answers.append(("ok", f"{answer.scope.group_id} {answer.id}"))
        else:
            answers.append(("refused", answer.code))

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    app.close()
    results.put(answers)


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[StoreTarget]:
    with postgres_store(tmp_path / "data") as target:
        yield target


def test_two_processes_batching_the_same_groups_end_consistent(pg_store: StoreTarget) -> None:
    """Each process commits its requests in batches; the batches race on the host's guard,
    the loser's requests are re-run one by one: one backup per group in the end."""
    app = pg_store.open()
    app.register_host("default", HostSettings(name="pbx", base_url="http://pbx"), "a")
    app.close()
    ctx = racer_context(__name__)
    barrier = ctx.Barrier(40, timeout=60)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race_in_threads, args=(pg_store, barrier, results)) for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    answers = [a for _ in procs for a in results.get(timeout=120)]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    winners = [a[1].split() for a in answers if a[0] == "ok"]
    assert sorted(group for group, _ in winners) == sorted(f"g{n}" for n in range(20))
    assert [a[1] for a in answers if a[0] == "refused"] == [1015] * 20
    app = pg_store.open()
    try:
        requested = _logged(app, "Backup.Requested")
        assert sorted(str(e.aggregate_id) for e in requested) == sorted(i for _, i in winners)
    finally:
        app.close()


async def test_each_caller_of_a_batch_reads_its_own_write(
    service: tuple[RewindApplication, ViewsService],
) -> None:
    """Group-committed requests each learn a log position; once the views reach it, the
    caller's own backup is there (the views apply the batch's events in one go)."""
    app, views = service
    await asyncio.to_thread(
        app.register_host, "default", HostSettings(name="pbx", base_url="http://pbx"), "a"
    )

    def command(n: int) -> tuple[UUID, int]:
        app.reset_saved_position()
        backup = app.request_backup(BackupSpec(scope=_group(n)), "alice")
        return backup.id, app.saved_position()

    async def request_and_read(n: int) -> None:
        backup_id, position = await asyncio.to_thread(command, n)
        assert position > 0
        assert await views.waiter.wait(position, timeout=30)
        row = views.view.backup(str(backup_id))
        assert row is not None and row.status == "INITIALIZING" and row.group_id == f"g{n}"

    await asyncio.gather(*(request_and_read(n) for n in range(40)))
    assert await views.waiter.wait(app.current_position(), timeout=30)
    folded = fold(
        [
            (r.id, app.mapper.to_domain_event(r))
            for r in app.recorder.select_notifications(
                start=0, limit=100000, inclusive_of_start=False
            )
        ]
    )
    total, rows = views.view.list_backups(BackupFilters(), 0, 100)
    assert total == 40
    assert {r.id: r for r in rows} == folded.backups
    assert len(views.view.audit_log(0, 10000)) == app.current_position()


def test_a_batch_refused_whole_writes_nothing(app: RewindApplication) -> None:
    running = app.request_backup(BackupSpec(scope=_group(1), name="taken"), principal="alice")
    position = app.current_position()
    answers = _one_batch(
        app,
        [BackupSpec(scope=_group(1)), BackupSpec(scope=_group(2), name="taken")],
    )
    assert [a.code for a in answers if isinstance(a, DomainError)] == [1015, 1005]
    assert app.current_position() == position
    _assert_log_holds_exactly(app, [running])
