"""Plumbing every concern of the application service shares: one event store, commands
that take turns and retry a lost write race, and the reads by id each concern needs.

Commands load aggregates, let them decide, and save every changed aggregate in ONE
``save()`` (jobs together with their guards), so the event store's optimistic concurrency
decides races between processes. When a save loses such a race (IntegrityError), the command
runs again against the new state: it then either succeeds or fails with the domain error that
the new state calls for (e.g. 1015 for the loser of two simultaneous backups of one scope).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.admission_batch import current_working_set
from domain.backup import Backup
from domain.errors import ConcurrentUpdate, NotFound, UnknownHost, UnknownPlan
from domain.guards import HostActivity
from domain.host import Host, host_uuid
from domain.job import Job
from domain.model import Aggregate
from domain.plan import Plan, plan_uuid
from domain.restore import Restore
from domain.token import Token

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


class ApplicationBase(Application[UUID]):
    """One event store and the plumbing of its commands (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._command_lock = threading.RLock()
        """Commands of this process take turns (one attempt at a time): they mostly write
        the same few guard aggregates (a host's activity, the name index), so running them
        side by side only makes them lose races, back off and retry; concurrent requests
        would then be refused (2009). Races with other processes still retry."""

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
    def note_saved_position(position: int) -> None:
        """Count a write another thread made for this one (a batched admission)."""
        _saved.position = max(getattr(_saved, "position", 0), position)

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

    # ----------------------------------------------------------------- reads by id
    def get_host(self, host_id: str) -> Host:
        try:
            host: Any = self._read(host_uuid(host_id))
        except AggregateNotFoundError:
            raise UnknownHost(f"The backup host does not exist: {host_id!r}") from None
        assert isinstance(host, Host)
        return host

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

    def get_backup(self, backup_id: UUID) -> Backup:
        return self._get(Backup, backup_id, "backup")

    def get_restore(self, restore_id: UUID) -> Restore:
        return self._get(Restore, restore_id, "restore")

    def get_job(self, job_id: UUID) -> Job:
        return self._get(Job, job_id, "job")

    def get_token(self, token_id: UUID) -> Token:
        return self._get(Token, token_id, "token")
