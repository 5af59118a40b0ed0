"""Rewind's materialised views: backups, restores, entity outcomes and the audit trail.

They are the library's tracking recorders (one class per backend, sharing everything in
``ViewsMixin``): each event's row changes are written in the SAME transaction as the tracking
record of its position, so a view applies every event exactly once and, after a restart,
resumes where it stopped. Applying a position twice changes nothing: PostgreSQL writers skip a
position already tracked (under an advisory lock, so several API processes can share the
views), and elsewhere the duplicate tracking record rolls the transaction back.

After each applied position the view calls ``on_applied`` (the read-your-writes waiter), so a
command's HTTP answer can wait for its own events in milliseconds rather than polling.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from itertools import chain
from typing import Any, Literal, TypeVar

import orjson
import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteConnection, SQLiteTrackingRecorder
from pydantic import BaseModel

from domain.audit import audit_entry
from domain.backup import Backup
from domain.job import Job
from domain.restore import Restore
from projections.progress_fast import ProgressEvent, ProgressTotals
from projections.row_cache import BackupRowCache
from projections.rows import (
    PROGRESS_EVENTS,
    AuditRow,
    BackupRow,
    OutcomeRow,
    RestoreRow,
    evolve_job,
    new_backup_row,
    new_restore_row,
    outcome_row,
)
from projections.schema import (
    AUDIT_COLUMNS,
    BACKUP_COLUMNS,
    OUTCOME_COLUMNS,
    RESTORE_COLUMNS,
    VIEW_TABLES,
    create_statements,
    insert,
    shape_fingerprint,
    upsert,
)

R = TypeVar("R", bound=BaseModel)
PREFIX = "rv_"
META_TABLE = f"{PREFIX}views_meta"
log = structlog.get_logger("rewind.views")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _after(applied: int | None, tracking: Tracking) -> bool:
    """Whether ``tracking``'s position lies beyond the last applied one."""
    return applied is None or applied < tracking.notification_id


def _scalar(row: Any) -> Any:
    """The first column of a row from either driver (psycopg here yields dicts)."""
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def to_params(row: BaseModel, columns: tuple[str, ...]) -> tuple[Any, ...]:
    data = row.__dict__
    return tuple(_cell(data[c]) for c in columns)


@dataclass
class PreparedBatch:
    """What one batch of events changes, worked out by ``ViewsMixin.prepare`` and written
    by ``ViewsMixin._flush``."""

    jobs: dict[str, BackupRow | RestoreRow | None] = field(default_factory=dict)
    """Job rows as the batch leaves them; None for a job the batch purged."""
    purged: list[str] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    progress: dict[str, ProgressTotals] = field(default_factory=dict)
    """Jobs whose progress events (read by the fast path) are folded but not yet into
    their row."""

    def settle(self, job_id: str | None = None) -> None:
        """Fold pending progress into job rows (of one job, or of all)."""
        for key in list(self.progress) if job_id is None else [job_id]:
            totals = self.progress.pop(key, None)
            if totals is not None:
                self.jobs[key] = totals.settle()


ROWS_PER_STATEMENT = 1024
"""At most this many rows per multi-row insert (fewer where SQLite takes fewer
parameters)."""


def statement_sizes(rows: int, most: int) -> Iterator[int]:
    """How many rows each statement of a multi-row insert takes: ``most`` while that many
    are left, then the largest power of two left (``most`` is one too).

    Each size is a statement SQLite compiles and keeps (the sqlite3 module caches 128 per
    connection), and a compiled 4,096-row insert holds ~3.7 MiB: sizes chosen freely
    would let a server catching up on varied batches keep hundreds of MiB. Powers of two
    make at most eleven sizes a table, ~2 MiB in all."""
    while rows > 0:
        size = min(most, 1 << (rows.bit_length() - 1))
        yield size
        rows -= size


@lru_cache(maxsize=64)
def _rows_insert(table: str, rows: int) -> str:
    """The insert of ``rows`` audit or outcome rows in one statement (built once a size)."""
    columns = OUTCOME_COLUMNS if table == "outcomes" else AUDIT_COLUMNS
    return insert(f"{PREFIX}{table}", columns, rows)


