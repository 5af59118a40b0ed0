"""``rewind serve`` and ``rewind worker`` build their runtime in one place, so they run the
same background work on the same settings: both run the periodic verifier, whose rounds
show in the log (real processes, real SQLite store)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.processes import Running, free_port, start

ENV = {"REWIND_VERIFY_INTERVAL_SECONDS": "0.2", "REWIND_LOG_FORMAT": "json"}


def _wait_for(process: Running, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in list(process.lines)):
            return
        assert process.proc.poll() is None, "".join(process.lines)
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} within {timeout}s:\n{''.join(process.lines)}")


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_both_entrypoints_run_the_verifier(tmp_path: Path, command: str) -> None:
    args = [command, "--data-dir", str(tmp_path)]
    if command == "serve":
        args += ["--port", str(free_port())]
    process = start(args, env=ENV)
    try:
        _wait_for(process, "verification round")
    finally:
        process.stop()
