"""``rewind replay``: rebuild every view from the start of the log into fresh storage, and
with ``--check`` compare it with the live views, row by row.

The rebuild reads the log straight from the recorder in pages (the notification log caps a
section's size) and applies events in batches of one transaction each. It stops at the live
views' position, so a check compares like with like even while the log keeps growing.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import Environment

from adapters.event_store import VIEWS_NAME, application_env, pg_connect, postgres_env
from adapters.settings import Settings
from domain.application import RewindApplication
from projections.service import view_class_for
from projections.views import ViewsMixin

PAGE = 2000


@dataclass
class ReplayResult:
    events: int
    position: int
    seconds: float
    differences: list[str]


def open_views(env: dict[str, str], view_class: type[Any]) -> ViewsMixin:
    """A view store built by the library's factory from ``env`` (as the runner builds it)."""
    factory = InfrastructureFactory[Any].construct(env=Environment(VIEWS_NAME, env))
    view: ViewsMixin = factory.tracking_recorder(view_class)
    return view


@contextlib.contextmanager
def fresh_views(settings: Settings, keep: bool = False) -> Iterator[ViewsMixin]:
    """Empty view storage next to the live one: a new SQLite file, or a new schema."""
    env = application_env(settings)
    stamp = f"{int(time.time())}_{uuid.uuid4().hex[:6]}"
    if settings.database_url is None:
        path = Path(settings.data_dir) / f"views-replay-{stamp}.sqlite"
        env[f"{VIEWS_NAME.upper()}_SQLITE_DBNAME"] = str(path)
        try:
            yield open_views(env, view_class_for(settings))
        finally:
            if not keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = f"rewind_replay_{stamp}"
    pg = postgres_env(settings.database_url.get_secret_value())
    with pg_connect(pg) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    env[f"{VIEWS_NAME.upper()}_POSTGRES_SCHEMA"] = schema
    try:
        yield open_views(env, view_class_for(settings))
    finally:
        if not keep:
            with pg_connect(pg) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def rebuild(app: RewindApplication, view: ViewsMixin, upto: int | None = None) -> int:
    """Apply the log from its start (up to ``upto``) to ``view``; returns events applied."""
    position, applied = 0, 0
    while True:
        records = app.recorder.select_notifications(
            start=position, limit=PAGE, inclusive_of_start=False
        )
        batch = []
        for record in records:
            if upto is not None and record.id > upto:
                break
            batch.append((app.mapper.to_domain_event(record), Tracking(app.name, record.id)))
        view.apply_events(batch)
        applied += len(batch)
        if len(batch) < PAGE or not records:
            return applied
        position = records[-1].id


def compare(
    live: dict[str, list[dict[str, Any]]], rebuilt: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Every difference between two view snapshots, one line each."""
    keys = {
        "backups": ("id",),
        "restores": ("id",),
        "outcomes": ("job_id", "key"),
        "audit": ("position",),
    }
    lines: list[str] = []
    for table, key in keys.items():
        left = {tuple(str(r[k]) for k in key): r for r in live.get(table, [])}
        right = {tuple(str(r[k]) for k in key): r for r in rebuilt.get(table, [])}
        for k in sorted(left.keys() - right.keys()):
            lines.append(f"{table} {'/'.join(k)}: in the live view only")
        for k in sorted(right.keys() - left.keys()):
            lines.append(f"{table} {'/'.join(k)}: missing from the live view")
        for k in sorted(left.keys() & right.keys()):
            for column in sorted(set(left[k]) | set(right[k])):
                a, b = left[k].get(column), right[k].get(column)
                if str(a) != str(b):
                    lines.append(f"{table} {'/'.join(k)}.{column}: live {a!r} != rebuilt {b!r}")
    return lines


def replay(settings: Settings, check: bool) -> ReplayResult:
    """Rebuild into fresh storage; with ``check``, compare with the live views."""
    from adapters.event_store import open_application

    app = open_application(settings)
    live: ViewsMixin | None = None
    try:
        upto = None
        if check:
            live = open_views(application_env(settings), view_class_for(settings))
            upto = live.max_tracking_id(app.name) or 0  # type: ignore[attr-defined]
        started = time.perf_counter()
        with fresh_views(settings) as view:
            events = rebuild(app, view, upto)
            seconds = time.perf_counter() - started
            position = view.max_tracking_id(app.name) or 0  # type: ignore[attr-defined]
            differences = compare(live.snapshot(), view.snapshot()) if live else []
        return ReplayResult(events, position, seconds, differences)
    finally:
        app.close()
