"""The application service: every command and query of Rewind's core, over an event store.

Commands load aggregates, let them decide, and save every changed aggregate in ONE
``save()`` (jobs together with their guards), so the event store's optimistic concurrency
decides races between processes. When a save loses such a race (IntegrityError), the command
runs again against the new state: it then either succeeds or fails with the domain error that
the new state calls for (e.g. 1015 for the loser of two simultaneous backups of one scope).

The persistence (SQLite or PostgreSQL, the mapper and transcoder) is chosen by the ``env``
the adapters pass in; this module does no I/O of its own.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import resolve_topic

from domain.admission import PlanBackupRequest, check_host_admits, spec_from_plan
from domain.admission_batch import AdmissionQueue, Ticket, WorkingSet, current_working_set, deciding
from domain.audit import AuditEntry, LogHead, audit_entry
from domain.backup import Backup, BackupSpec
from domain.errors import (
    ConcurrentUpdate,
    DomainError,
    HostAlreadyRegistered,
    IllegalMove,
    NotFound,
    UnknownHost,
    UnknownPlan,
    WaitingForPredecessor,
)
from domain.guards import HostActivity, HostDirectory, NameClaim
from domain.host import Host, HostSettings, host_uuid
from domain.job import Job
from domain.lifecycle import Move
from domain.lineage import BackupLineage, BaseChoice, choose_base, lineage_key
from domain.model import Aggregate
from domain.plan import (
    DEFAULT_PLAN_ID,
    Plan,
    PlanDirectory,
    PlanSettings,
    default_plan_settings,
    plan_backup_spec,
    plan_uuid,
)
from domain.progress import ProgressRecord
from domain.restore import Restore, RestoreSpec, check_restorable
from domain.token import BOOTSTRAP_NAME, Role, Token, TokenDirectory, TokenSpec, token_uuid

SW_VERSION = "0.1.0"
"""The version recorded in every backup (APIO's sw_version, QRadar's version)."""

MAX_ATTEMPTS = 16
"""How often a command is retried after losing a write race before it gives up (2009)."""


def _backoff(attempt: int) -> None:
    """Wait a little, randomly, before retrying a lost race: a request that cancels a busy
    job competes with the worker appending that job's progress every few milliseconds."""
    time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 7)))


T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


_saved = threading.local()


@functools.cache
def _type_name(topic: str) -> str:
    """An event topic's class name as the audit trail spells it (renamed topics resolve)."""
    name: str = resolve_topic(topic).__qualname__
    return name


