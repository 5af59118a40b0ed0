"""``rewind replay``: rebuild every view from the start of the log into fresh storage, and
with ``--check`` compare it with the live views, row by row.

The rebuild reads the log straight from the recorder in pages (the notification log caps a
section's size) and applies events in batches of one transaction each. It stops at the live
views' position, so a check compares like with like even while the log keeps growing.

It is built for speed where that changes nothing a user can see: progress events skip
pydantic (projections/progress_fast.py), a writer thread writes one batch while the next
page is decoded and its rows prepared, the cycle collector waits until the end, and the
fresh copy is written without journal or fsync, with its secondary indexes built once at
the end (``ViewsMixin.bulk``). On a two-core machine the two threads were measured to
overlap little (measured on replays of a million events): the split costs nothing there and pays
where the cores run side by side. The live views keep their durability
and exactly-once tracking; the rebuilt rows equal the live ones (tests/integration/
test_replay_fast.py).
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, StoredEvent, Tracking
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment

from adapters.event_store import VIEWS_NAME, application_env, pg_connect, postgres_env
from adapters.settings import Settings
from domain.application import RewindApplication
from projections.progress_fast import read_progress
from projections.rows import BackupRow, RestoreRow
from projections.service import view_class_for
from projections.views import PreparedBatch, ViewsMixin

PAGE = 10000


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


def _fresh(view: ViewsMixin) -> ViewsMixin:
    """A fresh copy writes without per-commit durability (ViewsMixin.bulk)."""
    view.bulk = True
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
            yield _fresh(open_views(env, view_class_for(settings)))
            if keep:
                _fsync(path)
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
        yield _fresh(open_views(env, view_class_for(settings)))
    finally:
        if not keep:
            with pg_connect(pg) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _fsync(path: Path) -> None:
    """Make a kept rebuild durable (it was written without fsyncs) before anyone uses it."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _pages(app: RewindApplication, upto: int | None) -> Iterator[list[Any]]:
    """The log from its start (up to ``upto``) in pages of (id, topic, state, record).

    SQLite's pages are read with one plain query (no notification objects, no uuid parsing
    for the events the fast path reads); ``record`` then rebuilds the stored event the
    mapper needs. Other recorders page through ``select_notifications``."""
    recorder: Any = app.recorder
    position = 0
    while True:
        if isinstance(recorder, SQLiteApplicationRecorder):
            statement = (
                f"SELECT rowid, topic, state, originator_id, originator_version "
                f"FROM {recorder.events_table_name} WHERE rowid > ?"
                + ("" if upto is None else " AND rowid <= ?")
                + " ORDER BY rowid LIMIT ?"
            )
            params = (position, PAGE) if upto is None else (position, upto, PAGE)
            with recorder.datastore.transaction(commit=False) as cursor:
                plain = cursor.sqlite_cursor
                plain.row_factory = None  # plain tuples: this cursor only, closed below
                plain.execute(statement, params)
                page: list[Any] = [(r[0], r[1], r[2], r) for r in plain.fetchall()]
        else:
            notes = recorder.select_notifications(
                start=position, limit=PAGE, stop=upto, inclusive_of_start=False
            )
            page = [(n.id, n.topic, n.state, n) for n in notes]
        yield page
        if len(page) < PAGE:
            return
        position = page[-1][0]


def _stored(recorder: Any, record: Any) -> StoredEvent:
    """The stored event of a page's ``record`` (a notification, or a SQLite row)."""
    if isinstance(record, StoredEvent):
        return record
    _, topic, state, originator_id, version = record
    return StoredEvent(recorder.convert_originator_id(originator_id), version, topic, state)


def _decode(app: RewindApplication, page: list[Any]) -> list[tuple[Any, int]]:
    """A page as ``ViewsMixin.prepare`` takes it, events and their positions: progress
    events read by the fast path (projections/progress_fast.py), every other event
    decoded by the mapper."""
    mapper, recorder = app.mapper, app.recorder
    return [
        (
            read_progress(mapper, topic, state)
            or mapper.to_domain_event(_stored(recorder, record)),
            position,
        )
        for position, topic, state, record in page
    ]


def _secondary_indexes(view: ViewsMixin, build: bool) -> None:
    """Drop (before) or build (after) a fresh copy's secondary indexes: built once at the
    end, they cost less than kept up to date by every insert."""
    if not view.bulk:
        return
    with view._transaction(commit=True) as cursor:
        for statement in view.view_statements():
            if statement.startswith("CREATE INDEX"):
                name = statement.split()[5]
                cursor.execute(statement if build else f"DROP INDEX IF EXISTS {name}")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a rebuild runs, and collect once at the end.

    A page keeps 10,000 decoded events (and their rows) alive until its batch is written,
    so every automatic collection in between walks them again and finds nothing to free
    (they are freed by reference counting): measured, that was ~40% of a replay's decode
    time. Cycles made meanwhile are only freed later, by the collection at the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


class _RowsAhead:
    """Job rows for a batch prepared while the previous one is still being written.

    The batch in flight holds the latest rows of the jobs it touched; any other job's row
    is in the views once that write is done, so a lookup that misses waits for it first
    (rare: a job whose events pause for a whole page)."""

    def __init__(self, view: ViewsMixin, in_flight: Future[None]) -> None:
        self.view = view
        self.in_flight = in_flight
        self.jobs: dict[str, BackupRow | RestoreRow | None] = {}

    def __call__(self, job_id: str) -> BackupRow | RestoreRow | None:
        if job_id in self.jobs:
            return self.jobs[job_id]
        self.in_flight.result()
        return self.view.load_job(job_id)

    def writing(self, pending: PreparedBatch, write: Future[None]) -> None:
        self.jobs, self.in_flight = pending.jobs, write


def rebuild(app: RewindApplication, view: ViewsMixin, upto: int | None = None) -> int:
    """Apply the log from its start (up to ``upto``) to ``view``; returns events applied.

    This thread reads, decodes and prepares a page (the Python work: rows built in
    memory) while one writer thread writes the previous page's rows (SQLite and psycopg
    release the GIL while they work); batches are written one at a time, in log order,
    each in its own transaction with its tracking record."""
    applied = 0
    with (
        _collector_paused(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-writer") as writer,
    ):
        written = writer.submit(_secondary_indexes, view, False)
        rows = _RowsAhead(view, written)
        for page in _pages(app, upto):
            batch = _decode(app, page)
            if not batch:
                break
            pending = view.prepare(batch, rows)
            written.result()  # the previous batch is in (or its error raised) before the next
            last = Tracking(app.name, batch[-1][1])
            written = writer.submit(view.write_prepared, pending, last)
            rows.writing(pending, written)
            applied += len(batch)
        written.result()
        writer.submit(_secondary_indexes, view, True).result()
    return applied


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
