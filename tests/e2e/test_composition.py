"""``rewind serve`` and ``rewind worker`` build their runtime in one place, so they run the
same background work on the same settings: both run the periodic verifier, whose rounds
show in the log (real processes, real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import free_port, start

ENV = {"REWIND_VERIFY_INTERVAL_SECONDS": "0.2", "REWIND_LOG_FORMAT": "json"}


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_both_entrypoints_run_the_verifier(tmp_path: Path, command: str) -> None:
    args = [command, "--data-dir", str(tmp_path)]
    if command == "serve":
        args += ["--port", str(free_port())]
    process = start(args, env=ENV)
    try:
        process.wait_for_text("verification round", timeout=60.0)
    finally:
        process.stop()
