"""Where events live: an SQLite file under the data directory by default, PostgreSQL when
``REWIND_DATABASE_URL`` names one (then several processes share it).

SQLite keeps the library's defaults on purpose: WAL journal and synchronous=FULL, so an
acknowledged command survives a power cut. One file per application (the library uses fixed
table names); views will get a file of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from eventsourcing.utils import get_topic

from adapters.serialization import OrjsonTranscoder, PydanticMapper
from adapters.settings import Settings
from adapters.sqlite_subscription import NotifyingSQLiteApplicationRecorder
from domain.application import RewindApplication

EVENTS_FILE = "events.sqlite"


VIEWS_FILE = "views.sqlite"
VIEWS_NAME = "RewindViews"
"""The projection's name: it prefixes its settings (e.g. REWINDVIEWS_SQLITE_DBNAME)."""


def sqlite_env(data_dir: Path) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(data_dir / EVENTS_FILE),
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": get_topic(NotifyingSQLiteApplicationRecorder),
        f"{VIEWS_NAME.upper()}_SQLITE_DBNAME": str(data_dir / VIEWS_FILE),
    }


def postgres_env(url: str) -> dict[str, str]:
    """Translate a ``postgresql://`` URL into the library's POSTGRES_* settings."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        msg = f"REWIND_DATABASE_URL must start with postgresql://, got scheme {parts.scheme!r}"
        raise ValueError(msg)
    dbname = parts.path.lstrip("/")
    if not dbname:
        raise ValueError("REWIND_DATABASE_URL names no database")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(dbname),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
    }
    schema = parse_qs(parts.query).get("schema")
    if schema:
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


def application_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for Rewind's application under ``settings``."""
    if settings.database_url is not None:
        env = postgres_env(settings.database_url.get_secret_value())
        # Each process opens a few pools (events, projection, views): PostgreSQL's
        # max_connections is shared by every process of a scaled-out deployment.
        env["POSTGRES_POOL_SIZE"] = str(settings.database_pool_size)
        env["POSTGRES_MAX_OVERFLOW"] = str(settings.database_max_overflow)
    else:
        env = sqlite_env(settings.data_dir)
    # A cache of reconstructed aggregates, fast-forwarded from the store on every read (so
    # other processes' writes are seen) and deep-copied out (so a refused command cannot
    # corrupt it): guards, hosts and plans are read on every command.
    env["AGGREGATE_CACHE_MAXSIZE"] = "1000"
    env["AGGREGATE_CACHE_FASTFORWARD"] = "y"
    env["MAPPER_TOPIC"] = get_topic(PydanticMapper)
    env["TRANSCODER_TOPIC"] = get_topic(OrjsonTranscoder)
    return env


SCHEMA_LOCK_KEY = 0x5265_7769_6E64  # "Rewind": one advisory lock for creating tables
"""Several processes starting at once on one PostgreSQL database would run the library's
CREATE ... IF NOT EXISTS statements concurrently, which PostgreSQL can refuse ("tuple
concurrently updated"); an advisory lock makes them take turns."""


def pg_connect(env: dict[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the database a POSTGRES_* environment names."""
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT", "10")),
        autocommit=True,
    )


@contextmanager
def _schema_lock(env: dict[str, str]) -> Iterator[None]:
    if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        yield
        return
    with pg_connect(env) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def open_application(settings: Settings) -> RewindApplication:
    """Open the event store (creating its tables if needed) and make sure plan 1 exists."""
    env = application_env(settings)
    with _schema_lock(env):
        app = RewindApplication(env=env)
    app.ensure_default_plan()
    return app