@cache
def _statement(table: str) -> str:
    """The write statement of a view table (built once)."""
    if table == "backups":
        return upsert(f"{PREFIX}backups", BACKUP_COLUMNS, "id")
    if table == "restores":
        return upsert(f"{PREFIX}restores", RESTORE_COLUMNS, "id")
    return _rows_insert(table, 1)


class BackupFilters(BaseModel):
    """The list filters (seed 004's and seed 000's): all optional, combined with AND."""

    tenant_id: str | None = None
    group_id: str | None = None
    host_id: str | None = None
    status: list[str] | None = None
    type: list[str] | None = None
    kind: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    ended_after: datetime | None = None
    ended_before: datetime | None = None
    ids: list[str] | None = None
    tenant_ids: list[str] | None = None
    """Only these tenants (a token limited to tenants); host-wide backups have none."""
    numbers: list[int] | None = None
    """Backup numbers: the log position of each backup's first event (seed 004's ids)."""
    unset: list[Literal["tenant_id", "group_id"]] | None = None
    """Scope columns that must be empty (a whole-host backup has no tenant_id)."""


JobLoader = Callable[[str], BackupRow | RestoreRow | None]
"""Finds a job's row by id as the events before a batch left it (None: no such job)."""

Scope = tuple[str, str | None, str | None]
"""(host_id, tenant_id, group_id) of a backup."""


