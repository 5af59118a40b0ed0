"""Telling "the storage refuses writes" apart from other failures.

A full disk (or an exhausted quota), or a filesystem remounted read-only, is not a bug to
answer with a 500 and a traceback: the request was not carried out, it can be retried once
an operator has made room, and the operator needs the cause in one line. The fault reaches
the API in several guises (``OSError`` from the artifact store, ``sqlite3`` errors wrapped by
the event store library, PostgreSQL's ``disk_full``), so the whole chain of causes is looked
at.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass
from typing import Literal

_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_READONLY, _SQLITE_FULL = 8, 13
_PG_DISK_FULL = "53100"

RETRY_AFTER_SECONDS = 60
"""What a refused request is told to wait: freeing space is an operator's job, not a blip."""


@dataclass(frozen=True, slots=True)
class StorageFault:
    """Why the storage refused a write: ``full`` or ``read-only``, and its own words."""

    kind: Literal["full", "read-only"]
    cause: str

    def message(self) -> str:
        """The one line a refused request is answered with."""
        if self.kind == "full":
            return (
                f"the server's storage is full ({self.cause}); the request was not carried "
                "out: retry once space has been freed"
            )
        return (
            f"the server's storage is read-only ({self.cause}); the request was not carried "
            "out: retry once it is writable again"
        )


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _describe(error: OSError) -> str:
    text = error.strerror or str(error)
    return f"{text}: {error.filename}" if error.filename else text


def storage_fault(error: BaseException) -> StorageFault | None:
    """The storage fault behind ``error`` (or any exception it was raised from), if any."""
    for item in _chain(error):
        if isinstance(item, OSError) and item.errno in _NO_SPACE:
            return StorageFault("full", _describe(item))
        if isinstance(item, OSError) and item.errno == errno.EROFS:
            return StorageFault("read-only", _describe(item))
        if isinstance(item, sqlite3.Error):
            code = (getattr(item, "sqlite_errorcode", None) or 0) & 0xFF
            text = str(item)
            if code == _SQLITE_FULL or "database or disk is full" in text:
                return StorageFault("full", f"SQLite: {text}")
            if code == _SQLITE_READONLY or "readonly database" in text:
                return StorageFault("read-only", f"SQLite: {text}")
        if getattr(item, "sqlstate", None) == _PG_DISK_FULL:
            return StorageFault("full", f"PostgreSQL: {str(item).strip().splitlines()[0]}")
    return None
