"""The Restore aggregate: one run of putting a backup's content back into a target host."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from eventsourcing.domain import event

from domain.job import Job
from domain.model import Aggregate, Immutable
from domain.scope import Scope


class RestoreSpec(Immutable):
    """What to restore, where to, and how to treat objects that already exist there."""

    backup_id: UUID
    target: Scope
    group_entities: tuple[str, ...] | None = None
    """None restores every group entity the backup holds."""
    user_entities: tuple[str, ...] | None = None
    users: tuple[str, ...] | None = None
    """None restores every user the backup holds."""
    existing: Literal["update", "skip"] = "update"
    safety_backup_id: UUID | None = None
    request_id: str | None = None
    """The id of the HTTP request that asked for it: the worker's log lines carry it."""


class Restore(Job):
    job_kind: ClassVar[str] = "restore"

    class Requested(Aggregate.Created):
        spec: RestoreSpec
        principal: str

    @event(Requested)
    def __init__(self, spec: RestoreSpec, principal: str) -> None:
        self._init_job_state(principal)
        self.spec = spec

    @property
    def backup_id(self) -> UUID:
        return self.spec.backup_id

    @property
    def target(self) -> Scope:
        return self.spec.target
