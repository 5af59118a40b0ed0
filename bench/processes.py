"""Real processes for the benchmarks: ``rewind sandbox`` / ``rewind serve`` as a user
starts them, and the benchmark's own helpers (hello server, load generator) as
``python -m bench.<module>``, each in its own process so none steals the other's loop.
Starting and stopping them is the end-to-end tests' own code (tests/support/processes.py)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import REWIND, Running, free_port, spawn

TOKEN = "rw_bench_admin_token_0123456789abcdef"

__all__ = ["REWIND", "TOKEN", "Running", "free_port", "peak_rss_mb", "python_module"]


def peak_rss_mb(proc: Running) -> float:
    """The process's peak resident set so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{proc.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def running(proc: Running) -> Iterator[Running]:
    try:
        yield proc
    finally:
        proc.stop()


@contextlib.contextmanager
def sandbox(*flags: str) -> Iterator[str]:
    """``rewind sandbox`` with ``flags``; yields its base URL."""
    port = free_port()
    with running(spawn([REWIND, "sandbox", "--port", str(port), *flags])) as proc:
        proc.wait_for_line("sandbox PBX listening on")
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def serve(
    data_dir: Path, pbx_url: str, *flags: str, env: dict[str, str] | None = None
) -> Iterator[tuple[Running, str]]:
    """``rewind serve --pbx URL`` on ``data_dir``; yields the process and its base URL."""
    port = free_port()
    argv = [REWIND, "serve", "--port", str(port), "--data-dir", str(data_dir), "--pbx", pbx_url]
    full_env = {"REWIND_ADMIN_TOKEN": TOKEN, "REWIND_LOG_FORMAT": "json", **(env or {})}
    with running(spawn([*argv, *flags], env=full_env)) as proc:
        proc.wait_for_line("listening on", timeout=60)
        yield proc, f"http://127.0.0.1:{port}"


def python_module(module: str, *args: str) -> Running:
    """``python -m module args`` with this interpreter."""
    return spawn([sys.executable, "-m", module, *args])
