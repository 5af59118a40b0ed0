"""The views' tables, in SQL that SQLite and PostgreSQL both accept.

Timestamps are stored as ISO-8601 UTC text (they sort as text), booleans as 0/1, so the same
statements and the same row conversions serve both backends. Placeholders are written ``?``
and rewritten to ``%s`` for psycopg.
"""

from __future__ import annotations

import hashlib

BACKUP_COLUMNS = (
    "id", "reference_id", "name", "description", "status", "tenant_id", "group_id", "host_id",
    "type", "kind", "plan_id", "formats", "group_entities", "user_entities", "download_files",
    "principal", "sw_version", "created_at", "claimed_at", "ended_at", "updated_at", "total",
    "done", "successful_calls", "error_calls", "failure_reason", "size_on_disk",
    "content_path", "worker_id", "delete_requested", "version",
    "backup_type", "base_backup_id", "unchanged",
)  # fmt: skip

RESTORE_COLUMNS = (
    "id", "backup_id", "status", "target_host_id", "tenant_id", "group_id",
    "safety_backup_id", "existing", "principal", "created_at", "ended_at", "updated_at",
    "total", "done", "successful_calls", "error_calls", "failure_reason", "worker_id",
    "version",
)  # fmt: skip

OUTCOME_COLUMNS = (
    "job_id", "key", "outcome", "digest", "message", "successful_calls", "error_calls",
    "position", "unchanged",
)  # fmt: skip

AUDIT_COLUMNS = ("position", "aggregate_id", "type", "version", "time", "principal", "payload")

_INTEGER = {
    "plan_id", "download_files", "total", "done", "successful_calls", "error_calls",
    "size_on_disk", "delete_requested", "version", "position",
    "unchanged",
}  # fmt: skip


def _ddl(
    table: str, columns: tuple[str, ...], key: str, sqlite: bool, clustered: bool = False
) -> str:
    """A view table. On SQLite an integer key is declared ``INTEGER`` (the same affinity
    as BIGINT) so that it is the rowid itself rather than a second index beside it, and a
    ``clustered`` table is stored in its key's order (WITHOUT ROWID): one B-tree to write
    per row instead of two. PostgreSQL's INTEGER would be 32 bits: it keeps BIGINT."""
    integer = "INTEGER" if sqlite else "BIGINT"
    cols = ", ".join(f"{c} {integer if c in _INTEGER else 'TEXT'}" for c in columns)
    suffix = " WITHOUT ROWID" if sqlite and clustered else ""
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({key})){suffix}"


VIEW_TABLES = ("backups", "restores", "outcomes", "audit")


ROWS_REVISION = 2
"""Raised when a release derives other rows from the same events while the columns stay
the same; it counts in the fingerprint, so the stored views are rebuilt then too and keep
no row an older version wrote. 2: the audit trail shows URLs without their user info (an
older version's audit rows could hold a PBX password given in a host's URL)."""


def shape_fingerprint(statements: list[str]) -> str:
    """A digest of the views' DDL and rows revision: when a release changes the shape of a
    view, or what its rows hold, the stored fingerprint no longer matches and the views are
    rebuilt from the log (they are derived data), instead of failing on a missing column
    or keeping rows the release would not write."""
    text = "\n".join([*statements, f"-- rows revision {ROWS_REVISION}"])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_statements(prefix: str, sqlite: bool = False) -> list[str]:
    p = prefix
    return [
        _ddl(f"{p}backups", BACKUP_COLUMNS, "id", sqlite),
        f"CREATE INDEX IF NOT EXISTS {p}backups_scope ON {p}backups "
        "(tenant_id, group_id, created_at)",
        f"CREATE INDEX IF NOT EXISTS {p}backups_created ON {p}backups (created_at)",
        f"CREATE INDEX IF NOT EXISTS {p}backups_reference ON {p}backups (reference_id)",
        _ddl(f"{p}restores", RESTORE_COLUMNS, "id", sqlite),
        _ddl(f"{p}outcomes", OUTCOME_COLUMNS, "job_id, key", sqlite, clustered=True),
        _ddl(f"{p}audit", AUDIT_COLUMNS, "position", sqlite),
        f"CREATE INDEX IF NOT EXISTS {p}audit_aggregate ON {p}audit (aggregate_id, version)",
    ]


def upsert(table: str, columns: tuple[str, ...], key: str) -> str:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def insert(table: str, columns: tuple[str, ...], rows: int = 1) -> str:
    """An INSERT of ``rows`` rows (a multi-row VALUES list when more than one)."""
    names = ", ".join(columns)
    marks = f"({', '.join('?' for _ in columns)})"
    return f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * rows)}"
