"""Requests per second of one URL under N concurrent connections, from a separate
process: wrk when it is installed (or installable), else bench.loadgen."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

from bench.tools import ensure


@dataclass(frozen=True)
class Load:
    rps: float
    errors: int
    tool: str


def measure(url: str, connections: int, seconds: float, token: str | None) -> Load:
    wrk = ensure("wrk")
    if wrk is not None:
        return _wrk(wrk, url, connections, seconds, token)
    return _loadgen(url, connections, seconds, token)


def _wrk(wrk: str, url: str, connections: int, seconds: float, token: str | None) -> Load:
    argv = [wrk, "-t", "1", "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (int(errors.group(1)) if errors else 0)
    return Load(rps=rps, errors=failed, tool="wrk")


def _loadgen(url: str, connections: int, seconds: float, token: str | None) -> Load:
    argv = [sys.executable, "-m", "bench.loadgen", url, str(connections), str(seconds)]
    out = subprocess.run(
        [*argv, *([token] if token else [])], check=False, capture_output=True, text=True
    )
    match = re.search(r"requests (\d+) errors (\d+) seconds ([\d.]+)", out.stdout)
    if match is None:
        raise RuntimeError(f"load generator failed: {out.stdout}{out.stderr}")
    done, errors, elapsed = int(match[1]), int(match[2]), float(match[3])
    return Load(rps=done / elapsed, errors=errors, tool="bench.loadgen (aiohttp)")
