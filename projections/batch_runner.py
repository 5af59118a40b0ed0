"""The live views apply what the log's subscription has already fetched in one transaction,
not one transaction per event.

The library's runner hands the projection one event at a time, so each event of a server's
log cost the views one SQLite (or PostgreSQL) transaction, a tracking row and a wake-up of
the read-your-writes waiters. Under concurrent commands (a group commit writes ~4 events
per admitted backup, under many concurrent requests) the views fell behind and every request waited
for them. The subscription pulls notifications in pages; here, after an event arrives, every event
of its page already in memory joins it, and ``ViewsMixin.apply_events`` applies them
together (a job's row is loaded and written once; the last position is tracked). Nothing
waits for more events to arrive: a lone event is applied at once, as before.
"""

from __future__ import annotations

import weakref
from threading import Event
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import ApplicationSubscription, ProjectionRunner

from projections.progress_fast import read_progress

MAX_BATCH = 500
"""Events applied in one view transaction at most (the subscription's page size)."""

Batch = list[tuple[Any, Tracking]]


def _fetched(subscription: ApplicationSubscription[Any]) -> int:
    """How many events the subscription holds in memory, ready without blocking (0 when
    it keeps no page, and events are then applied one by one)."""
    inner = subscription.subscription
    page = getattr(inner, "_notifications", ())
    index: int = getattr(inner, "_notifications_index", len(page))
    return len(page) - index


class _Batches:
    """Iterates the subscription by batches, each given as ``(batch, last tracking)``: the
    shape the library's loop unpacks, so its error handling is kept as it is."""

    def __init__(self, subscription: ApplicationSubscription[Any]) -> None:
        self.subscription = subscription

    def __iter__(self) -> _Batches:
        return self

    def __next__(self) -> tuple[Batch, Tracking]:
        batch: Batch = [self._next()]  # blocks until there is one
        while len(batch) < MAX_BATCH and _fetched(self.subscription) > 0:
            batch.append(self._next())
        return batch, batch[-1][1]

    def _next(self) -> tuple[Any, Tracking]:
        """What the library's ``ApplicationSubscription.__next__`` returns, except that a
        progress event (one per entity: most of a log) is read by replay's fast path
        (projections/progress_fast.py) instead of being built and validated by pydantic
        (measured on large backups); anything the fast path does not accept is decoded by the
        mapper."""
        subscription = self.subscription
        notification = next(subscription.subscription)
        tracking = Tracking(subscription.name, notification.id)
        mapper = subscription.mapper
        event = read_progress(mapper, notification.topic, notification.state)
        return (event or mapper.to_domain_event(notification)), tracking


class _BatchApplier:
    """Stands in for the projection in the library's loop: applies each batch at once."""

    def __init__(self, projection: Any) -> None:
        self.projection = projection

    def process_event(self, batch: Batch, _tracking: Tracking) -> None:
        self.projection.process_events(batch)


class BatchingProjectionRunner(ProjectionRunner[Any, Any]):
    """The library's runner, applying events page by page."""

    @staticmethod
    def _process_events_loop(
        subscription: ApplicationSubscription[Any],
        projection: Any,
        is_stopping: Event,
        runner: weakref.ReferenceType[ProjectionRunner[Any, Any]],
    ) -> None:
        ProjectionRunner._process_events_loop(
            subscription=_Batches(subscription),  # type: ignore[arg-type]
            projection=_BatchApplier(projection),  # type: ignore[arg-type]
            is_stopping=is_stopping,
            runner=runner,
        )
