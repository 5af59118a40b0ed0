"""Log queries: one job's history and the global log, as audit entries."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from domain.application.base import ApplicationBase
from domain.audit import AuditEntry, audit_entry
from domain.errors import NotFound


class LogQueries(ApplicationBase):
    """Read the event log (history, pages, the current position)."""

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
