"""Shared fixtures: event stores on a real SQLite file and on the real PostgreSQL server.

PostgreSQL runs are mandatory under CI=true (a missing server fails the run); elsewhere
they are skipped with a message saying how to enable them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.stores import (
    PG_URL,
    StoreTarget,
    drop_pg_schema,
    make_pg_schema,
    pg_available,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_postgres() -> None:
    """Skip (or, under CI=true, fail) when PostgreSQL is unreachable."""
    if pg_available():
        return
    message = (
        f"PostgreSQL is not reachable at {PG_URL}. Start it with "
        "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
        "or point REWIND_TEST_DATABASE_URL at a server."
    )
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL tests are mandatory)")
    pytest.skip(message)


@contextmanager
def postgres_store(data_dir: Path) -> Iterator[StoreTarget]:
    """A fresh, empty PostgreSQL schema (skipped, or failed under CI, without a server)."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    make_pg_schema(schema)
    try:
        yield StoreTarget.postgres(schema, data_dir)
    finally:
        drop_pg_schema(schema)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreTarget]:
    """A fresh, empty event store of each kind."""
    if request.param == "sqlite":
        yield StoreTarget.sqlite(tmp_path / "data")
        return
    with postgres_store(tmp_path / "data") as target:
        yield target
