"""P5 engine: one backup of a group of 2,000 users with every entity, from a sandbox that
answers every request after 20 ms, timed from the request to the SUCCESS a client polls;
against the ideal: PBX calls x latency / concurrency (the calls counted by the sandbox,
the worker's 16 concurrent PBX calls). Target <= 1.2."""

from __future__ import annotations

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
    ideal = calls * LATENCY_MS / 1000 / CONCURRENCY
    entities = row["progress"]["total"]
    print(
        f"{users} users, {entities} entities, {calls} PBX calls at {LATENCY_MS:.0f} ms, "
        f"concurrency {CONCURRENCY}"
    )
    print(f"wall {wall:.2f}s, ideal {ideal:.2f}s ({entities / wall:,.0f} entities/s)")
    return report("P5_engine", wall / ideal, "<=1.2")
