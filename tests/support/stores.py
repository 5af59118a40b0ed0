"""Real event stores for tests: an SQLite file in a temp dir, or a fresh PostgreSQL schema."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg

from adapters.event_store import open_application
from adapters.settings import Settings
from domain.application import RewindApplication

PG_URL = os.environ.get("REWIND_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def make_pg_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')


def drop_pg_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@dataclass(frozen=True)
class StoreTarget:
    """Where a test's events go; picklable so spawned processes can open the same store."""

    kind: str
    data_dir: Path
    database_url: str | None = None

    @classmethod
    def sqlite(cls, data_dir: Path) -> StoreTarget:
        return cls("sqlite", data_dir)

    @classmethod
    def postgres(cls, schema: str, data_dir: Path) -> StoreTarget:
        sep = "&" if "?" in PG_URL else "?"
        return cls("postgres", data_dir, f"{PG_URL}{sep}schema={schema}")

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url)

    def open(self) -> RewindApplication:
        return open_application(self.settings())
