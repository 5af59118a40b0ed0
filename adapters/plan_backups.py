"""Which backups belong to which plan, found by following the event log.

The scheduler runs where the worker runs, and ``rewind worker`` has no views, so it reads
the log itself, like the worker's job tracker, but only two kinds of events, filtered by
topic in the store's query (a log of millions of progress events costs nothing here):
a backup's request (its spec names the plan) and its purge (it is gone for good). The
status of each backup is then the aggregate's own, loaded when retention needs it.
"""

from __future__ import annotations

import threading
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.application import RewindApplication
from domain.backup import Backup
from domain.errors import NotFound
from domain.retention import RetentionCandidate

PAGE_SIZE = 500
TOPICS = (get_topic(Backup.Requested), get_topic(Backup.Purged))


class PlanBackupIndex:
    """Plan id -> ids of its backups not yet purged. ``refresh`` blocks (call it in a
    thread); memory follows the number of live backups that came from a plan."""

    def __init__(self, app: RewindApplication, page_size: int = PAGE_SIZE) -> None:
        self.app = app
        self.page_size = page_size
        self.position = 0
        self._plans: dict[int, set[UUID]] = {}
        self._plan_of: dict[UUID, int] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the requests and purges appended since the last refresh."""
        with self._lock:
            while True:
                batch = self.app.recorder.select_notifications(
                    start=self.position + 1, limit=self.page_size, topics=TOPICS
                )
                for notification in batch:
                    self.position = notification.id
                    self._apply(self.app.mapper.to_domain_event(notification))
                if len(batch) < self.page_size:
                    return

    def _apply(self, event: object) -> None:
        if isinstance(event, Backup.Requested) and event.spec.plan_id is not None:
            self._plans.setdefault(event.spec.plan_id, set()).add(event.originator_id)
            self._plan_of[event.originator_id] = event.spec.plan_id
        elif isinstance(event, Backup.Purged):
            plan_id = self._plan_of.pop(event.originator_id, None)
            if plan_id is not None:
                self._plans[plan_id].discard(event.originator_id)

    def backup_ids(self, plan_id: int) -> set[UUID]:
        with self._lock:
            return set(self._plans.get(plan_id, ()))

    def candidates(self, plan_id: int) -> list[RetentionCandidate]:
        """The plan's backups as retention sees them (status from the aggregate)."""
        found: list[RetentionCandidate] = []
        for backup_id in self.backup_ids(plan_id):
            try:
                backup = self.app.get_backup(backup_id)
            except NotFound:
                continue
            if not backup.purged:
                found.append(
                    RetentionCandidate(
                        backup_id=backup.id, started_at=backup.started_at, status=backup.status
                    )
                )
        return found
