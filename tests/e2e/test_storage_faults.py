"""End to end: a real ``rewind serve`` on storage that refuses writes, and the log lines of
clients that misbehave.

A full disk is made for real: the data directory is a small tmpfs, filled with a file until
the kernel answers ENOSPC. That needs the right to mount (root here and on CI); without it
the test is skipped, saying so. A limit on file size (RLIMIT_FSIZE) would need no privilege,
but it fails writes with EFBIG and kills with SIGXFSZ: another fault than the one operators
meet. A read-only data directory is a tmpfs remounted read-only (root ignores mode 0555, so
a chmod would prove nothing); a data directory under a regular file is the unprivileged
variant of "cannot be written".
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.support.http import call, wait_for
from tests.support.processes import REWIND, Running, start_serve

TOKEN = "storage-faults-e2e-token"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def tmpfs(where: Path, size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` at ``where`` for the ``with`` block (skips without the right
    to mount)."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where))
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        detail = getattr(error, "stderr", b"") or str(error)
        message = f"cannot mount a tmpfs here (needs root): {detail!r}"
        if IN_CI:
            pytest.fail(message + " (CI=true: the storage-fault tests are mandatory)")
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until the filesystem is full (to the last block the
    kernel would give); the file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512):
            block = b"\0" * size
            try:
                while True:
                    os.write(fd, block)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
    finally:
        os.close(fd)
    return filler


def _token(index: int) -> dict[str, Any]:
    """A command that appends to the log and nothing else: issuing a viewer token."""
    return {"name": f"full-{index}-{uuid.uuid4().hex[:6]}", "role": "viewer"}


def test_a_full_disk_answers_503_with_retry_after_then_recovers(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", 24 * 1024) as disk:
        serve, base = start_serve(disk / "data", TOKEN, "--no-worker")
        try:
            assert call("POST", f"{base}/api/v1/tokens", TOKEN, _token(0))[0] == 201
            filler = fill(disk)
            answers = []
            for index in range(1, 400):  # the stores' spare pages run out after a few writes
                status, body, headers = call("POST", f"{base}/api/v1/tokens", TOKEN, _token(index))
                answers.append(status)
                if status != 201:
                    break
            assert 500 not in answers, answers
            assert status == 503, (status, body)
            assert headers["Retry-After"].isdigit()
            assert len(body) == 1 and "storage is full" in body[0]
            assert "No space left on device" in body[0] or "disk is full" in body[0]
            ready = call("GET", f"{base}/readyz")
            assert ready[0] == 503 and "No space left" in ready[1]["checks"]["artifacts"]

            filler.unlink()
            assert wait_for(
                lambda: call("POST", f"{base}/api/v1/tokens", TOKEN, _token(999))[0] == 201,
                timeout=30,
            )
        finally:
            serve.stop()
    logged = [json.loads(line) for line in serve.lines if line.startswith("{")]
    assert not [line for line in logged if line["event"] == "unhandled error"]


def _serve_exits(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REWIND, "serve", "--port", "0", "--data-dir", str(data_dir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "REWIND_ADMIN_TOKEN": TOKEN, "REWIND_LOG_FORMAT": "json"},
    )


def test_a_read_only_data_dir_stops_serve_with_one_line_naming_it(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", 1024) as mounted:
        (mounted / "data").mkdir()
        _mount("-o", "remount,ro", str(mounted))
        done = _serve_exits(mounted / "data")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"rewind serve: the data directory {mounted / 'data'} is not writable: "
        "Read-only file system"
    ]


def test_a_data_dir_that_cannot_be_made_stops_serve_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    done = _serve_exits(tmp_path / "a-file" / "data")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{tmp_path / 'a-file' / 'data'}" in lines[0], done.stderr


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Running]]:
    serve, base = start_serve(tmp_path / "data", TOKEN, "--no-worker")
    try:
        yield base, serve
    finally:
        serve.stop()


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _abandon(base: str, raw: bytes) -> None:
    """Send ``raw`` and hang up without reading, as a client that gave up would."""
    with _connect(base) as sock:
        sock.sendall(raw)
        time.sleep(0.3)  # the server is reading the body when the connection goes


def _ask(base: str, raw: bytes) -> bytes:
    """Send ``raw``; everything the server answers until it closes the connection."""
    with _connect(base) as sock:
        sock.sendall(raw)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def test_a_client_gone_mid_body_and_a_malformed_request_are_json_info_lines(
    server: tuple[str, Running],
) -> None:
    base, serve = server
    head = (
        "POST /api/v1/backups HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    _abandon(base, head.encode() + b'{"tenant_id": ')  # 14 of the 1000 bytes promised
    answer = _ask(base, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]

    def logged() -> list[dict[str, Any]] | None:
        lines = [json.loads(line) for line in serve.lines if line.startswith("{")]
        events = {line["event"] for line in lines}
        gone = "client disconnected" in events
        bad = any(e.startswith("bad request from a client: LineTooLong") for e in events)
        return lines if gone and bad else None

    lines = wait_for(logged, timeout=30)
    time.sleep(0.2)  # anything logged after those lines is read too
    serve.stop()
    out = [line for line in serve.lines if line.strip()]
    plain = [line for line in out if not line.startswith("{")]
    assert plain == [next(line for line in out if line.startswith("listening on"))], plain
    lines = [json.loads(line) for line in out if line.startswith("{")]
    for line in lines:
        if line["event"] == "client disconnected" or line["event"].startswith("bad request"):
            assert line["level"] == "info" and "exception" not in line
    assert not [line for line in lines if line["level"] == "error"], lines
