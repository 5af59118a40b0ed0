"""Property-based: random command sequences through the application service, against a model
whose only knowledge of the lifecycle is the table in domain.lifecycle.

Checked after every step: legal moves succeed and the status equals the model's; refused
moves raise the predicted domain error and append nothing (the log position and the
aggregate's version are unchanged); finished jobs never run again; an aggregate reloaded by a
second application instance from the store equals the live one; the three invariants hold.
Runs on an SQLite file and on PostgreSQL (a fresh schema per example).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from adapters.event_store import application_env
from domain.application import RewindApplication
from domain.backup import Backup, BackupSpec
from domain.errors import (
    BackupInProgress,
    BackupNotRestorable,
    DomainError,
    EntityAlreadyRecorded,
    IllegalMove,
    IncompleteBackup,
    LeaseHeld,
    NameTaken,
    NotLeaseHolder,
    RestoreInProgress,
    WaitingForPredecessor,
)
from domain.host import HostSettings
from domain.job import Job
from domain.lifecycle import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    IDEMPOTENT_REPEATS,
    Move,
    find_transition,
)
from domain.restore import Restore, RestoreSpec
from domain.scope import Scope
from projections.replay import open_views
from projections.rows import Folded
from projections.service import view_class_for
from projections.views import ViewsMixin
from tests.conftest import require_postgres
from tests.support.stores import StoreTarget, drop_pg_schema, make_pg_schema

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HOST_INDEXES = (0, 1)
SCOPE_SHAPES = [
    (h, t, g)
    for h in HOST_INDEXES
    for t in (None, "t1", "t2")
    for g in ((None,) if t is None else (None, "g1", "g2"))
]
WORKERS = ("w1", "w2")
KEYS = ("group/profile", "group/ivr", "user/u1/voice_mail")
NAMES = (None, None, "nightly", "weekly")
LEASE = 60.0


@dataclass
class ModelJob:
    """What the model knows of one job: only facts the table and the commands imply."""

    kind: str
    status: str
    host: str
    scope: Scope | None = None
    name: str | None = None
    supersedes: tuple[uuid.UUID, ...] = ()
    worker: str | None = None
    keys: set[str] = field(default_factory=set)
    delete_requested: bool = False
    purged: bool = False
    finished_once: bool = False
    seq: int = 0
    error_calls: int = 0
    """Failed calls recorded: a SUCCESS backup with some is restored whole only with
    ``allow_partial``."""


def _a_job_to_draw(machine: RuleBasedStateMachine) -> bool:
    """Whether ``st.one_of(backups, restores)`` can draw. Hypothesis enables a rule only when
    the bundles it takes *directly* are non-empty; one nested in ``one_of`` is not checked,
    so without this precondition a rule on two empty bundles aborts the whole example as
    invalid (five of every six examples were, each after its host registrations)."""
    return bool(machine.bundle("backups") or machine.bundle("restores"))


class LifecycleMachine(RuleBasedStateMachine):
    """Drives RewindApplication; subclasses choose the event store."""

    backend = ""

    backups = Bundle("backups")
    restores = Bundle("restores")

    def __init__(self) -> None:
        super().__init__()
        # One store per backend for the whole run (creating a PostgreSQL schema per example
        # would dominate the run time); each example works on hosts and names of its own.
        self.app, self.reader = self.shared_apps()
        self.views, self.folded = _SHARED_VIEWS[self.backend]
        ns = uuid.uuid4().hex[:10]
        self.hosts = (f"h1-{ns}", f"h2-{ns}")
        self.ns = ns
        for host in self.hosts:
            self.app.register_host(host, HostSettings(name=host, base_url="http://pbx"), "admin")
        self.jobs: dict[uuid.UUID, ModelJob] = {}
        self.holders: dict[str, dict[uuid.UUID, Scope]] = {h: {} for h in self.hosts}
        self.stopping: dict[str, dict[uuid.UUID, Scope]] = {h: {} for h in self.hosts}
        self.active_restores: dict[str, set[uuid.UUID]] = {h: set() for h in self.hosts}
        self.names: dict[str, uuid.UUID] = {}
        self.seq = 0

    def shared_apps(self) -> tuple[RewindApplication, RewindApplication]:
        """A writer and a second, independent reader on the same store."""
        raise NotImplementedError

    def scope(self, shape: tuple[int, str | None, str | None]) -> Scope:
        host, tenant, group = shape
        return Scope(host_id=self.hosts[host], tenant_id=tenant, group_id=group)

    def check_reload(self, live: Job) -> None:
        """The aggregate a command returned equals the one a second application reloads."""
        assert _state(self.reader.get_job(live.id)) == _state(live)

    # ----------------------------------------------------------------- helpers
    def expect_refused(self, error: type[DomainError], job_id: uuid.UUID | None, call: Any) -> None:
        """The command must raise ``error`` and append nothing."""
        position = self.app.current_position()
        version = self.app.get_job(job_id).version if job_id else None
        with pytest.raises(error):
            call()
        assert self.app.current_position() == position, "a refused command appended events"
        if job_id is not None:
            assert self.app.get_job(job_id).version == version

    def move_error(self, job: ModelJob, move: Move) -> type[DomainError] | None:
        if job.purged:
            return IllegalMove
        if (move, job.status) in IDEMPOTENT_REPEATS:
            return None
        if find_transition(job.kind, move, job.status) is None:
            return IllegalMove
        return None

    def moved(self, job: ModelJob, move: Move) -> None:
        row = find_transition(job.kind, move, job.status)
        assert row is not None
        job.status = row.target
        if job.status in FINISHED_STATUSES:
            job.finished_once = True

    def release(self, job_id: uuid.UUID, job: ModelJob) -> None:
        if job.status in ACTIVE_STATUSES:
            return
        if job.kind == "backup":
            self.holders[job.host].pop(job_id, None)
            self.stopping[job.host].pop(job_id, None)
        else:
            self.active_restores[job.host].discard(job_id)

    # ----------------------------------------------------------------- backups
    @rule(
        target=backups,
        shape=st.sampled_from(SCOPE_SHAPES),
        force=st.booleans(),
        name=st.sampled_from(NAMES),
    )
    def request_backup(
        self, shape: tuple[int, str | None, str | None], force: bool, name: str | None
    ) -> Any:
        scope = self.scope(shape)
        host = scope.host_id
        name = None if name is None else f"{name}-{self.ns}"
        spec = BackupSpec(scope=scope, group_entities=("profile",), name=name, force=force)
        overlapping = [
            j
            for jobs in (self.holders[host], self.stopping[host])
            for j, s in jobs.items()
            if s.overlaps(scope)
        ]
        expected: type[DomainError] | None = None
        if self.active_restores[host]:
            expected = RestoreInProgress
        elif overlapping and not force:
            expected = BackupInProgress
        elif name is not None and name in self.names:
            expected = NameTaken
        if expected is not None:
            self.expect_refused(expected, None, lambda: self.app.request_backup(spec, "alice"))
            return multiple()
        backup = self.app.request_backup(spec, "alice")
        self.check_reload(backup)
        for old in overlapping:
            if old in self.holders[host]:
                old_job = self.jobs[old]
                if old_job.status != "CANCELLING":
                    self.moved(old_job, Move.CANCEL)
                self.stopping[host][old] = self.holders[host].pop(old)
        assert set(backup.supersedes) == set(overlapping)
        self.seq += 1
        self.jobs[backup.id] = ModelJob(
            kind="backup",
            status="INITIALIZING",
            host=host,
            scope=scope,
            name=backup.name,
            supersedes=tuple(overlapping),
            seq=self.seq,
        )
        self.holders[host][backup.id] = scope
        self.names[backup.name] = backup.id
        return backup.id

    # ----------------------------------------------------------------- shared job moves
    @precondition(_a_job_to_draw)
    @rule(job_id=st.one_of(backups, restores), worker=st.sampled_from(WORKERS))
    def claim(self, job_id: uuid.UUID, worker: str) -> None:
        job = self.jobs[job_id]
        error = self.move_error(job, Move.CLAIM)
        if error is None and any(self.jobs[p].status in ACTIVE_STATUSES for p in job.supersedes):
            error = WaitingForPredecessor
        if error is not None:
            self.expect_refused(error, job_id, lambda: self.app.claim(job_id, worker, LEASE))
            return
        self.check_reload(self.app.claim(job_id, worker, LEASE))
        self.moved(job, Move.CLAIM)
        job.worker = worker

    @precondition(_a_job_to_draw)
    @rule(
        job_id=st.one_of(backups, restores),
        worker=st.sampled_from(WORKERS),
        expired=st.booleans(),
    )
    def resume(self, job_id: uuid.UUID, worker: str, expired: bool) -> None:
        job = self.jobs[job_id]
        now = datetime.now(UTC) + timedelta(seconds=LEASE * 10 if expired else 0)
        error = self.move_error(job, Move.RESUME)
        if error is None and worker != job.worker and not expired:
            error = LeaseHeld
        if error is not None:
            self.expect_refused(error, job_id, lambda: self.app.resume(job_id, worker, LEASE, now))
            return
        self.check_reload(self.app.resume(job_id, worker, LEASE, now))
        job.worker = worker

    @precondition(_a_job_to_draw)
    @rule(
        job_id=st.one_of(backups, restores),
        worker=st.sampled_from(WORKERS),
        key=st.sampled_from(KEYS),
        outcome=st.sampled_from(["success", "error", "ignored"]),
    )
    def record(self, job_id: uuid.UUID, worker: str, key: str, outcome: str) -> None:
        job = self.jobs[job_id]
        if outcome == "success":

            def call() -> Job:
                return self.app.hold(job_id, worker).record_success(key, "0" * 64, 2, 1)
        elif outcome == "error":

            def call() -> Job:
                return self.app.hold(job_id, worker).record_error(key, "boom", 0, 3)
        else:

            def call() -> Job:
                return self.app.hold(job_id, worker).record_ignored(key, "not served")

        error = self.move_error(job, Move.RECORD_PROGRESS)
        if error is None and worker != job.worker:
            error = NotLeaseHolder
        if error is None and key in job.keys:
            error = EntityAlreadyRecorded
        if error is not None:
            self.expect_refused(error, job_id, call)
            return
        self.check_reload(call())
        job.keys.add(key)
        job.error_calls += {"success": 1, "error": 3}.get(outcome, 0)

    @precondition(_a_job_to_draw)
    @rule(job_id=st.one_of(backups, restores), worker=st.sampled_from(WORKERS))
    def complete(self, job_id: uuid.UUID, worker: str) -> None:
        job = self.jobs[job_id]
        error = self.move_error(job, Move.COMPLETE)
        if error is None and worker != job.worker:
            error = NotLeaseHolder
        if error is not None:
            self.expect_refused(error, job_id, lambda: self.app.hold(job_id, worker).complete(10))
            return
        self.check_reload(self.app.hold(job_id, worker).complete(10))
        self.moved(job, Move.COMPLETE)
        self.release(job_id, job)

    @precondition(_a_job_to_draw)
    @rule(job_id=st.one_of(backups, restores))
    def fail(self, job_id: uuid.UUID) -> None:
        job = self.jobs[job_id]
        error = self.move_error(job, Move.FAIL)
        if error is not None:
            self.expect_refused(error, job_id, lambda: self.app.fail(job_id, "boom", "bob"))
            return
        self.check_reload(self.app.fail(job_id, "boom", "bob"))
        self.moved(job, Move.FAIL)
        self.release(job_id, job)

    @precondition(_a_job_to_draw)
    @rule(job_id=st.one_of(backups, restores))
    def cancel(self, job_id: uuid.UUID) -> None:
        job = self.jobs[job_id]
        error = self.move_error(job, Move.CANCEL)
        if error is not None:
            self.expect_refused(error, job_id, lambda: self.app.cancel(job_id, "bob"))
            return
        before = self.app.current_position()
        self.app.cancel(job_id, "bob")
        if job.status == "CANCELLING":
            assert self.app.current_position() == before, "a repeated cancel appended events"
        else:
            self.moved(job, Move.CANCEL)

    @precondition(_a_job_to_draw)
    @rule(job_id=st.one_of(backups, restores))
    def acknowledge_cancel(self, job_id: uuid.UUID) -> None:
        job = self.jobs[job_id]
        move = Move.ACKNOWLEDGE_DELETE if job.delete_requested else Move.ACKNOWLEDGE_CANCEL
        error = self.move_error(job, move)
        if error is not None:
            self.expect_refused(
                error, job_id, lambda: self.app.acknowledge_cancel(job_id, "worker:w1")
            )
            return
        self.check_reload(self.app.acknowledge_cancel(job_id, "worker:w1"))
        self.moved(job, move)
        self.release(job_id, job)

    # ----------------------------------------------------------------- backup-only moves
    @rule(backup_id=backups)
    def delete(self, backup_id: uuid.UUID) -> None:
        job = self.jobs[backup_id]
        before = self.app.current_position()
        repeat = (job.status == "DELETING" and not job.purged) or (
            job.status == "CANCELLING" and job.delete_requested
        )
        if repeat:
            self.app.delete_backup(backup_id, "bob")
            assert self.app.current_position() == before, "a repeated delete appended events"
            return
        move = (
            Move.DELETE
            if find_transition("backup", Move.DELETE, job.status)
            else (Move.DELETE_RUNNING)
        )
        error = self.move_error(job, move)
        if error is not None:
            self.expect_refused(error, backup_id, lambda: self.app.delete_backup(backup_id, "bob"))
            return
        self.check_reload(self.app.delete_backup(backup_id, "bob"))
        self.moved(job, move)
        job.delete_requested = True

    @rule(backup_id=consumes(backups))
    def purge(self, backup_id: uuid.UUID) -> None:
        job = self.jobs[backup_id]
        error = self.move_error(job, Move.PURGE)
        if error is not None:
            self.expect_refused(
                error, backup_id, lambda: self.app.purge_backup(backup_id, 0, "worker:w1")
            )
            return
        self.check_reload(self.app.purge_backup(backup_id, 0, "worker:w1"))
        self.moved(job, Move.PURGE)
        job.purged = True
        if job.name is not None and self.names.get(job.name) == backup_id:
            del self.names[job.name]
        # Purged backups refuse everything: check one more move here, since the bundle
        # no longer hands this id out.
        self.expect_refused(IllegalMove, backup_id, lambda: self.app.cancel(backup_id, "bob"))

    @rule(backup_id=backups, missing=st.booleans())
    def verify(self, backup_id: uuid.UUID, missing: bool) -> None:
        job = self.jobs[backup_id]
        move = Move.MARK_MISSING if missing else Move.MARK_INTACT
        error = self.move_error(job, move)
        if missing:

            def call() -> Backup:
                return self.app.mark_missing(backup_id, "blob gone", "verifier")
        else:

            def call() -> Backup:
                return self.app.mark_intact(backup_id, "verifier")

        if error is not None:
            self.expect_refused(error, backup_id, call)
            return
        self.check_reload(call())
        self.moved(job, move)

    # ----------------------------------------------------------------- restores
    @rule(
        target=restores,
        backup_id=backups,
        host_index=st.sampled_from(HOST_INDEXES),
        allow_partial=st.booleans(),
    )
    def request_restore(self, backup_id: uuid.UUID, host_index: int, allow_partial: bool) -> Any:
        host = self.hosts[host_index]
        source = self.jobs[backup_id]
        spec = RestoreSpec(
            backup_id=backup_id,
            target=Scope(host_id=host, tenant_id="t1"),
            allow_partial=allow_partial,
        )
        expected: type[DomainError] | None = None
        if source.status != "SUCCESS" or source.purged:
            expected = BackupNotRestorable
        elif source.error_calls and not allow_partial:
            expected = IncompleteBackup
        elif self.active_restores[host]:
            expected = RestoreInProgress
        if expected is not None:
            self.expect_refused(expected, None, lambda: self.app.request_restore(spec, "alice"))
            return multiple()
        restore = self.app.request_restore(spec, "alice")
        self.check_reload(restore)
        self.seq += 1
        self.jobs[restore.id] = ModelJob(
            kind="restore", status="INITIALIZING", host=host, seq=self.seq
        )
        self.active_restores[host].add(restore.id)
        return restore.id

    # ----------------------------------------------------------------- invariants
    @invariant()
    def invariants_hold(self) -> None:
        """Every job as a second application reloads it from the store."""
        stored = {job_id: self.reader.get_job(job_id) for job_id in self.jobs}
        self.statuses_match_the_model(stored)
        self.one_active_backup_per_overlapping_scope(stored)
        self.nothing_starts_while_a_restore_runs()
        self.names_are_unique(stored)

    def teardown(self) -> None:
        self.views_equal_the_fold()

    def views_equal_the_fold(self) -> None:
        """After the whole random sequence: bring the views and a pure in-memory fold up to
        the log's end, then compare this example's jobs in both, and with the model."""
        start = self.views.max_tracking_id(self.app.name) or 0  # type: ignore[attr-defined]
        records = self.app.recorder.select_notifications(
            start=start, limit=10_000, inclusive_of_start=False
        )
        batch = [
            (self.app.mapper.to_domain_event(r), Tracking(self.app.name, r.id)) for r in records
        ]
        for event, tracking in batch:
            self.folded.apply(tracking.notification_id, event)
        self.views.apply_events(batch)
        for job_id, job in self.jobs.items():
            key = str(job_id)
            if job.kind == "backup":
                assert self.views.backup(key) == self.folded.backups.get(key)
                if job.purged:
                    assert self.views.backup(key) is None
                    continue
            else:
                assert self.views.restore(key) == self.folded.restores.get(key)
            row = self.views.backup(key) or self.views.restore(key)
            assert row is not None and row.status == job.status
            assert row.done == len(job.keys)
            outcomes = {(o.job_id, o.key): o for o in self.views.outcomes(key)}
            expected = {k: v for k, v in self.folded.outcomes.items() if k[0] == key}
            assert outcomes == expected

    def statuses_match_the_model(self, stored: dict[uuid.UUID, Job]) -> None:
        for job_id, job in self.jobs.items():
            live = stored[job_id]
            assert live.status == job.status, (job_id, live.status, job.status)
            assert set(live.outcomes) == job.keys
            if job.finished_once:
                assert live.status not in ACTIVE_STATUSES, "a finished job ran again"

    def one_active_backup_per_overlapping_scope(self, stored: dict[uuid.UUID, Job]) -> None:
        active = [
            (job_id, stored[job_id])
            for job_id, job in self.jobs.items()
            if job.kind == "backup" and job.status in ACTIVE_STATUSES
        ]
        for i, (a_id, a) in enumerate(active):
            for b_id, b in active[i + 1 :]:
                assert isinstance(a, Backup) and isinstance(b, Backup)
                if not a.scope.overlaps(b.scope):
                    continue
                older, newer = (a, b) if self.jobs[a_id].seq < self.jobs[b_id].seq else (b, a)
                assert older.status == "CANCELLING", "two overlapping backups both hold a scope"
                assert _supersedes(stored, newer, older.id), "overlap without force"
                assert newer.status != "IN_PROGRESS", "forced backup ran before its predecessor"

    def nothing_starts_while_a_restore_runs(self) -> None:
        for host in self.hosts:
            running = [
                j
                for j, m in self.jobs.items()
                if m.kind == "restore" and m.host == host and m.status in ACTIVE_STATUSES
            ]
            assert len(running) <= 1
            if running:
                since = self.jobs[running[0]].seq
                for m in self.jobs.values():
                    assert not (m.host == host and m.seq > since), "job admitted during restore"

    def names_are_unique(self, stored: dict[uuid.UUID, Job]) -> None:
        names = [
            job.name
            for j, m in self.jobs.items()
            if m.kind == "backup" and not m.purged and isinstance(job := stored[j], Backup)
        ]
        assert len(names) == len(set(names))


def _supersedes(stored: dict[uuid.UUID, Job], newer: Backup, old_id: uuid.UUID) -> bool:
    """True when ``newer`` superseded ``old_id`` directly or through a chain of forces."""
    seen: set[uuid.UUID] = set()
    frontier = list(newer.supersedes)
    while frontier:
        current = frontier.pop()
        if current == old_id:
            return True
        if current not in seen:
            seen.add(current)
            previous = stored[current]
            assert isinstance(previous, Backup)
            frontier.extend(previous.supersedes)
    return False


def _state(job: Job) -> dict[str, Any]:
    state = {k: v for k, v in vars(job).items() if k != "_pending_events"}
    if isinstance(job, Restore | Backup):
        state["spec"] = job.spec.model_dump()
    return state


_SHARED: dict[str, tuple[RewindApplication, RewindApplication]] = {}
_SHARED_VIEWS: dict[str, tuple[ViewsMixin, Folded]] = {}
_CLEANUPS: list[Callable[[], None]] = []


def teardown_module() -> None:
    """Close the shared applications, then remove their stores."""
    for writer, reader in _SHARED.values():
        writer.close()
        reader.close()
    _SHARED.clear()
    for views, _ in _SHARED_VIEWS.values():
        views.datastore.close()  # type: ignore[attr-defined]
    _SHARED_VIEWS.clear()
    while _CLEANUPS:
        _CLEANUPS.pop()()


def _shared(kind: str, target: StoreTarget) -> tuple[RewindApplication, RewindApplication]:
    if kind not in _SHARED:
        _SHARED[kind] = (target.open(), target.open())
        settings_ = target.settings()
        views = open_views(application_env(settings_), view_class_for(settings_))
        _SHARED_VIEWS[kind] = (views, Folded())
    return _SHARED[kind]


class SQLiteLifecycle(LifecycleMachine):
    backend = "sqlite"

    def shared_apps(self) -> tuple[RewindApplication, RewindApplication]:
        if "sqlite" not in _SHARED:
            tmp = Path(tempfile.mkdtemp(prefix="rewind-prop-"))
            _CLEANUPS.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
            return _shared("sqlite", StoreTarget.sqlite(tmp))
        return _SHARED["sqlite"]


class PostgresLifecycle(LifecycleMachine):
    backend = "postgres"

    def shared_apps(self) -> tuple[RewindApplication, RewindApplication]:
        if "postgres" not in _SHARED:
            schema = f"p_{uuid.uuid4().hex[:12]}"
            make_pg_schema(schema)
            _CLEANUPS.append(lambda: drop_pg_schema(schema))
            return _shared("postgres", StoreTarget.postgres(schema, Path(tempfile.gettempdir())))
        return _SHARED["postgres"]


MACHINE_SETTINGS = settings(
    max_examples=200 if IN_CI else 30,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestSQLiteLifecycle = SQLiteLifecycle.TestCase
TestSQLiteLifecycle.settings = MACHINE_SETTINGS


class TestPostgresLifecycle(PostgresLifecycle.TestCase):  # type: ignore[misc,valid-type]
    settings = MACHINE_SETTINGS

    def setUp(self) -> None:
        require_postgres()