class RewindApplication(Application[UUID]):
    """Commands and queries over backups, restores, hosts and plans."""

    name = "rewind"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command_lock = threading.RLock()
        """Commands of this process take turns (one attempt at a time): they mostly write
        the same few guard aggregates (a host's activity, the name index), so running them
        side by side only makes them lose races, back off and retry; concurrent requests
        would then be refused (2009). Races with other processes still retry."""
        self._admissions: AdmissionQueue[tuple[BackupSpec, str], Backup] = AdmissionQueue(
            self._command_lock, self._admit_batch
        )
        """Concurrent backup requests, decided together and saved in one write (group
        commit, see domain.admission_batch)."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Save, and remember (per thread) the log position of the last event written, so
        the caller can wait for the views to reach it (read-your-writes)."""
        recordings = super().save(*objs, **kwargs)
        if recordings:
            _saved.position = max(r.notification.id for r in recordings)
        return recordings

    @staticmethod
    def reset_saved_position() -> None:
        _saved.position = 0

    @staticmethod
    def saved_position() -> int:
        """The position of the last event this thread saved since the last reset."""
        position: int = getattr(_saved, "position", 0)
        return position

    # ----------------------------------------------------------------- plumbing
    def _retrying(self, command: Callable[[], T]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._command_lock:
                    return command()
            except IntegrityError:
                _backoff(attempt)
        raise ConcurrentUpdate("the command kept conflicting with concurrent writes; try again")

    def _load(self, aggregate_id: UUID) -> Any:
        """The aggregate from the store or, while this thread decides a batch of backup
        requests, the batch's version of it (see domain.admission_batch)."""
        working_set = current_working_set()
        if working_set is None:
            return self.repository.get(aggregate_id)
        return working_set.load(aggregate_id, self.repository.get)

    def _read(self, aggregate_id: UUID) -> Any:
        """An aggregate the caller only reads: from the store or, while this thread decides
        a batch of backup requests, loaded once for the whole batch."""
        working_set = current_working_set()
        if working_set is None:
            return self.repository.get(aggregate_id)
        return working_set.read(aggregate_id, self.repository.get)

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            found: Any = self._load(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} {aggregate_id} not found") from None
        if not isinstance(found, cls):
            raise NotFound(f"{what} {aggregate_id} not found")
        return found

    def _get_or_open(self, cls: type[A], aggregate_id: UUID, **init: Any) -> A:
        try:
            found: Any = self._load(aggregate_id)
        except AggregateNotFoundError:
            return cls(**init)
        assert isinstance(found, cls)
        return found

    def _activity(self, host_id: str) -> HostActivity:
        return self._get_or_open(HostActivity, HostActivity.create_id(host_id), host_id=host_id)

    # ----------------------------------------------------------------- hosts
    def register_host(self, host_id: str, settings: HostSettings, principal: str) -> Host:
        def command() -> Host:
            if host_uuid(host_id) in self.repository:
                raise HostAlreadyRegistered(f"host {host_id!r} is already registered")
            host = Host(host_id=host_id, settings=settings, principal=principal)
            directory = self._get_or_open(HostDirectory, HostDirectory.create_id())
            directory.add(host_id)
            self.save(host, directory)
            return host

        return self._retrying(command)

    def update_host(self, host_id: str, settings: HostSettings, principal: str) -> Host:
        def command() -> Host:
            host = self.get_host(host_id)
            host.update(settings, principal)
            self.save(host)
            return host

        return self._retrying(command)

    def get_host(self, host_id: str) -> Host:
        try:
            host: Any = self._read(host_uuid(host_id))
        except AggregateNotFoundError:
            raise UnknownHost(f"The backup host does not exist: {host_id!r}") from None
        assert isinstance(host, Host)
        return host

    def list_hosts(self) -> list[Host]:
        directory = self._get_or_open(HostDirectory, HostDirectory.create_id())
        return [self.get_host(host_id) for host_id in directory.host_ids]

    def has_host(self, host_id: str) -> bool:
        return host_uuid(host_id) in self.repository

    # ----------------------------------------------------------------- plans
    def ensure_default_plan(self, principal: str = "system") -> Plan:
        """Plan 1 (the whole default host, every entity) exists from the start."""

        def command() -> Plan:
            try:
                return self.get_plan(DEFAULT_PLAN_ID)
            except UnknownPlan:
                plan = Plan(
                    plan_id=DEFAULT_PLAN_ID,
                    settings=default_plan_settings(),
                    principal=principal,
                )
                self.save(plan)
                return plan

        return self._retrying(command)

    def create_plan(self, settings: PlanSettings, principal: str) -> Plan:
        """A new plan, deployed, with the next free id. The id comes from the plan
        directory saved in the same write, so two processes never get the same one (the
        loser of the race retries with the next id)."""

        def command() -> Plan:
            self.get_host(settings.scope.host_id)
            directory = self._get_or_open(PlanDirectory, PlanDirectory.create_id())
            plan_id = directory.next_id()
            while plan_uuid(plan_id) in self.repository:  # plans made before the directory
                plan_id += 1
            plan = Plan(plan_id=plan_id, settings=settings, principal=principal)
            directory.add(plan_id)
            self.save(plan, directory)
            return plan

        return self._retrying(command)

    def get_plan(self, plan_id: int) -> Plan:
        """A plan that exists and was not deleted (else 1007, seed 001's wording)."""
        try:
            plan: Any = self.repository.get(plan_uuid(plan_id))
        except AggregateNotFoundError:
            raise UnknownPlan(f"The backup configuration does not exist: {plan_id}") from None
        assert isinstance(plan, Plan)
        if plan.deleted:
            raise UnknownPlan(f"The backup configuration does not exist: {plan_id}")
        return plan

    def list_plans(self) -> list[Plan]:
        """Every plan not deleted, by id (plan 1 first when it exists)."""
        directory = self._get_or_open(PlanDirectory, PlanDirectory.create_id())
        ids = sorted({DEFAULT_PLAN_ID, *directory.plan_ids})
        plans: list[Plan] = []
        for plan_id in ids:
            try:
                plans.append(self.get_plan(plan_id))
            except UnknownPlan:
                continue
        return plans

    def _plan_command(self, plan_id: int, change: Callable[[Plan], None]) -> Plan:
        def command() -> Plan:
            plan = self.get_plan(plan_id)
            change(plan)
            self.save(plan)
            return plan

        return self._retrying(command)

    def stage_plan(self, plan_id: int, settings: PlanSettings, principal: str) -> Plan:
        """Stage an edit; the deployed version stays in force until deploy_plan."""

        def change(plan: Plan) -> None:
            self.get_host(settings.scope.host_id)
            plan.stage(settings, principal)

        return self._plan_command(plan_id, change)

    def deploy_plan(self, plan_id: int, principal: str) -> Plan:
        """The staged version becomes the deployed one (NothingStaged, 409, when none)."""
        return self._plan_command(plan_id, lambda plan: plan.deploy(principal))

    def pause_plan(self, plan_id: int, principal: str) -> Plan:
        """No scheduled runs until resumed (idempotent); ticks meanwhile are not caught up."""
        return self._plan_command(plan_id, lambda plan: plan.pause(principal))

    def resume_plan(self, plan_id: int, principal: str) -> Plan:
        return self._plan_command(plan_id, lambda plan: plan.resume(principal))

    def delete_plan(self, plan_id: int, principal: str) -> Plan:
        """The plan stops and disappears from lists; its backups stay. Plan 1 cannot go."""
        return self._plan_command(plan_id, lambda plan: plan.delete(principal))

    def fire_plan(self, plan_id: int, tick: datetime, principal: str = "scheduler") -> Plan | None:
        """Run the deployed plan for the cron ``tick``, recording ``Fired`` (or ``Skipped``)
        on the plan in the same write as the backup request, so a tick fires at most once
        however many schedulers see it. A tick at or before the last recorded one, or on a
        paused plan, records nothing. Overlap: ``skip`` records a skipped tick while the
        plan's previous backup is active; ``cancel`` forces the new one (which cancels it).
        A refused request (another backup of the scope, a restore, an unknown host) is
        recorded as a skipped tick with the refusal's message. Returns the plan when this
        call recorded the tick (see ``last_backup_id`` / ``last_skip_reason``), else None."""

        def command() -> Plan | None:
            plan = self.get_plan(plan_id)
            if plan.paused or not plan.tick_is_due(tick):
                return None
            settings = plan.settings
            previous = self._previous_active(plan)
            if previous is not None and settings.overlap == "skip":
                plan.skipped(
                    tick=tick,
                    reason=f"backup {previous} of this plan is still running",
                    principal=principal,
                )
                self.save(plan)
                return plan
            try:
                backup, changed = self._admit_backup(
                    plan_backup_spec(plan, force=previous is not None), principal
                )
            except DomainError as refused:
                plan.skipped(tick=tick, reason=refused.message, principal=principal)
                self.save(plan)
                return plan
            plan.fired(tick=tick, backup_id=backup.id, principal=principal)
            self.save(*changed, plan)
            return plan

        return self._retrying(command)

    def run_plan(self, plan_id: int, principal: str) -> Backup:
        """Run the deployed plan now, outside its schedule (paused or not). The plan's
        overlap policy applies: with ``cancel`` a running backup of the plan is stopped;
        with ``skip`` the request is refused (1015) while one runs."""

        def command() -> Backup:
            plan = self.get_plan(plan_id)
            force = plan.settings.overlap == "cancel" and self._previous_active(plan) is not None
            backup, changed = self._admit_backup(plan_backup_spec(plan, force=force), principal)
            plan.run_requested(backup_id=backup.id, principal=principal)
            self.save(*changed, plan)
            return backup

        return self._retrying(command)

    def _previous_active(self, plan: Plan) -> UUID | None:
        """The plan's last backup, when it is still active."""
        if plan.last_backup_id is None:
            return None
        try:
            previous = self.get_backup(plan.last_backup_id)
        except NotFound:
            return None
        return previous.id if previous.is_active else None

    # ----------------------------------------------------------------- backups
    def request_backup(self, spec: BackupSpec, principal: str) -> Backup:
        """Admit a backup: checks the host, the scope guard (1015/1016, force_backup) and the
        name guard (1005), and saves the backup with its guards in one write. Concurrent
        requests of this process share that write (group commit, ``_admit_batch``)."""
        ticket = self._admissions.submit((spec, principal))
        _saved.position = max(self.saved_position(), ticket.position)
        return ticket.answer()

    def _request_backup_alone(self, spec: BackupSpec, principal: str) -> Backup:
        """One backup request, in a write of its own, retried on a lost race."""

        def command() -> Backup:
            backup, changed = self._admit_backup(spec, principal)
            self.save(*changed)
            return backup

        return self._retrying(command)

    def _admit_batch(self, tickets: list[Ticket[tuple[BackupSpec, str], Backup]]) -> None:
        """Decide ``tickets`` in order against one working set, then save every admitted
        one in one write. A refused request keeps its own error and changes nothing. When
        the write loses a race with another process, each request runs again alone."""
        admitted: list[Ticket[tuple[BackupSpec, str], Backup]] = []
        with deciding(WorkingSet()) as working_set:
            for ticket in tickets:
                try:
                    ticket.result, changed = self._admit_backup(*ticket.request)
                except Exception as refused:
                    working_set.drop()
                    ticket.error, ticket.done = refused, True
                    continue
                working_set.keep(changed)
                admitted.append(ticket)
        if not admitted:
            return  # every request was refused: nothing to write
        try:
            recordings = self.save(*working_set.changed())
        except IntegrityError:  # refusals too: they were decided against the lost write
            for ticket in tickets:
                self._answer_alone(ticket)
            return
        position = max((r.notification.id for r in recordings or ()), default=0)
        for ticket in admitted:
            ticket.position, ticket.done = position, True

    def _answer_alone(self, ticket: Ticket[tuple[BackupSpec, str], Backup]) -> None:
        self.reset_saved_position()
        try:
            ticket.result, ticket.error = self._request_backup_alone(*ticket.request), None
        except Exception as refused:
            ticket.result, ticket.error = None, refused
        ticket.position, ticket.done = self.saved_position(), True

    def request_plan_backup(self, request: PlanBackupRequest, principal: str) -> Backup:
        """Seed 001's create: a run of plan ``request.plan_id`` on a host whose flags admit
        it (domain.admission: 1007, 1009, 1010-1014), then the guards (1005, 1015, 1016).
        The plan records the run in the same write, so a change staged meanwhile makes this
        command retry and be refused (1011)."""

        def command() -> Backup:
            plan = self.get_plan(request.plan_id)
            check_host_admits(self.get_host(request.host_id), request.kind, plan)
            backup, changed = self._admit_backup(spec_from_plan(plan, request), principal)
            plan.run_requested(backup_id=backup.id, principal=principal)
            self.save(*changed, plan)
            return backup

        return self._retrying(command)

    def _admit_backup(self, spec: BackupSpec, principal: str) -> tuple[Backup, list[Aggregate]]:
        """Decide a backup request; return the backup and every aggregate to save with it
        (the caller may add its own, e.g. the plan recording a fired tick)."""
        self.get_host(spec.scope.host_id)
        if spec.plan_id is not None:
            self.get_plan(spec.plan_id)
        activity = self._activity(spec.scope.host_id)
        superseded = activity.check_backup_allowed(spec.scope, spec.force)
        cancelled: list[Backup] = []
        for old_id in superseded:
            if activity.holds_scope(old_id):
                old = self._get(Backup, old_id, "backup")
                old.cancel(principal)
                cancelled.append(old)
        backup = Backup(
            spec=spec,
            supersedes=tuple(superseded),
            sw_version=SW_VERSION,
            principal=principal,
        )
        name = backup.name
        claim = self._get_or_open(NameClaim, NameClaim.create_id(name), name=name)
        claim.claim(backup.id)
        activity.admit_backup(backup_id=backup.id, scope=spec.scope, superseded=tuple(superseded))
        return backup, [backup, activity, claim, *cancelled]

    def get_backup(self, backup_id: UUID) -> Backup:
        return self._get(Backup, backup_id, "backup")

    def get_restore(self, restore_id: UUID) -> Restore:
        return self._get(Restore, restore_id, "restore")

    def get_job(self, job_id: UUID) -> Job:
        return self._get(Job, job_id, "job")

    def hold(self, job_id: UUID, worker_id: str) -> JobHandle:
        """A worker's in-memory hold on a job it has claimed or resumed (see JobHandle)."""
        return JobHandle(self, job_id, worker_id)

    def _job_command(self, job_id: UUID, change: Callable[[Job], list[Aggregate] | None]) -> Job:
        """Load a job, apply ``change`` (which returns other aggregates it changed, such as
        guards), save them all together; retried on a lost race."""

        def command() -> Job:
            job = self.get_job(job_id)
            others = change(job) or []
            self.save(job, *others)
            return job

        return self._retrying(command)

    def release_guards(self, job: Job) -> list[Aggregate]:
        """Guards to update when ``job`` has just stopped running."""
        if job.is_active:
            return []
        if isinstance(job, Backup):
            activity = self._activity(job.scope.host_id)
            activity.release_backup(job.id)
            return [activity, *self._lineage_on_success(job)]
        if isinstance(job, Restore):
            activity = self._activity(job.target.host_id)
            activity.release_restore(job.id)
            return [activity]
        return []

    # ----------------------------------------------------------------- lineage (incremental)
    def _lineage(self, backup: Backup) -> BackupLineage:
        spec = backup.spec
        key = lineage_key(spec.plan_id, spec.scope, spec.kind)
        return self._get_or_open(BackupLineage, BackupLineage.create_id(key), key=key)

    def _lineage_on_success(self, backup: Backup) -> list[Aggregate]:
        """A backup that completed SUCCESS joins its plan's lineage, in the same save."""
        if backup.status != "SUCCESS":
            return []
        lineage = self._lineage(backup)
        lineage.record(backup.id, backup.effective_type)
        return [lineage]

    def _usable_base(self, backup_id: UUID) -> bool:
        try:
            return self.get_backup(backup_id).status == "SUCCESS"
        except NotFound:
            return False

    def backup_base(self, backup: Backup) -> BaseChoice:
        """What ``backup`` runs as and relative to which backup, read from the event store
        (its plan's lineage, each candidate's status live); see domain.lineage."""
        lineage = self._lineage(backup)
        return choose_base(backup.spec.backup_type, lineage.entries, self._usable_base, lineage.key)

    def _resolve(self, job: Job, worker_id: str, total: int) -> None:
        """Record the scope's size and, for a backup, its base: both in one save, so a
        resumed backup has either both or neither."""
        principal = f"worker:{worker_id}"
        job.resolve_scope(worker_id, total, principal=principal)
        if isinstance(job, Backup) and not job.base_chosen:
            job.choose_base(worker_id, self.backup_base(job), principal)

    def claim(self, job_id: UUID, worker_id: str, lease_seconds: float) -> Job:
        """A worker takes an INITIALIZING job. A forced backup waits until the backups it
        superseded have stopped, so two of one scope never run at once."""

        def change(job: Job) -> list[Aggregate]:
            if isinstance(job, Backup) and job.allows(Move.CLAIM):
                for old_id in job.supersedes:
                    if self.get_backup(old_id).is_active:
                        raise WaitingForPredecessor(
                            f"backup {job.id} waits for backup {old_id} to stop"
                        )
            job.claim(worker_id, lease_seconds, principal=f"worker:{worker_id}")
            return []

        return self._job_command(job_id, change)

    def resume(self, job_id: UUID, worker_id: str, lease_seconds: float, now: datetime) -> Job:
        return self._job_command(
            job_id,
            lambda job: job.resume(worker_id, lease_seconds, now, principal=f"worker:{worker_id}"),
        )

    def resolve_scope(self, job_id: UUID, worker_id: str, total: int) -> Job:
        return self._job_command(job_id, lambda job: self._resolve(job, worker_id, total))

    def record_success(
        self,
        job_id: UUID,
        worker_id: str,
        key: str,
        digest: str,
        successful_calls: int,
        error_calls: int = 0,
        unchanged: bool = False,
    ) -> Job:
        return self._job_command(
            job_id,
            lambda job: job.record_success(
                worker_id,
                key,
                digest,
                successful_calls,
                error_calls,
                principal=f"worker:{worker_id}",
                unchanged=unchanged,
            ),
        )

    def record_error(
        self,
        job_id: UUID,
        worker_id: str,
        key: str,
        message: str,
        successful_calls: int,
        error_calls: int,
    ) -> Job:
        return self._job_command(
            job_id,
            lambda job: job.record_error(
                worker_id,
                key,
                message,
                successful_calls,
                error_calls,
                principal=f"worker:{worker_id}",
            ),
        )

    def record_ignored(self, job_id: UUID, worker_id: str, key: str, reason: str) -> Job:
        return self._job_command(
            job_id,
            lambda job: job.record_ignored(worker_id, key, reason, principal=f"worker:{worker_id}"),
        )

    def complete(
        self,
        job_id: UUID,
        worker_id: str,
        size_on_disk: int = 0,
        content_path: str | None = None,
    ) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.complete(worker_id, size_on_disk, content_path, principal=f"worker:{worker_id}")
            return self.release_guards(job)

        return self._job_command(job_id, change)

    def fail(self, job_id: UUID, reason: str, principal: str) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.fail(reason, principal)
            return self.release_guards(job)

        return self._job_command(job_id, change)

    def cancel(self, job_id: UUID, principal: str) -> Job:
        """Ask the worker to stop (idempotent while a cancel is under way)."""

        def change(job: Job) -> None:
            job.cancel(principal)

        return self._job_command(job_id, change)

    def acknowledge_cancel(self, job_id: UUID, principal: str) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.acknowledge_cancel(principal)
            return self.release_guards(job)

        return self._job_command(job_id, change)

    def delete_backup(self, backup_id: UUID, principal: str) -> Backup:
        def change(job: Job) -> list[Aggregate]:
            if not isinstance(job, Backup):
                raise NotFound(f"backup {backup_id} not found")
            job.delete(principal)
            return []

        job = self._job_command(backup_id, change)
        assert isinstance(job, Backup)
        return job

    def purge_backup(self, backup_id: UUID, removed_blobs: int, principal: str) -> Backup:
        """The artifacts are gone: the backup leaves the views and frees its name."""

        def command() -> Backup:
            backup = self.get_backup(backup_id)
            backup.purge(removed_blobs, principal)
            claim = self._get_or_open(NameClaim, NameClaim.create_id(backup.name), name=backup.name)
            claim.release(backup.id)
            self.save(backup, claim)
            return backup

        return self._retrying(command)

    def mark_missing(self, backup_id: UUID, reason: str, principal: str) -> Backup:
        def command() -> Backup:
            backup = self.get_backup(backup_id)
            backup.mark_missing(reason, principal)
            self.save(backup)
            return backup

        return self._retrying(command)

    def mark_intact(self, backup_id: UUID, principal: str) -> Backup:
        def command() -> Backup:
            backup = self.get_backup(backup_id)
            backup.mark_intact(principal)
            self.save(backup)
            return backup

        return self._retrying(command)

    # ----------------------------------------------------------------- restores
    def check_restore(self, spec: RestoreSpec) -> None:
        """Raise the error ``request_restore`` would (backup not restorable, 2010; whole-scope
        restore of an incomplete backup without ``allow_partial``, 2011; unknown host),
        recording nothing: callers check before they request a safety backup."""
        check_restorable(self.get_backup(spec.backup_id), spec)
        self.get_host(spec.target.host_id)

    def request_restore(self, spec: RestoreSpec, principal: str) -> Restore:
        """Admit a restore of a SUCCESS backup into a registered host; refused (1016) while
        another restore runs on that host."""

        def command() -> Restore:
            self.check_restore(spec)
            activity = self._activity(spec.target.host_id)
            activity.check_restore_allowed()
            restore = Restore(spec=spec, principal=principal)
            activity.admit_restore(restore_id=restore.id)
            self.save(restore, activity)
            return restore

        return self._retrying(command)

    # ----------------------------------------------------------------- audit
    def history(self, job_id: UUID) -> list[AuditEntry]:
        """Every event of one aggregate, in order: type, version, time, principal, payload."""
        events = list(self.events.get(job_id))
        if not events:
            raise NotFound(f"no history for {job_id}")
        return [audit_entry(e) for e in events]

    def read_log(self, after: int = 0, limit: int = 100) -> list[tuple[int, AuditEntry]]:
        """The global log from position ``after`` (exclusive), at most ``limit`` entries."""
        records = self.recorder.select_notifications(start=after + 1, limit=limit)
        return [(n.id, audit_entry(self.mapper.to_domain_event(n))) for n in records]

    def read_log_heads(self, after: int = 0, limit: int = 100) -> list[LogHead]:
        """``read_log`` without building events: type, aggregate, version and time of each
        entry, read from the stored envelope and the payload's timestamp alone. A worker
        follows the whole log, one progress event per entity of every backup; validating
        each as a pydantic event was a sizeable share of a backup's CPU (bench P5)."""
        mapper = self.mapper
        heads: list[LogHead] = []
        for note in self.recorder.select_notifications(start=after + 1, limit=limit):
            state = note.state
            if mapper.cipher:
                state = mapper.cipher.decrypt(state)
            if mapper.compressor:
                state = mapper.compressor.decompress(state)
            stamp = mapper.transcoder.decode(state)["timestamp"]
            heads.append(
                LogHead(
                    position=note.id,
                    type=_type_name(note.topic),
                    aggregate_id=UUID(str(note.originator_id)),
                    version=note.originator_version,
                    time=stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp),
                )
            )
        return heads

    def iter_log(self, after: int = 0, page: int = 500) -> Iterator[tuple[int, AuditEntry]]:
        """The whole log from ``after``, paged (the library caps a section's size)."""
        while True:
            batch = self.read_log(after, page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1][0]

    def current_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # ----------------------------------------------------------------- tokens
    def _token_directory(self) -> TokenDirectory:
        return self._get_or_open(TokenDirectory, TokenDirectory.create_id())

    def issue_token(
        self, token_hash: str, spec: TokenSpec, principal: str, bootstrap: bool = False
    ) -> Token:
        """Issue a token for a secret's hash; its name must be free among active tokens."""

        def command() -> Token:
            token = Token(token_hash=token_hash, spec=spec, principal=principal)
            directory = self._token_directory()
            directory.add(token.id, spec.name, bootstrap)
            self.save(token, directory)
            return token

        return self._retrying(command)

    def revoke_token(self, token_id: UUID, principal: str) -> Token:
        """Revoke a token (idempotent) and free its name."""

        def command() -> Token:
            token = self.get_token(token_id)
            token.revoke(principal)
            directory = self._token_directory()
            directory.release(token.id, token.spec.name)
            self.save(token, directory)
            return token

        return self._retrying(command)

    def get_token(self, token_id: UUID) -> Token:
        return self._get(Token, token_id, "token")

    def find_token(self, token_hash: str) -> Token | None:
        """The token whose secret hashes to ``token_hash`` (one keyed read), if any."""
        try:
            return self.get_token(token_uuid(token_hash))
        except NotFound:
            return None

    def list_tokens(self) -> list[Token]:
        return [self.get_token(i) for i in self._token_directory().token_ids]

    def bootstrap_admin(self, token_hash: str, pinned: bool) -> bool:
        """Make ``token_hash`` the bootstrap admin token. ``pinned`` (REWIND_ADMIN_TOKEN)
        replaces a previous bootstrap token (revoking it); otherwise the hash is used only
        when there has never been one (a first start). True when the token was issued."""

        def command() -> bool:
            directory = self._token_directory()
            current = directory.bootstrap_id
            wanted = token_uuid(token_hash)
            if current == wanted or (current is not None and not pinned):
                return False
            if wanted in self.repository:
                return False  # this secret was issued before and may be revoked: keep it so
            changed: list[Aggregate] = [directory]
            if current is not None:
                old = self.get_token(current)
                old.revoke("system")
                directory.release(old.id, old.spec.name)
                changed.append(old)
            token = Token(
                token_hash=token_hash,
                spec=TokenSpec(name=BOOTSTRAP_NAME, role=Role.ADMIN),
                principal="system",
            )
            directory.add(token.id, BOOTSTRAP_NAME, bootstrap=True)
            self.save(token, *changed)
            return True

        return self._retrying(command)