class ViewsMixin:
    """Everything both backends share; subclasses supply the transaction and placeholder."""

    placeholder = "?"
    sqlite_tables = False
    """Whether the tables are declared the SQLite way (see ``schema._ddl``)."""
    on_applied: Callable[[int], None] | None = None
    row_cache: BackupRowCache | None = None
    """Poll rows in memory (projections/row_cache.py); only a view with a single writer."""
    bulk = False
    """Replay's fresh, throw-away copy: writes need not be durable one by one (see
    ``_bulk_pragmas``); never set on the live views."""
    has_tracking_id: Callable[[str, int | None], bool]
    """The library's TrackingRecorder method (the concrete views inherit it)."""

    # ------------------------------------------------------------------ backend hooks
    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        raise NotImplementedError
        yield

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    def _unapplied(
        self, cursor: Any, batch: list[tuple[Any, Tracking]]
    ) -> list[tuple[Any, Tracking]]:
        """The part of ``batch`` this transaction should apply (see PostgresViews)."""
        return batch

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", "%s")

    def _exec(self, cursor: Any, statement: str, params: tuple[Any, ...] = ()) -> None:
        cursor.execute(self._sql(statement), params)

    def _rows(self, statement: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._transaction(commit=False) as cursor:
            self._exec(cursor, statement, params)
            return [dict(r) for r in cursor.fetchall()]

    def _one(self, model: type[R], statement: str, params: tuple[Any, ...]) -> R | None:
        rows = self._rows(statement, params)
        return model.model_validate(rows[0]) if rows else None

    def _table_exists(self, cursor: Any, table: str) -> bool:
        raise NotImplementedError

    # ------------------------------------------------------------------ writing
    def view_statements(self) -> list[str]:
        return create_statements(PREFIX, sqlite=self.sqlite_tables)

    def _reset_if_reshaped(self, cursor: Any, tracking_table: str) -> None:
        """Before the tables are created: when the stored views were built with another
        shape (an upgrade added a column), drop them and forget the tracked positions, so
        the runner rebuilds them from the start of the log. Views built before the
        fingerprint existed count as another shape."""
        wanted = shape_fingerprint(self.view_statements())
        self._exec(cursor, f"CREATE TABLE IF NOT EXISTS {META_TABLE} (fingerprint TEXT)")
        self._exec(cursor, f"SELECT fingerprint FROM {META_TABLE}")
        stored = [_scalar(row) for row in cursor.fetchall()]
        if stored == [wanted]:
            return
        if stored or self._table_exists(cursor, f"{PREFIX}backups"):
            for table in VIEW_TABLES:
                self._exec(cursor, f"DROP TABLE IF EXISTS {PREFIX}{table}")
            if self._table_exists(cursor, tracking_table):
                self._exec(
                    cursor,
                    f"DELETE FROM {tracking_table} WHERE application_name <> ?",
                    ("__migration__",),
                )
            log.warning("views reshaped: rebuilding them from the event log", shape=wanted)
        self._exec(cursor, f"DELETE FROM {META_TABLE}")
        self._exec(cursor, f"INSERT INTO {META_TABLE} (fingerprint) VALUES (?)", (wanted,))

    def apply_event(self, event: Any, tracking: Tracking) -> None:
        """Apply one event and record its position, in one transaction."""
        self.apply_events([(event, tracking)])

    def _applied_elsewhere(self, tracking: Tracking, error: IntegrityError) -> None:
        """Scale-out: several API processes share one set of views (PostgreSQL), and each
        runs a projection. When another process applied this position first, our
        transaction collided with its rows and rolled back, changing nothing: the position
        is applied, which is all this process needs to know. Any other integrity error is a
        real fault and is raised (the supervisor restarts the projection)."""
        if not self.has_tracking_id(tracking.application_name, tracking.notification_id):
            raise error

    def apply_events(self, batch: list[tuple[Any, Tracking]]) -> None:
        """Apply several events in one transaction, tracking the last (replay's pace).

        A job's row is loaded at most once per batch, evolved in memory by every event of
        the batch and written once at the end; audit and outcome rows are inserted a batch
        at a time (``_insert_rows``). The result is what applying the events one by one
        gives."""
        if not batch:
            return
        pending = PreparedBatch()
        try:
            with self._transaction(commit=True) as cursor:
                todo = self._unapplied(cursor, batch)
                if todo:
                    pending = self.prepare(
                        [(event, tracking.notification_id) for event, tracking in todo],
                        lambda job_id: self._load_job(cursor, job_id),
                    )
                    self._flush(cursor, pending)
                    self._track(cursor, todo[-1][1])
        except IntegrityError as error:
            self._applied_elsewhere(batch[-1][1], error)
        self._written(pending, batch[-1][1])

    def prepare(self, batch: list[tuple[Any, int]], load_job: JobLoader) -> PreparedBatch:
        """What ``batch`` (events and their log positions) changes, worked out in Python
        without writing anything: the audit and outcome rows, and every touched job's row
        as the batch leaves it. ``load_job`` finds a job's row as the events before the
        batch left it."""
        pending = PreparedBatch()
        for event, position in batch:
            self._apply(load_job, pending, event, position)
        pending.settle()
        return pending

    def write_prepared(self, pending: PreparedBatch, last: Tracking) -> None:
        """Write a prepared batch and track its last position, in one transaction.

        Replay prepares the next batch while this one is written. Unlike ``apply_events``
        it does not skip positions another writer has applied: it is for views only this
        writer writes (a replay's fresh copy). A position written twice still fails on its
        tracking record's key, and the batch rolls back."""
        with self._transaction(commit=True) as cursor:
            self._flush(cursor, pending)
            self._track(cursor, last)
        self._written(pending, last)

    def _written(self, pending: PreparedBatch, last: Tracking) -> None:
        if self.row_cache is not None:
            self.row_cache.invalidate(pending.jobs)
        if self.on_applied is not None:
            self.on_applied(last.notification_id)

    def load_job(self, job_id: str) -> BackupRow | RestoreRow | None:
        """A job's row as the views hold it (its own read transaction)."""
        with self._transaction(commit=False) as cursor:
            return self._load_job(cursor, job_id)

    def _load(self, cursor: Any, model: type[R], table: str, job_id: str) -> R | None:
        self._exec(cursor, f"SELECT * FROM {PREFIX}{table} WHERE id = ?", (job_id,))
        found = cursor.fetchone()
        return model.model_validate(dict(found)) if found else None

    def _load_job(self, cursor: Any, job_id: str) -> BackupRow | RestoreRow | None:
        row: BackupRow | RestoreRow | None = self._load(cursor, BackupRow, "backups", job_id)
        return row if row is not None else self._load(cursor, RestoreRow, "restores", job_id)

    def _job_row(
        self, load_job: JobLoader, pending: PreparedBatch, job_id: str
    ) -> BackupRow | RestoreRow | None:
        if job_id in pending.jobs:
            return pending.jobs[job_id]
        row = load_job(job_id)
        if row is not None:
            pending.jobs[job_id] = row
        return row

    def _apply(
        self, load_job: JobLoader, pending: PreparedBatch, event: Any, position: int
    ) -> None:
        if type(event) is ProgressEvent:
            self._apply_progress(load_job, pending, event, position)
            return
        if pending.progress:
            pending.settle(str(event.originator_id))
        entry = audit_entry(event)
        payload = orjson.dumps(entry.payload, option=orjson.OPT_SORT_KEYS).decode()
        # AUDIT_COLUMNS' order, converted as _cell converts an AuditRow's fields.
        pending.audit.append(
            (
                position,
                entry.aggregate_id,
                entry.type,
                entry.version,
                _cell(entry.time),
                entry.principal,
                payload,
            )
        )
        job_id = str(event.originator_id)
        if isinstance(event, Backup.Requested):
            pending.jobs[job_id] = new_backup_row(event)
            return
        if isinstance(event, Restore.Requested):
            pending.jobs[job_id] = new_restore_row(event)
            return
        if not isinstance(event, Job.Event):
            return  # hosts, plans, guards: no row to look up (two SELECTs each, for nothing)
        row = self._job_row(load_job, pending, job_id)
        if row is None:
            return  # hosts, plans, guards (and purged jobs): only the audit trail shows them
        evolved = evolve_job(row, event)
        if evolved is None:
            pending.jobs[job_id] = None
            pending.purged.append(job_id)
            return
        pending.jobs[job_id] = evolved
        if isinstance(event, PROGRESS_EVENTS):
            pending.outcomes.append(to_params(outcome_row(event, position), OUTCOME_COLUMNS))

    def _apply_progress(
        self, load_job: JobLoader, pending: PreparedBatch, event: ProgressEvent, position: int
    ) -> None:
        """The fast path (projections/progress_fast.py): the same rows as ``_apply``
        makes from the validated event, without building it or copying the job's row."""
        pending.audit.append(event.audit_params(position))
        totals = pending.progress.get(event.job_id)
        if totals is None:
            row = self._job_row(load_job, pending, event.job_id)
            if row is None:
                return
            totals = pending.progress[event.job_id] = ProgressTotals.start(row)
        totals.add(event)
        pending.outcomes.append(event.outcome_params(position))

    def _insert_rows(self, cursor: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert a batch's audit or outcome rows (tuples in the table's column order)."""
        cursor.executemany(self._sql(_statement(table)), rows)

    def _flush(self, cursor: Any, pending: PreparedBatch) -> None:
        """Write what a prepared batch changed: audit and outcome rows, purges, then job
        rows."""
        if pending.audit:
            self._insert_rows(cursor, "audit", pending.audit)
        if pending.outcomes:
            self._insert_rows(cursor, "outcomes", pending.outcomes)
        for job_id in pending.purged:
            self._exec(cursor, f"DELETE FROM {PREFIX}backups WHERE id = ?", (job_id,))
            self._exec(cursor, f"DELETE FROM {PREFIX}outcomes WHERE job_id = ?", (job_id,))
        backups = [r for r in pending.jobs.values() if isinstance(r, BackupRow)]
        restores = [r for r in pending.jobs.values() if isinstance(r, RestoreRow)]
        if backups:
            params = [to_params(r, BACKUP_COLUMNS) for r in backups]
            cursor.executemany(self._sql(_statement("backups")), params)
        if restores:
            params = [to_params(r, RESTORE_COLUMNS) for r in restores]
            cursor.executemany(self._sql(_statement("restores")), params)

    # ------------------------------------------------------------------ queries
    def backup(self, backup_id: str) -> BackupRow | None:
        return self._cached_one(f"SELECT * FROM {PREFIX}backups WHERE id = ?", backup_id)

    def backup_by_reference(self, reference_id: str) -> BackupRow | None:
        return self._cached_one(
            f"SELECT * FROM {PREFIX}backups WHERE reference_id = ?", reference_id
        )

    def backups_by_id_pattern(self, pattern: str) -> list[BackupRow]:
        """Backups whose id matches a LIKE ``pattern`` (the QRadar dialect's Long ids)."""
        rows = self._rows(f"SELECT * FROM {PREFIX}backups WHERE id LIKE ?", (pattern,))
        return [BackupRow.model_validate(r) for r in rows]

    def cached_backup(self, id_or_reference: str) -> BackupRow | None:
        """The poll row of a backup if it is in memory (no I/O: callable on the event loop);
        None means "ask ``backup`` / ``backup_by_reference``", not "no such backup"."""
        return self.row_cache.get(id_or_reference) if self.row_cache is not None else None

    def _cached_one(self, statement: str, key: str) -> BackupRow | None:
        if self.row_cache is None:
            return self._one(BackupRow, statement, (key,))
        found = self.row_cache.get(key)
        if found is not None:
            return found
        generation = self.row_cache.generation
        row = self._one(BackupRow, statement, (key,))
        if row is not None:
            self.row_cache.put(row, generation)
        return row

    def latest_backup(self, tenant_id: str, group_id: str) -> BackupRow | None:
        return self._one(
            BackupRow,
            f"SELECT * FROM {PREFIX}backups WHERE tenant_id = ? AND group_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (tenant_id, group_id),
        )

    def list_backups(
        self, filters: BackupFilters, offset: int = 0, limit: int | None = None
    ) -> tuple[int, list[BackupRow]]:
        """Newest first; ``total`` counts every match, ``items`` one page of them."""
        where, params = _where(filters)
        total_rows = self._rows(f"SELECT COUNT(*) AS n FROM {PREFIX}backups{where}", params)
        total = int(total_rows[0]["n"])
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = self._rows(
            f"SELECT * FROM {PREFIX}backups{where} ORDER BY created_at DESC, id DESC{page}",
            params,
        )
        return total, [BackupRow.model_validate(r) for r in rows]

    def backup_numbers(self, filters: BackupFilters) -> dict[str, int]:
        """Each matching backup's number: the log position of its first event (unique,
        stable, ascending; the same after a replay)."""
        where, params = _where(filters)
        rows = self._rows(
            f"SELECT id, (SELECT a.position FROM {PREFIX}audit a WHERE a.aggregate_id = "
            f"{PREFIX}backups.id AND a.version = 1) AS number FROM {PREFIX}backups{where}",
            params,
        )
        return {r["id"]: int(r["number"]) for r in rows if r["number"] is not None}

    def success_counts(self, filters: BackupFilters) -> dict[str, int]:
        """How many entities each matching backup stored successfully."""
        where, params = _where(filters)
        rows = self._rows(
            f"SELECT job_id, COUNT(*) AS n FROM {PREFIX}outcomes WHERE outcome = 'success' "
            f"AND job_id IN (SELECT id FROM {PREFIX}backups{where}) GROUP BY job_id",
            params,
        )
        return {r["job_id"]: int(r["n"]) for r in rows}

    def backup_scopes(self) -> list[Scope]:
        """Every scope some backup in the views covers."""
        rows = self._rows(f"SELECT DISTINCT host_id, tenant_id, group_id FROM {PREFIX}backups")
        return [(r["host_id"], r["tenant_id"], r["group_id"]) for r in rows]

    def latest_per_scope(self, status: str) -> dict[Scope, str]:
        """The id of the newest backup of each scope among those in ``status``."""
        rows = self._rows(
            f"SELECT id, host_id, tenant_id, group_id FROM {PREFIX}backups WHERE status = ? "
            "ORDER BY created_at DESC, id DESC",
            (status,),
        )
        latest: dict[Scope, str] = {}
        for r in rows:
            latest.setdefault((r["host_id"], r["tenant_id"], r["group_id"]), r["id"])
        return latest

    def outcomes(self, job_id: str) -> list[OutcomeRow]:
        rows = self._rows(
            f"SELECT * FROM {PREFIX}outcomes WHERE job_id = ? ORDER BY position", (job_id,)
        )
        return [OutcomeRow.model_validate(r) for r in rows]

    def restore(self, restore_id: str) -> RestoreRow | None:
        return self._one(RestoreRow, f"SELECT * FROM {PREFIX}restores WHERE id = ?", (restore_id,))

    def list_restores(self) -> list[RestoreRow]:
        rows = self._rows(f"SELECT * FROM {PREFIX}restores ORDER BY created_at DESC, id DESC")
        return [RestoreRow.model_validate(r) for r in rows]

    def job_timings(self) -> list[tuple[str, str, str, str | None]]:
        """(kind, status, created_at, ended_at) of every backup and restore, ISO times: what
        /metrics needs, without loading whole rows."""
        rows = [
            ("backup", r)
            for r in self._rows(f"SELECT status, created_at, ended_at FROM {PREFIX}backups")
        ] + [
            ("restore", r)
            for r in self._rows(f"SELECT status, created_at, ended_at FROM {PREFIX}restores")
        ]
        return [(kind, r["status"], str(r["created_at"]), r["ended_at"]) for kind, r in rows]

    def audit(self, aggregate_id: str) -> list[AuditRow]:
        rows = self._rows(
            f"SELECT * FROM {PREFIX}audit WHERE aggregate_id = ? ORDER BY version",
            (aggregate_id,),
        )
        return [AuditRow.model_validate(r) for r in rows]

    def audit_log(self, after: int = 0, limit: int = 100) -> list[AuditRow]:
        rows = self._rows(
            f"SELECT * FROM {PREFIX}audit WHERE position > ? ORDER BY position LIMIT {int(limit)}",
            (after,),
        )
        return [AuditRow.model_validate(r) for r in rows]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every view, in key order (for replay --check and tests)."""
        return {
            "backups": self._rows(f"SELECT * FROM {PREFIX}backups ORDER BY id"),
            "restores": self._rows(f"SELECT * FROM {PREFIX}restores ORDER BY id"),
            "outcomes": self._rows(f"SELECT * FROM {PREFIX}outcomes ORDER BY job_id, key"),
            "audit": self._rows(f"SELECT * FROM {PREFIX}audit ORDER BY position"),
        }


def _where(filters: BackupFilters) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("tenant_id", "group_id", "host_id", "kind"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    for column, values in (("status", filters.status), ("type", filters.type), ("id", filters.ids)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    if filters.tenant_ids is not None:
        marks = ", ".join("?" for _ in filters.tenant_ids)
        clauses.append(f"tenant_id IN ({marks})" if marks else "1 = 0")
        params.extend(filters.tenant_ids)
    if filters.numbers:
        marks = ", ".join("?" for _ in filters.numbers)
        clauses.append(
            f"id IN (SELECT aggregate_id FROM {PREFIX}audit WHERE version = 1 "
            f"AND position IN ({marks}))"
        )
        params.extend(filters.numbers)
    for column in filters.unset or ():
        clauses.append(f"{column} IS NULL")
    for column, op, value in (
        ("created_at", ">=", filters.started_after),
        ("created_at", "<=", filters.started_before),
        ("ended_at", ">=", filters.ended_after),
        ("ended_at", "<=", filters.ended_before),
    ):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value.isoformat())
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


class SQLiteViews(ViewsMixin, SQLiteTrackingRecorder):
    """The views in their own SQLite file (the library's table names are fixed per file).
    Its server's runner is its only writer, so poll rows may be cached in memory."""

    sqlite_tables = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row_cache = BackupRowCache()

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.view_statements()]

    def _insert_rows(self, cursor: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
        """A few statements for the whole batch, each inserting up to 1,024 rows (a
        multi-row VALUES list; sizes from ``statement_sizes``).

        ``executemany`` takes the GIL back for every row it binds; while another thread
        runs Python (replay decoding the next page, the server answering requests) each
        of those hand-overs waits its turn, and inserting a row took ~20 µs instead of
        ~4. A statement drops and takes back the GIL once for all its rows."""
        raw = cursor.sqlite_cursor
        limit = raw.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        most = 1 << (min(ROWS_PER_STATEMENT, limit // len(rows[0])).bit_length() - 1)
        start = 0
        for size in statement_sizes(len(rows), most):
            part = rows[start : start + size]
            raw.execute(_rows_insert(table, size), list(chain.from_iterable(part)))
            start += size

    def _create_table(self, c: Any) -> None:
        self._reset_if_reshaped(c, "tracking")
        super()._create_table(c)

    def _table_exists(self, cursor: Any, table: str) -> bool:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        return cursor.fetchone() is not None

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        with self.datastore.get_connection(commit=commit) as connection:
            _relax_sync(connection)
            if self.bulk:
                _bulk_pragmas(connection)
            with connection.transaction(commit=commit) as cursor:
                yield cursor

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)


def _relax_sync(connection: SQLiteConnection) -> None:
    """``synchronous=NORMAL`` on the views' own file: in WAL mode a commit is then atomic
    and survives a crash of the process, but is not fsynced one by one. The views are
    derived data: after a power cut they come back at an earlier, consistent position
    (each event's rows and its tracking record are one transaction) and the runner
    re-applies the rest from the durable event log. The events file keeps FULL."""
    if not getattr(connection, "rewind_relaxed", False):
        connection._sqlite_conn.execute("PRAGMA synchronous=NORMAL")
        connection.rewind_relaxed = True  # type: ignore[attr-defined]


def _bulk_pragmas(connection: SQLiteConnection) -> None:
    """A replay's fresh file: no rollback journal and no fsync per commit. Nothing else
    uses the file while it is rebuilt, a crash leaves only a file to delete, and
    ``replay.fresh_views`` fsyncs a copy it keeps before anyone may use it. Without a
    journal a failed batch cannot roll back cleanly: replay then stops with the error and
    the half-built file is deleted, as it would be anyway."""
    if not getattr(connection, "rewind_bulk", False):
        raw = connection._sqlite_conn
        raw.execute("PRAGMA journal_mode=OFF").fetchall()
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-65536")
        connection.rewind_bulk = True  # type: ignore[attr-defined]


class PostgresViews(ViewsMixin, PostgresTrackingRecorder):
    """The views beside the events in PostgreSQL."""

    placeholder = "%s"

    def _create_table(self, curs: Any) -> None:
        super()._create_table(curs)
        curs.execute(f"SET LOCAL search_path TO {self.datastore.schema}")
        self._reset_if_reshaped(curs, self.tracking_table_name)
        for statement in self.view_statements():
            curs.execute(statement)

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            cursor.execute(f"SET LOCAL search_path TO {self.datastore.schema}")
            if self.bulk:  # replay's throw-away schema: commits need not wait for the WAL
                cursor.execute("SET LOCAL synchronous_commit TO off")
            yield cursor

    def _unapplied(
        self, cursor: Any, batch: list[tuple[Any, Tracking]]
    ) -> list[tuple[Any, Tracking]]:
        """Scale-out: every API process runs a projection into these same tables. Writers
        take one transaction-level advisory lock first (so two of them never interleave
        row locks and deadlock), then skip the positions another process has applied. A
        process that is behind sees that before taking the lock, and does not wait for it.
        """
        last = batch[-1][1]
        if not _after(self._applied(cursor, last), last):
            return []
        key = zlib.crc32(f"rewind-views:{self.datastore.schema}".encode())
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        applied = self._applied(cursor, last)
        return [(event, tracking) for event, tracking in batch if _after(applied, tracking)]

    def _applied(self, cursor: Any, tracking: Tracking) -> int | None:
        cursor.execute(self.max_tracking_id_statement, (tracking.application_name,))
        applied: int | None = _scalar(cursor.fetchone())
        return applied

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)

    def _table_exists(self, cursor: Any, table: str) -> bool:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{self.datastore.schema}.{table}",))
        return bool(_scalar(cursor.fetchone()))
