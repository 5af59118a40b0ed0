"""Backups: admission (the host, scope and name guards, decided in batches) and lineage
(which earlier backup an incremental one is relative to)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.admission import PlanBackupRequest, check_host_admits, spec_from_plan
from domain.admission_batch import AdmissionQueue, Ticket, WorkingSet, deciding
from domain.application.base import SW_VERSION, ApplicationBase
from domain.backup import Backup, BackupSpec
from domain.errors import NotFound
from domain.guards import NameClaim
from domain.lineage import BackupLineage, BaseChoice, choose_base, lineage_key
from domain.model import Aggregate


class BackupCommands(ApplicationBase):
    """Admit backups and read their lineage."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admissions: AdmissionQueue[tuple[BackupSpec, str], Backup] = AdmissionQueue(
            self._command_lock, self._admit_batch
        )
        """Concurrent backup requests, decided together and saved in one write (group
        commit, see domain.admission_batch)."""

    def request_backup(self, spec: BackupSpec, principal: str) -> Backup:
        """Admit a backup: checks the host, the scope guard (1015/1016, force_backup) and the
        name guard (1005), and saves the backup with its guards in one write. Concurrent
        requests of this process share that write (group commit, ``_admit_batch``)."""
        ticket = self._admissions.submit((spec, principal))
        self.note_saved_position(ticket.position)
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
