"""P5 engine: one backup of a group of 2,000 users with every entity, from a sandbox that
answers every request after 20 ms, timed from the request to the SUCCESS a client polls;
against the ideal: PBX calls x latency / concurrency (the calls counted by the sandbox,
the worker's 16 concurrent PBX calls). Target <= 1.2.

It also prints the sandbox's own floor: a bare aiohttp client (bench.pbx_floor, a process
of its own) making the same kind of calls through 16 slots against the same sandbox, timed
against the same ideal. The engine cannot do better than that floor on this machine."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from bench.client import backup_and_wait
from bench.common import Options, report
from bench.stack import GROUP, stack

LATENCY_MS = 20.0
CONCURRENCY = 16
"""The worker's entity concurrency (adapters.worker.Worker's default, the PBX client's bound)."""


def run(options: Options) -> float:
    users = 20 if options.quick else 2000
    with stack("p5", users, "--latency-ms", str(LATENCY_MS)) as s:
        before = s.pbx_requests()
        started = time.perf_counter()
        row = backup_and_wait(s.base, **GROUP)
        wall = time.perf_counter() - started
        calls = s.pbx_requests() - before
        floor = _sandbox_floor(s.pbx, min(calls, 4000))
    ideal = calls * LATENCY_MS / 1000 / CONCURRENCY
    entities = row["progress"]["total"]
    print(
        f"{users} users, {entities} entities, {calls} PBX calls at {LATENCY_MS:.0f} ms, "
        f"concurrency {CONCURRENCY}"
    )
    print(f"wall {wall:.2f}s, ideal {ideal:.2f}s ({entities / wall:,.0f} entities/s)")
    print(
        f"sandbox floor (bare aiohttp client, {floor[0]} calls, 16 slots): ratio "
        f"{floor[1]:.3f}, call p50 {floor[2]:.1f} ms; the engine over that floor: "
        f"{wall / ideal / floor[1]:.3f}"
    )
    return report("P5_engine", wall / ideal, "<=1.2")


def _sandbox_floor(pbx: str, calls: int) -> tuple[int, float, float]:
    """(calls, ratio, p50 ms) of bench.pbx_floor against ``pbx``."""
    argv = [sys.executable, "-m", "bench.pbx_floor", pbx, str(calls), str(CONCURRENCY)]
    out = subprocess.run(
        [*argv, str(LATENCY_MS)], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"calls (\d+) seconds [\d.]+ ratio ([\d.]+) p50_ms ([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"bench.pbx_floor printed no figures: {out!r}")
    return int(found[1]), float(found[2]), float(found[3])
