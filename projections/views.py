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

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import orjson
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from pydantic import BaseModel

from domain.audit import audit_entry
from domain.backup import Backup
from domain.restore import Restore
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
    create_statements,
    insert,
    upsert,
)

R = TypeVar("R", bound=BaseModel)
PREFIX = "rv_"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def to_params(row: BaseModel, columns: tuple[str, ...]) -> tuple[Any, ...]:
    data = row.__dict__
    return tuple(_cell(data[c]) for c in columns)


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


class ViewsMixin:
    """Everything both backends share; subclasses supply the transaction and placeholder."""

    placeholder = "?"
    on_applied: Callable[[int], None] | None = None
    has_tracking_id: Callable[[str, int | None], bool]
    """The library's TrackingRecorder method (the concrete views inherit it)."""

    # ------------------------------------------------------------------ backend hooks
    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        raise NotImplementedError
        yield

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    def _not_yet_applied(self, cursor: Any, tracking: Tracking) -> bool:
        """Whether this transaction should apply the position (see PostgresViews)."""
        return True

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

    # ------------------------------------------------------------------ writing
    def view_statements(self) -> list[str]:
        return create_statements(PREFIX)

    def apply_event(self, event: Any, tracking: Tracking) -> None:
        """Apply one event and record its position, in one transaction."""
        try:
            with self._transaction(commit=True) as cursor:
                if self._not_yet_applied(cursor, tracking):
                    self._apply(cursor, event, tracking.notification_id)
                    self._track(cursor, tracking)
        except IntegrityError as error:
            self._applied_elsewhere(tracking, error)
        if self.on_applied is not None:
            self.on_applied(tracking.notification_id)

    def _applied_elsewhere(self, tracking: Tracking, error: IntegrityError) -> None:
        """Scale-out: several API processes share one set of views (PostgreSQL), and each
        runs a projection. When another process applied this position first, our
        transaction collided with its rows and rolled back, changing nothing: the position
        is applied, which is all this process needs to know. Any other integrity error is a
        real fault and is raised (the supervisor restarts the projection)."""
        if not self.has_tracking_id(tracking.application_name, tracking.notification_id):
            raise error

    def apply_events(self, batch: list[tuple[Any, Tracking]]) -> None:
        """Apply several events in one transaction, tracking the last (replay's pace)."""
        if not batch:
            return
        with self._transaction(commit=True) as cursor:
            for event, tracking in batch:
                self._apply(cursor, event, tracking.notification_id)
            self._track(cursor, batch[-1][1])
        if self.on_applied is not None:
            self.on_applied(batch[-1][1].notification_id)

    def _load(self, cursor: Any, model: type[R], table: str, job_id: str) -> R | None:
        self._exec(cursor, f"SELECT * FROM {PREFIX}{table} WHERE id = ?", (job_id,))
        found = cursor.fetchone()
        return model.model_validate(dict(found)) if found else None

    def _apply(self, cursor: Any, event: Any, position: int) -> None:
        entry = audit_entry(event)
        audit = AuditRow(
            position=position,
            aggregate_id=entry.aggregate_id,
            type=entry.type,
            version=entry.version,
            time=entry.time,
            principal=entry.principal,
            payload=orjson.dumps(entry.payload, option=orjson.OPT_SORT_KEYS).decode(),
        )
        self._exec(
            cursor,
            insert(f"{PREFIX}audit", AUDIT_COLUMNS),
            to_params(audit, AUDIT_COLUMNS),
        )
        job_id = str(event.originator_id)
        if isinstance(event, Backup.Requested):
            self._put_backup(cursor, new_backup_row(event))
            return
        if isinstance(event, Restore.Requested):
            self._put_restore(cursor, new_restore_row(event))
            return
        row: BackupRow | RestoreRow | None = self._load(cursor, BackupRow, "backups", job_id)
        if row is None:
            row = self._load(cursor, RestoreRow, "restores", job_id)
        if row is None:
            return  # hosts, plans, guards: only the audit trail shows them
        evolved = evolve_job(row, event)
        if evolved is None:
            self._exec(cursor, f"DELETE FROM {PREFIX}backups WHERE id = ?", (job_id,))
            self._exec(cursor, f"DELETE FROM {PREFIX}outcomes WHERE job_id = ?", (job_id,))
            return
        if isinstance(evolved, BackupRow):
            self._put_backup(cursor, evolved)
        else:
            self._put_restore(cursor, evolved)
        if isinstance(event, PROGRESS_EVENTS):
            outcome = outcome_row(event, position)
            self._exec(
                cursor,
                insert(f"{PREFIX}outcomes", OUTCOME_COLUMNS),
                to_params(outcome, OUTCOME_COLUMNS),
            )

    def _put_backup(self, cursor: Any, row: BackupRow) -> None:
        self._exec(
            cursor, upsert(f"{PREFIX}backups", BACKUP_COLUMNS, "id"), to_params(row, BACKUP_COLUMNS)
        )

    def _put_restore(self, cursor: Any, row: RestoreRow) -> None:
        self._exec(
            cursor,
            upsert(f"{PREFIX}restores", RESTORE_COLUMNS, "id"),
            to_params(row, RESTORE_COLUMNS),
        )

    # ------------------------------------------------------------------ queries
    def backup(self, backup_id: str) -> BackupRow | None:
        return self._one(BackupRow, f"SELECT * FROM {PREFIX}backups WHERE id = ?", (backup_id,))

    def backup_by_reference(self, reference_id: str) -> BackupRow | None:
        return self._one(
            BackupRow, f"SELECT * FROM {PREFIX}backups WHERE reference_id = ?", (reference_id,)
        )

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
    """The views in their own SQLite file (the library's table names are fixed per file)."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.view_statements()]

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)


class PostgresViews(ViewsMixin, PostgresTrackingRecorder):
    """The views beside the events in PostgreSQL."""

    placeholder = "%s"

    def _create_table(self, curs: Any) -> None:
        super()._create_table(curs)
        curs.execute(f"SET LOCAL search_path TO {self.datastore.schema}")
        for statement in self.view_statements():
            curs.execute(statement)

    @contextmanager
    def _transaction(self, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:
            cursor.execute(f"SET LOCAL search_path TO {self.datastore.schema}")
            yield cursor

    def _not_yet_applied(self, cursor: Any, tracking: Tracking) -> bool:
        """Scale-out: every API process runs a projection into these same tables. Writers
        take one transaction-level advisory lock first (so two of them never interleave
        row locks and deadlock), then skip a position another process has applied. A
        process that is behind sees that before taking the lock, and does not wait for it.
        """
        if not self._behind(cursor, tracking):
            return False
        key = zlib.crc32(f"rewind-views:{self.datastore.schema}".encode())
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        return self._behind(cursor, tracking)

    def _behind(self, cursor: Any, tracking: Tracking) -> bool:
        cursor.execute(self.max_tracking_id_statement, (tracking.application_name,))
        row = cursor.fetchone()
        applied = None if row is None else next(iter(dict(row).values()))
        return applied is None or applied < tracking.notification_id

    def _track(self, cursor: Any, tracking: Tracking) -> None:
        self._insert_tracking(cursor, tracking)
