"""End to end: damage on disk is answered clearly by a real ``rewind serve``.

- An archive download checks what it can before its first byte (manifest, every blob there
  and whole): a missing blob is a 409 naming it, and the backup becomes MISSING. A blob whose
  bytes hash to another digest is only found while streaming: the download breaks off (the
  client sees a failed transfer, never a second answer inside the body) and the backup
  becomes MISSING with the reason.
- Bytes overwritten in the middle of ``views.sqlite`` (server stopped): the next start sets
  the file aside and rebuilds the views from the log. The same in ``events.sqlite``:
  ``/readyz`` says which file is damaged, commands are refused in one line naming it and the
  recovery steps, and ``rewind replay --check`` says so in one line too (exit 1).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import zstandard

from tests.support.http import call, wait_finished, wait_for
from tests.support.processes import REWIND, Running, rewind_history, start_serve

TOKEN = "damaged-stores-e2e-token"
WITH_FILES = {"tenant_id": "t01", "group_id": "t01-g01", "download_announcement_files": True}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("damaged") / "data"
    serve, base = start_serve(data_dir, TOKEN, "--demo")
    try:
        yield base, data_dir
    finally:
        serve.stop()


def _backed_up(base: str, body: dict[str, Any]) -> dict[str, Any]:
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202, accepted
    view = wait_finished(base, "backups", accepted["id"], TOKEN)
    assert view["status"] == "SUCCESS", view
    return view


def _blob(data_dir: Path, backup_id: str) -> tuple[str, Path]:
    """A media blob of the backup: its digest and its file."""
    manifest_path = data_dir / "artifacts" / "manifests" / f"{backup_id}.json"
    manifest = json.loads(manifest_path.read_text())
    digest = sorted(manifest["files"].values())[-1]
    return digest, data_dir / "artifacts" / "blobs" / digest[:2] / f"{digest}.zst"


def _backup(base: str, backup_id: str) -> dict[str, Any]:
    status, view, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
    assert status == 200, view
    found: dict[str, Any] = view
    return found


def test_an_archive_with_a_missing_blob_is_refused_before_its_first_byte(
    server: tuple[str, Path],
) -> None:
    base, data_dir = server
    view = _backed_up(base, {**WITH_FILES, "group_id": "t01-g02"})
    digest, path = _blob(data_dir, view["id"])
    path.unlink()

    status, body, headers = call("GET", f"{base}/api/v1/backups/{view['id']}/archive", TOKEN)
    assert status == 409 and headers["Content-Type"].startswith("application/json")
    assert digest in body[0] and "MISSING" in body[0]
    now = _backup(base, view["id"])
    assert now["status"] == "MISSING" and now["is_valid"] is False
    assert digest in now["failure_reason"]
    last = rewind_history(data_dir, view["id"])[-1]
    assert last["type"] == "Backup.MarkedMissing" and last["principal"] == "archive"


async def _download(url: str) -> tuple[int, int, BaseException | None]:
    """GET the archive as a client would: (status, bytes received, the error that ended it)."""
    received = 0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        try:
            async for chunk in response.content.iter_chunked(65536):
                received += len(chunk)
        except aiohttp.ClientError as error:
            return response.status, received, error
        return response.status, received, None


def _raw_answer(base: str, path: str) -> bytes:
    """Every byte the server sends for a GET (HTTP/1.1, the connection closed after)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_an_archive_whose_blob_hashes_wrong_breaks_off_and_marks_the_backup_missing(
    server: tuple[str, Path],
) -> None:
    base, data_dir = server
    view = _backed_up(base, WITH_FILES)
    digest, path = _blob(data_dir, view["id"])
    # the file decompresses cleanly, to other bytes: only hashing the content tells
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(b"\x00" * 5000))
    url = f"{base}/api/v1/backups/{view['id']}/archive"

    raw = _raw_answer(base, f"/api/v1/backups/{view['id']}/archive")
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert raw.count(b"HTTP/1.1 ") == 1  # no second answer written into the body
    assert not raw.endswith(b"0\r\n\r\n")  # no final chunk: the body is visibly incomplete

    now = _backup(base, view["id"])
    assert now["status"] == "MISSING" and now["is_valid"] is False
    assert digest in now["failure_reason"] and "hashes to" in now["failure_reason"]
    last = rewind_history(data_dir, view["id"])[-1]
    assert last["type"] == "Backup.MarkedMissing" and last["principal"] == "archive"

    status, received, error = asyncio.run(_download(url))  # a MISSING backup still streams
    assert status == 200 and received > 0
    assert isinstance(error, aiohttp.ClientPayloadError), error

    target = data_dir.parent / "downloaded.tar"
    cli = subprocess.run(
        [REWIND, "backup", "download", view["id"], "-o", str(target), "--url", base],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REWIND_TOKEN": TOKEN},
    )
    assert cli.returncode == 4, cli.stderr  # the server failed the request
    assert "broke off" in cli.stderr and "Traceback" not in cli.stderr
    assert not list(data_dir.parent.glob("downloaded.tar*"))  # nothing that looks whole


