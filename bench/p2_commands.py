"""P2 commands: accepted backup requests/s (50 concurrent clients, one backup per group over
many groups, the durable SQLite store with synchronous=FULL, served with --no-worker so only
the commands are measured) against raw sqlite3 single-row fsynced transactions/s measured in
the same run on the same disk. Target >= 1.0.

It also prints two ceilings for any aiohttp service on this machine, driven by the same
load generator: a bare handler that reads the POST's body and answers 202 doing nothing
else, and the same handler asking the sandbox for the group first (Rewind's scope probe,
one PBX call a request). Set against the same raw figure, they say how far 1.0 is within
reach here at all."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Options, fresh_dir, report
from bench.processes import TOKEN, free_port, python_module, running, sandbox, serve

CLIENTS = 50
CEILING_ROUNDS = 10
"""Each group asked for this many times by the ceilings' runs (they are too fast for one)."""


def raw_sqlite_tps(path: Path, seconds: float) -> float:
    """Single-row INSERT transactions per second, WAL + synchronous=FULL (what the event
    store uses), one after another."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    body = b"x" * 300
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def run(options: Options) -> float:
    tenants, groups = (2, 25) if options.quick else (20, 50)
    data_dir = fresh_dir("p2")
    raw = raw_sqlite_tps(data_dir / "raw.sqlite", 1.0 if options.quick else 3.0)
    flags = ("--tenants", str(tenants), "--groups", str(groups), "--users", "1")
    with sandbox(*flags) as pbx:
        with serve(data_dir / "rewind", pbx, "--no-worker") as (_p, base):
            accepted, refused, seconds = _commands(base, tenants, groups, 1)
        rounds = 1 if options.quick else CEILING_ROUNDS
        ceilings = [_ceiling(tenants, groups, rounds, None), _ceiling(tenants, groups, rounds, pbx)]
    rate = accepted / seconds
    print(f"raw sqlite3 single-row fsynced transactions: {raw:10,.0f} tx/s")
    print(
        f"POST /api/v1/backups, {CLIENTS} clients, {tenants * groups} groups: "
        f"{rate:10,.0f} accepted/s ({accepted} accepted, {refused} refused, {seconds:.2f}s)"
    )
    for name, ceiling in zip(("bare 202", "bare 202 after one PBX call"), ceilings, strict=True):
        print(f"ceiling, {name + ':':28s} {ceiling:10,.0f} req/s = {ceiling / raw:.3f} of raw")
    return report("P2_commands", rate / raw, ">=1.0")


def _commands(base: str, tenants: int, groups: int, rounds: int) -> tuple[int, int, float]:
    """(accepted, refused, seconds) of bench.commandgen's CLIENTS against ``base``."""
    argv = [sys.executable, "-m", "bench.commandgen", base, TOKEN]
    out = subprocess.run(
        [*argv, str(tenants), str(groups), str(CLIENTS), str(rounds)],
        check=False,
        capture_output=True,
        text=True,
    )
    match = re.search(r"accepted (\d+) refused (\d+) seconds ([\d.]+)", out.stdout)
    if match is None:
        raise RuntimeError(f"command generator failed: {out.stdout}{out.stderr}")
    return int(match[1]), int(match[2]), float(match[3])


def _ceiling(tenants: int, groups: int, rounds: int, pbx: str | None) -> float:
    """Requests/s bench.hello's bare POST handler answers (asking ``pbx`` first if given)."""
    port = free_port()
    with running(python_module("bench.hello", str(port), *([pbx] if pbx else []))) as proc:
        proc.wait_for_line("listening on")
        accepted, _refused, seconds = _commands(f"http://127.0.0.1:{port}", tenants, groups, rounds)
    return accepted / seconds
