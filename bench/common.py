"""What every benchmark shares: where its data lives, how it prints its verdict, and
percentiles. A benchmark prints figures; it never asserts on them."""

from __future__ import annotations

import os
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def bench_root() -> Path:
    """Where benchmarks keep their data (``$REWIND_BENCH_DIR`` or ``./.bench-data``);
    generated inputs that are slow to make (P4's log) are cached there between runs."""
    root = Path(os.environ.get("REWIND_BENCH_DIR", ".bench-data")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def fresh_dir(name: str) -> Path:
    """An empty directory under the bench root (removed first if a run left one)."""
    path = bench_root() / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass(frozen=True)
class Options:
    """How big a run is: ``quick`` shrinks every benchmark to seconds (the smoke test)."""

    quick: bool = False
    events: int | None = None
    """P4 only: how many events the replayed log holds (default 1,000,000)."""


def ratio_line(name: str, value: float, target: str) -> str:
    """The last line of every benchmark: ``RATIO name value target``; ``target`` carries
    its direction (``>=0.6``, ``<=1.2``)."""
    return f"RATIO {name} {value:.3f} {target}"


def report(name: str, value: float, target: str) -> float:
    print(ratio_line(name, value, target), flush=True)
    return value


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values`` (inclusive method)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    index = min(98, max(0, round(share * 100) - 1))
    return cuts[index]


def dir_bytes(path: Path) -> int:
    """Bytes of every regular file below ``path`` (apparent sizes)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = Path(root) / name
            if not full.is_symlink():
                total += full.stat().st_size
    return total


def machine() -> str:
    """One line naming the machine a figure ran on."""
    cpus = os.cpu_count() or 0
    model = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpus} cpu ({model})"
