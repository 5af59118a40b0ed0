"""Each benchmark runs end to end at a tiny size (``--quick``) and ends with a well-formed
``RATIO name value target`` line. No figure is checked: speed is measured in bench/, never
asserted in tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]
RATIO = re.compile(r"^RATIO (P\d_[a-z0-9_]+) (-?\d+\.\d{3}|nan) ([<>]=\d+(\.\d+)?)$")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_prints_a_ratio_line(name: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick"],
        check=False,
        cwd=ROOT,
        env={**os.environ, "REWIND_BENCH_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ratio_lines = [line for line in done.stdout.splitlines() if line.startswith("RATIO ")]
    assert len(ratio_lines) == 1, done.stdout
    match = RATIO.match(ratio_lines[0])
    assert match is not None, ratio_lines[0]
    assert match[1].startswith(f"{name}_")
    # The RATIO line is the benchmark's verdict: nothing of its own follows it.
    own = [line for line in done.stdout.splitlines() if not line.startswith("(")]
    assert own[-1] == ratio_lines[0]
