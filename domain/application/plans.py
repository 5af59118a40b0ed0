"""Plans: what to back up and when; firing or running one admits a backup in the same
write as the plan's record of it, so a tick fires at most once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from domain.application.backups import BackupCommands
from domain.backup import Backup
from domain.errors import DomainError, NotFound, UnknownPlan
from domain.plan import (
    DEFAULT_PLAN_ID,
    Plan,
    PlanDirectory,
    PlanSettings,
    default_plan_settings,
    plan_backup_spec,
    plan_uuid,
)


class PlanCommands(BackupCommands):
    """Create, edit, deploy, pause, delete, fire and run plans (admission is BackupCommands')."""

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