def _overwrite_middle(path: Path) -> None:
    """A page in the middle of an SQLite file overwritten, as a disk or a careless copy
    might (a whole page: bytes landing in a page's unused space would harm nothing)."""
    page = 4096
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(size // 2 // page * page)
        fh.write(b"\xde\xad\xbe\xef" * (page // 4))


def _restarted(data_dir: Path, damage: str) -> tuple[Running, str]:
    """Overwrite the middle of the ``damage`` file (no server runs on ``data_dir``), then
    start a server on it."""
    _overwrite_middle(data_dir / damage)
    return start_serve(data_dir, TOKEN, "--demo")


@pytest.fixture
def stopped_data_dir(tmp_path: Path) -> Path:
    """A data dir with a finished backup in it, its server stopped."""
    data_dir = tmp_path / "data"
    serve, base = start_serve(data_dir, TOKEN, "--demo")
    try:
        _backed_up(base, WITH_FILES)
    finally:
        serve.stop()
    return data_dir


def test_a_damaged_views_store_is_set_aside_and_rebuilt_from_the_log(
    stopped_data_dir: Path,
) -> None:
    data_dir = stopped_data_dir
    serve, base = _restarted(data_dir, "views.sqlite")
    try:
        wait_for(lambda: call("GET", f"{base}/readyz")[0] == 200, timeout=60)
        status, listing, _ = call("GET", f"{base}/api/v1/backups", TOKEN)
        assert status == 200 and listing["total"] == 1
        assert listing["items"][0]["status"] == "SUCCESS"
        assert list(data_dir.glob("views.sqlite.damaged-*"))  # kept for inspection
        assert _backed_up(base, {"tenant_id": "t01", "group_id": "t01-g02"})
    finally:
        serve.stop()
    logged = [json.loads(line) for line in serve.lines if line.startswith("{")]
    assert any(line["event"].startswith("views store damaged") for line in logged)


def test_a_damaged_event_store_fails_readiness_and_refuses_writes_in_one_line(
    stopped_data_dir: Path,
) -> None:
    data_dir = stopped_data_dir
    events = data_dir / "events.sqlite"
    serve, base = _restarted(data_dir, "events.sqlite")
    try:

        def damaged() -> dict[str, Any] | None:
            status, body, _ = call("GET", f"{base}/readyz")
            return body if status == 503 and "damaged" in body["checks"]["event_store"] else None

        ready = wait_for(damaged, timeout=60)
        assert str(events) in ready["checks"]["event_store"]
        status, body, _ = call("POST", f"{base}/api/v1/backups", TOKEN, WITH_FILES)
        assert status == 503 and len(body) == 1
        assert str(events) in body[0] and "Recovering a damaged event store" in body[0]
    finally:
        serve.stop()

    replay = subprocess.run(
        [REWIND, "replay", "--check", "--data-dir", str(data_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 1
    assert "Traceback" not in replay.stdout + replay.stderr
    lines = replay.stderr.strip().splitlines()
    assert len(lines) == 1 and str(events) in lines[0] and "damaged" in lines[0]
