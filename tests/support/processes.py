"""Real processes for end-to-end tests: ``rewind serve`` and ``rewind sandbox`` started as
the README starts them, on free loopback ports, stopped (or SIGKILLed) by the test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REWIND = str(Path(sys.executable).parent / "rewind")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Running:
    """A started process whose output is collected line by line in the background."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def wait_for_line(self, prefix: str, timeout: float = 30.0) -> str:
        return self.wait_for(lambda line: line.startswith(prefix), repr(prefix), timeout)

    def wait_for_text(self, text: str, timeout: float = 30.0) -> str:
        """The first line holding ``text`` anywhere (a JSON log line, say)."""
        return self.wait_for(lambda line: text in line, f"holding {text!r}", timeout)

    def wait_for(self, matches: Callable[[str], bool], what: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if matches(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        output = "".join(self.lines)
        raise AssertionError(f"no line {what} within {timeout}s; output:\n{output}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as a crash would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.reader is not None:
            self.reader.join(timeout=5)  # every line the process wrote is in ``lines`` now


def start(
    args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Running:
    """``rewind ARGS``."""
    return spawn([REWIND, *args], env=env, cwd=cwd)


def spawn(
    argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Running:
    """Any command (the benchmarks start their own helpers with it too)."""
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
        cwd=cwd,
    )
    running = Running(proc)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            running.lines.append(line)

    running.reader = threading.Thread(target=pump, daemon=True)
    running.reader.start()
    return running


def start_sandbox(*flags: str) -> tuple[Running, str]:
    port = free_port()
    sandbox = start(["sandbox", "--port", str(port), *flags])
    sandbox.wait_for_line("sandbox PBX listening on")
    return sandbox, f"http://127.0.0.1:{port}"


def start_serve(
    data_dir: Path, token: str | None, *flags: str, env: dict[str, str] | None = None
) -> tuple[Running, str]:
    """``token`` None: no REWIND_ADMIN_TOKEN (serve makes and prints one on a first start)."""
    port = free_port()
    serve_env = {"REWIND_LOG_FORMAT": "json", **(env or {})}
    if token is not None:
        serve_env["REWIND_ADMIN_TOKEN"] = token
    serve = start(
        ["serve", "--port", str(port), "--data-dir", str(data_dir), *flags], env=serve_env
    )
    serve.wait_for_line("listening on")
    return serve, f"http://127.0.0.1:{port}"


@contextmanager
def serving(data_dir: Path, token: str, *flags: str) -> Iterator[str]:
    """``rewind serve`` for the length of a ``with`` block; yields its base URL."""
    serve, base = start_serve(data_dir, token, *flags)
    try:
        yield base
    finally:
        serve.stop()


def rewind_history(data_dir: Path, job_id: str) -> list[dict[str, Any]]:
    """`rewind history ID --json` as a user runs it: every event of the job, in order."""
    out = subprocess.run(
        [REWIND, "history", job_id, "--json", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]
