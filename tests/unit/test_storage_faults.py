"""Storage that refuses writes is told apart from other failures, from the errors the real
stores raise (SQLite past its page limit or opened read-only, ``/dev/full``), and answered
503 with a Retry-After in the error shape of whichever dialect the request spoke."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from eventsourcing.persistence import OperationalError

from adapters.storage_faults import storage_fault
from api.core.errors import Handler, error_middleware
from api.dialects.gbots.routes import BASE as GBOTS
from api.dialects.qradar.errors import qradar_errors


def _full_database(tmp_path: Path) -> sqlite3.Error:
    conn = sqlite3.connect(tmp_path / "small.sqlite")
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 3")
    try:
        conn.execute("INSERT INTO t VALUES (?)", (b"\0" * 100_000,))
    except sqlite3.Error as error:
        return error
    finally:
        conn.close()
    raise AssertionError("the insert fitted")


def _read_only_database(tmp_path: Path) -> sqlite3.Error:
    path = tmp_path / "ro.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("INSERT INTO t VALUES (1)")
    except sqlite3.Error as error:
        return error
    finally:
        conn.close()
    raise AssertionError("the insert was allowed")


def _write_to_dev_full() -> OSError:
    try:
        with open("/dev/full", "wb", buffering=0) as fh:
            fh.write(b"x")
    except OSError as error:
        return error
    raise AssertionError("/dev/full took the write")


def test_a_full_sqlite_database_is_a_full_storage(tmp_path: Path) -> None:
    fault = storage_fault(_full_database(tmp_path))
    assert fault is not None and fault.kind == "full"
    assert "database or disk is full" in fault.cause


def test_the_event_store_librarys_wrapping_is_seen_through(tmp_path: Path) -> None:
    cause = _full_database(tmp_path)
    try:
        raise OperationalError(cause) from cause  # what eventsourcing's recorder raises
    except OperationalError as wrapped:
        fault = storage_fault(wrapped)
    assert fault is not None and fault.kind == "full"


def test_no_space_and_read_only_are_told_apart(tmp_path: Path) -> None:
    full = storage_fault(_write_to_dev_full())
    assert full is not None and full.kind == "full" and "No space left" in full.cause
    read_only = storage_fault(_read_only_database(tmp_path))
    assert read_only is not None and read_only.kind == "read-only"


def test_other_failures_are_not_storage_faults(tmp_path: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(tmp_path / "x.sqlite")) as conn,
        pytest.raises(sqlite3.Error) as missing,
    ):
        conn.execute("SELECT * FROM nothing")
    assert storage_fault(missing.value) is None
    assert storage_fault(ValueError("bad")) is None
    assert storage_fault(FileNotFoundError(2, "No such file or directory")) is None


async def _write_somewhere(_request: web.Request) -> web.Response:
    with open("/dev/full", "wb", buffering=0) as fh:
        fh.write(b"an event")
    return web.json_response({})


@pytest.mark.parametrize(
    "path",
    ["/api/v1/backups", f"{GBOTS}/", "/api/backup_and_restore/backups"],
)
async def test_each_dialect_answers_a_full_disk_503_with_retry_after(path: str) -> None:
    app = web.Application(middlewares=[error_middleware])
    handler: Handler = _write_somewhere
    if path.startswith("/api/backup_and_restore/"):
        handler = qradar_errors("create")(_write_somewhere)
    app.router.add_post(path, handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        answer = await client.post(path)
        assert answer.status == 503
        assert answer.headers["Retry-After"].isdigit()
        body = await answer.json()
    finally:
        await client.close()
    if path == "/api/v1/backups":  # seed 003's list of messages
        text = body[0]
    elif path == f"{GBOTS}/":  # General Bots: {"error", "code"} (importing it registered it)
        assert body["code"] == 503
        text = body["error"]
    else:  # QRadar's error object
        assert body["http_response"] == {"code": 503, "message": "Service Unavailable"}
        text = body["description"]
    assert "storage is full" in text and "No space left on device" in text
