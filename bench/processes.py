"""Real processes for the benchmarks: ``rewind sandbox`` / ``rewind serve`` as a user
starts them, and the benchmark's own helpers (hello server, load generator) as
``python -m bench.<module>``, each in its own process so none steals the other's loop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REWIND = str(Path(sys.executable).parent / "rewind")
TOKEN = "rw_bench_admin_token_0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    """A started process whose output is collected in the background."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_for(self, prefix: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line
            if self.popen.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"no line {prefix!r} within {timeout}s:\n{''.join(self.lines)[-3000:]}")

    def peak_rss_mb(self) -> float:
        """The process's peak resident set so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def start(argv: Sequence[str], env: dict[str, str] | None = None) -> Proc:
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    popen = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env
    )
    proc = Proc(popen)

    def pump() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            proc.lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.stop()


@contextlib.contextmanager
def sandbox(*flags: str) -> Iterator[str]:
    """``rewind sandbox`` with ``flags``; yields its base URL."""
    port = free_port()
    with running(start([REWIND, "sandbox", "--port", str(port), *flags])) as proc:
        proc.wait_for("sandbox PBX listening on")
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serve(
    data_dir: Path, pbx_url: str, *flags: str, env: dict[str, str] | None = None
) -> Iterator[tuple[Proc, str]]:
    """``rewind serve --pbx URL`` on ``data_dir``; yields the process and its base URL."""
    port = free_port()
    argv = [REWIND, "serve", "--port", str(port), "--data-dir", str(data_dir), "--pbx", pbx_url]
    full_env = {"REWIND_ADMIN_TOKEN": TOKEN, "REWIND_LOG_FORMAT": "json", **(env or {})}
    with running(start([*argv, *flags], env=full_env)) as proc:
        proc.wait_for("listening on")
        yield proc, f"http://127.0.0.1:{port}"


def python_module(module: str, *args: str) -> Proc:
    """``python -m module args`` with this interpreter."""
    return start([sys.executable, "-m", module, *args])
