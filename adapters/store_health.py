"""Whether the SQLite stores can be trusted: SQLite's own ``PRAGMA quick_check``.

A damaged page of ``events.sqlite`` or ``views.sqlite`` (a disk error, a copy taken
mid-write, bytes overwritten) otherwise goes unnoticed until a query happens to read it. The
two stores are not equal: the views are derived data, rebuilt from the log whenever needed,
so a damaged views store is set aside and rebuilt; the event log is the truth, so a damaged
one is reported (one line naming the file and the recovery steps in README.md) and nothing
more is written to it until an operator has recovered it.

``quick_check`` reads every page: O(size). Measured on this project's machine, on a
1,000,000-event store (events.sqlite 481 MiB, views.sqlite 537 MiB): about 0.5-0.7 s each
with the files in the page cache, 12-15 s each from disk. So ``rewind serve`` runs it in the
background after start (``/readyz`` says "checking" meanwhile) and only a cheap read of the
schema happens before the views are opened. PostgreSQL keeps its own checksums: nothing is
checked there.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

RECOVERY = "docs/operations.md, 'Recovering a damaged event store'"
"""Where the recovery steps are written down (named in every damage report)."""

_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


class StoreDamaged(Exception):
    """A write refused because the event store is damaged; the message is the one line."""


def damage_of(error: BaseException) -> str | None:
    """SQLite's words when ``error`` (or an exception it was raised from) says a file is
    damaged ("database disk image is malformed", "file is not a database"), else None."""
    current: BaseException | None = error
    seen: list[BaseException] = []
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        if isinstance(current, sqlite3.DatabaseError):
            code = (getattr(current, "sqlite_errorcode", None) or 0) & 0xFF
            text = str(current)
            if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text:
                return text
            if "not a database" in text:  # the library re-raises without the code
                return text
        current = current.__cause__ or current.__context__
    return None


def quick_check(
    path: Path, *, full: bool = True, stop: threading.Event | None = None
) -> str | None:
    """None when the SQLite file at ``path`` is sound (or does not exist yet); else what
    SQLite found, in one line. ``full=False`` reads only the header and the schema (a few
    pages: what any use of the file needs first), ``full=True`` runs ``quick_check``.
    Setting ``stop`` interrupts a check under way (sqlite3.OperationalError)."""
    if not path.exists():
        return None
    try:
        uri = f"file:{path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            if stop is not None:
                conn.set_progress_handler(stop.is_set, 100_000)
            if full:
                rows = conn.execute("PRAGMA quick_check").fetchall()
            else:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
                rows = [("ok",)]
    except sqlite3.DatabaseError as error:
        damage = damage_of(error)
        if damage is None:
            raise
        return damage
    lines = [
        line
        for (text,) in rows
        if text != "ok"
        for line in str(text).splitlines()
        if line and not line.startswith("***")
    ]
    if not lines:
        return None
    more = f"; {len(lines) - 1} more problems" if len(lines) > 1 else ""
    return f"{lines[0]}{more}"


def event_store_damaged(
    path: Path, detail: str, consequence: str = "writes are refused until it is recovered"
) -> str:
    """The one line that reports a damaged event store, wherever it is reported."""
    return f"the event store {path} is damaged ({detail}); {consequence}: see {RECOVERY}"


def set_aside(path: Path) -> Path:
    """Rename a damaged SQLite file, and its ``-wal`` and ``-shm``, out of the way (kept for
    inspection, never deleted); returns the new name of the main file."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{target}{suffix}"))
    return target
