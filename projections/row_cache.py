"""Recently read poll rows kept in memory, so that clients polling a backup (the APIO
polling route, ``GET /api/v1/backups/{id}``) are answered without a thread hop and an
SQLite transaction each (measured under polling load).

A row leaves the cache when the view applies an event of its job: the view calls
``invalidate`` with the changed job ids right after committing, before it wakes
read-your-writes waiters. A reader that queried the store while such a commit happened must
not put back what it read: ``generation`` counts invalidations, and ``put`` refuses a row
read under an older generation. Only a view with a single writer (the SQLite views file,
kept by its server's runner) may use it; views shared by several processes cannot know
about each other's writes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from projections.rows import BackupRow

MAX_ROWS = 10_000


class BackupRowCache:
    """Backup rows by id, findable by reference id too; least recently used dropped first."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.generation = 0
        self._rows: OrderedDict[str, BackupRow] = OrderedDict()
        self._by_reference: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, id_or_reference: str) -> BackupRow | None:
        with self._lock:
            backup_id = self._by_reference.get(id_or_reference, id_or_reference)
            row = self._rows.get(backup_id)
            if row is not None:
                self._rows.move_to_end(backup_id)
            return row

    def put(self, row: BackupRow, generation: int) -> None:
        """Keep ``row``, read from the store when ``generation`` was current."""
        with self._lock:
            if generation != self.generation:
                return
            self._rows[row.id] = row
            self._rows.move_to_end(row.id)
            self._by_reference[row.reference_id] = row.id
            while len(self._rows) > self.max_rows:
                _, dropped = self._rows.popitem(last=False)
                self._by_reference.pop(dropped.reference_id, None)

    def invalidate(self, job_ids: Iterable[str]) -> None:
        with self._lock:
            self.generation += 1
            for job_id in job_ids:
                row = self._rows.pop(job_id, None)
                if row is not None:
                    self._by_reference.pop(row.reference_id, None)
