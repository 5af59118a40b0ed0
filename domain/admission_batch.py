"""Group commit of backup requests: concurrent requests of one process are decided one after
another against the same in-memory guards and saved together in ONE event-store write.

Every backup on a host is admitted by the host's ``HostActivity`` guard, saved in the same
write as the backup, so a process admits backups one write (one fsync) at a time. Here the
threads that request backups hand their requests to whichever of them holds the command
lock (the leader); the leader decides the whole queue in order and saves everything the
admitted ones changed in one transaction. Each caller still gets its own answer: its Backup,
or its own domain error (1005, 1015, 1016...), decided against the guards as the requests
before it in the batch left them. A refused request leaves no trace in the batch: each
request works on copies of the batch's aggregates (``WorkingSet``), kept only when it is
admitted. Races with other processes are still settled by optimistic concurrency: a batch
whose write loses is re-run one request at a time on the ordinary retrying path.

This module is pure (threads and locks, no I/O); the application wires it in.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from domain.model import Aggregate

R = TypeVar("R")
Q = TypeVar("Q")


class WorkingSet:
    """The aggregates a batch has changed so far, and the ones the current request uses.

    ``load`` hands a request the batch's version of an aggregate as a private copy (or
    whatever ``fetch`` finds in the store, the first time); ``keep`` makes the copies of an
    admitted request the batch's versions; ``drop`` forgets those of a refused one, so a
    request refused halfway (a name taken after a superseded backup was cancelled) leaves
    the batch as it was."""

    def __init__(self) -> None:
        self._batch: dict[UUID, Aggregate] = {}
        self._request: dict[UUID, Aggregate] = {}
        self._read: dict[UUID, Any] = {}

    def read(self, aggregate_id: UUID, fetch: Callable[[UUID], Any]) -> Any:
        """An aggregate the batch only reads (the host being backed up): fetched once per
        batch and shared, not copied, by its requests."""
        found = self._read.get(aggregate_id)
        if found is None:
            found = self._read[aggregate_id] = fetch(aggregate_id)
        return found

    def load(self, aggregate_id: UUID, fetch: Callable[[UUID], Any]) -> Any:
        """The request's copy of ``aggregate_id``; ``fetch`` reads the store (and raises
        what it raises for an unknown id) when the batch has not changed it."""
        found = self._request.get(aggregate_id)
        if found is None:
            kept = self._batch.get(aggregate_id)
            found = fetch(aggregate_id) if kept is None else copy.deepcopy(kept)
            self._request[aggregate_id] = found
        return found

    def keep(self, changed: Iterable[Aggregate]) -> None:
        """The request was admitted: what it changed is the batch's from now on."""
        for aggregate in changed:
            self._batch[aggregate.id] = aggregate
        self._request.clear()

    def drop(self) -> None:
        """The request was refused: forget its copies."""
        self._request.clear()

    def changed(self) -> list[Aggregate]:
        """Every aggregate to save for the batch (each carries all its pending events)."""
        return list(self._batch.values())


_current = threading.local()


def current_working_set() -> WorkingSet | None:
    """The working set of the batch this thread is deciding, if any."""
    found: WorkingSet | None = getattr(_current, "working_set", None)
    return found


@contextmanager
def deciding(working_set: WorkingSet) -> Iterator[WorkingSet]:
    """Make ``working_set`` this thread's while a batch is decided (other threads, e.g.
    queries, keep reading the store)."""
    _current.working_set = working_set
    try:
        yield working_set
    finally:
        _current.working_set = None


@dataclass
class Ticket(Generic[Q, R]):
    """One caller's request and, once its batch has run, its own answer."""

    request: Q
    done: bool = False
    result: R | None = None
    error: BaseException | None = None
    position: int = 0
    """The log position the caller waits for the views to reach (read-your-writes)."""
    wake: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set when the ticket is answered, or when its caller is to run the next batch."""

    def answer(self) -> R:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass
class AdmissionQueue(Generic[Q, R]):
    """Requests waiting for the next batch. ``submit`` queues a request and returns once
    its batch has run. One caller at a time leads: it takes every queued request, runs
    them with ``run_batch`` (under ``lock``, the process's command lock) which answers
    each ticket, wakes their callers, and hands the lead to the first request that queued
    meanwhile. The others just wait for their ticket: while one batch is written (fsync),
    the next one gathers, and no caller spins on the lock."""

    lock: threading.RLock
    run_batch: Callable[[list[Ticket[Q, R]]], None]
    _pending: list[Ticket[Q, R]] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _leading: bool = False

    def waiting(self) -> int:
        """How many requests wait for the next batch."""
        with self._guard:
            return len(self._pending)

    def submit(self, request: Q) -> Ticket[Q, R]:
        ticket: Ticket[Q, R] = Ticket(request)
        with self._guard:
            self._pending.append(ticket)
            follow, self._leading = self._leading, True
        if follow:
            ticket.wake.wait()
            if ticket.done:
                return ticket
        self._lead()  # first in, or handed the lead: this ticket is in the batch
        return ticket

    def _lead(self) -> None:
        batch: list[Ticket[Q, R]] = []
        try:
            with self.lock:  # what queues while another command holds it joins this batch
                with self._guard:
                    batch, self._pending = self._pending, []
                self.run_batch(batch)
        except BaseException as error:  # every caller learns what broke its batch
            for ticket in batch:
                if not ticket.done:
                    ticket.error, ticket.done = error, True
            if not isinstance(error, Exception):
                raise
        finally:
            for ticket in batch:
                ticket.wake.set()
            with self._guard:
                if self._pending:
                    self._pending[0].wake.set()  # not done: its caller leads next
                else:
                    self._leading = False
