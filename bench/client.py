"""A small synchronous HTTP client for the benchmark driver (standard library only): the
driver's own calls are few; the load itself comes from a separate process."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import orjson

from bench.processes import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def call(method: str, url: str, body: Any = None, timeout: float = 60.0) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    headers = {**AUTH, "Content-Type": "application/json"} if data is not None else dict(AUTH)
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            return answer.status, orjson.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, orjson.loads(raw) if raw else None


def start_backup(base: str, **spec: Any) -> dict[str, Any]:
    status, answer = call("POST", f"{base}/api/v1/backups", spec)
    if status != 202:
        raise RuntimeError(f"backup refused: {status} {answer}")
    result: dict[str, Any] = answer
    return result


def wait_finished(base: str, backup_id: str, timeout: float = 3600.0) -> dict[str, Any]:
    """Poll until the backup is SUCCESS or FAILED (every 50 ms: the wait is part of what
    some benchmarks time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, row = call("GET", f"{base}/api/v1/backups/{backup_id}")
        if status == 200 and row["status"] in ("SUCCESS", "FAILED"):
            result: dict[str, Any] = row
            return result
        time.sleep(0.05)
    raise RuntimeError(f"backup {backup_id} did not finish within {timeout}s")


def backup_and_wait(base: str, **spec: Any) -> dict[str, Any]:
    started = start_backup(base, **spec)
    row = wait_finished(base, started["id"])
    if row["status"] != "SUCCESS":
        raise RuntimeError(f"backup ended {row['status']}: {row.get('failure_reason')}")
    return row
