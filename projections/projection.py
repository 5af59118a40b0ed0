"""The projection: every event of the log goes to the views (one projection, so that one
position means the same thing in every table and read-your-writes waits on one number)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import Projection

from adapters.event_store import VIEWS_NAME
from projections.views import ViewsMixin


class RewindProjection(Projection[Any]):
    name = VIEWS_NAME

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        view: ViewsMixin = self.view
        view.apply_event(domain_event, tracking)

    def process_events(self, batch: list[tuple[Any, Tracking]]) -> None:
        """Several events in one view transaction (projections.batch_runner). When another
        process sharing the views (PostgreSQL scale-out) applied part of the batch in the
        meantime, the batch rolled back: its events are then applied one by one, each
        skipping what is already applied, as the library's runner would have."""
        view: ViewsMixin = self.view
        try:
            view.apply_events(batch)
        except IntegrityError:
            if len(batch) == 1:
                raise
            for item in batch:
                view.apply_events([item])