class JobHandle:
    """A worker's hold on one job: the aggregate stays in memory between commands, so a job
    with thousands of entities is not reloaded from the store for each one.

    Each command applies the domain method to the held aggregate and saves only the new
    events. If the save loses a race (someone cancelled the job, or another worker resumed
    it), the held copy is discarded, reloaded and the command tried again, so the outcome is
    what the current stored state calls for (IllegalMove once cancelled, NotLeaseHolder once
    taken over). Commands on one handle are serialised by a lock: a worker runs entity
    fetches concurrently and records their outcomes from several threads.
    """

    def __init__(self, app: RewindApplication, job_id: UUID, worker_id: str) -> None:
        self.app = app
        self.worker_id = worker_id
        self.principal = f"worker:{worker_id}"
        self.job = app.get_job(job_id)
        self._lock = threading.Lock()

    def refresh(self) -> Job:
        with self._lock:
            self.job = self.app.get_job(self.job.id)
            return self.job

    def _run(self, change: Callable[[Job], list[Aggregate] | None]) -> Job:
        with self._lock:
            for _ in range(MAX_ATTEMPTS):
                try:
                    others = change(self.job) or []
                    self.app.save(self.job, *others)
                    return self.job
                except IntegrityError:
                    self.job = self.app.get_job(self.job.id)
                except DomainError:
                    # Nothing was applied: the domain method raises before recording.
                    raise
            raise ConcurrentUpdate("the job kept changing under this worker")

    def resolve_scope(self, total: int) -> Job:
        return self._run(lambda job: self.app._resolve(job, self.worker_id, total))

    def record_success(
        self,
        key: str,
        digest: str,
        successful_calls: int,
        error_calls: int = 0,
        unchanged: bool = False,
    ) -> Job:
        return self._run(
            lambda job: job.record_success(
                self.worker_id,
                key,
                digest,
                successful_calls,
                error_calls,
                self.principal,
                unchanged=unchanged,
            )
        )

    def record_error(self, key: str, message: str, successful_calls: int, error_calls: int) -> Job:
        return self._run(
            lambda job: job.record_error(
                self.worker_id, key, message, successful_calls, error_calls, self.principal
            )
        )

    def record_ignored(self, key: str, reason: str) -> Job:
        return self._run(
            lambda job: job.record_ignored(self.worker_id, key, reason, self.principal)
        )

    def record_outcomes(self, records: Sequence[ProgressRecord]) -> Job:
        """Several entities' outcomes in ONE save (group commit): still one event per
        entity, each checked as record_success / error / ignored check it; outcomes already
        recorded are skipped (a resumed job). A refusal (lease lost, job cancelled) concerns
        the job, not one entity: it refuses the whole batch and the held copy is reloaded,
        so nothing half-applied stays in memory."""

        def change(job: Job) -> None:
            for record in records:
                if record.key not in job.outcomes:
                    record.apply(job, self.worker_id, self.principal)

        try:
            return self._run(change)
        except DomainError:
            self.refresh()
            raise

    def complete(self, size_on_disk: int, content_path: str | None) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.complete(self.worker_id, size_on_disk, content_path, self.principal)
            return self.app.release_guards(job)

        return self._run(change)

    def fail(self, reason: str) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.fail(reason, self.principal)
            return self.app.release_guards(job)

        return self._run(change)

    def acknowledge_cancel(self) -> Job:
        def change(job: Job) -> list[Aggregate]:
            job.acknowledge_cancel(self.principal)
            return self.app.release_guards(job)

        return self._run(change)


__all__ = ["IllegalMove", "JobHandle", "RewindApplication"]
