"""P2 commands: accepted backup requests/s (50 concurrent clients, one backup per group over
many groups, the durable SQLite store with synchronous=FULL, served with --no-worker so only
the commands are measured) against raw sqlite3 single-row fsynced transactions/s measured in
the same run on the same disk. Target >= 1.0."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Options, fresh_dir, report
from bench.processes import TOKEN, sandbox, serve

CLIENTS = 50


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
    with sandbox(*flags) as pbx, serve(data_dir / "rewind", pbx, "--no-worker") as (_p, base):
        argv = [sys.executable, "-m", "bench.commandgen", base, TOKEN]
        out = subprocess.run(
            [*argv, str(tenants), str(groups), str(CLIENTS)],
            check=False,
            capture_output=True,
            text=True,
        )
    match = re.search(r"accepted (\d+) refused (\d+) seconds ([\d.]+)", out.stdout)
    if match is None:
        raise RuntimeError(f"command generator failed: {out.stdout}{out.stderr}")
    accepted, refused, seconds = int(match[1]), int(match[2]), float(match[3])
    rate = accepted / seconds
    print(f"raw sqlite3 single-row fsynced transactions: {raw:10,.0f} tx/s")
    print(
        f"POST /api/v1/backups, {CLIENTS} clients, {tenants * groups} groups: "
        f"{rate:10,.0f} accepted/s ({accepted} accepted, {refused} refused, {seconds:.2f}s)"
    )
    return report("P2_commands", rate / raw, ">=1.0")
