"""A tiny synchronous HTTP client for end-to-end tests (the standard library's, so the tests
exercise the server exactly as curl would)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


def call_raw(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """One request; the answer's status, body bytes and headers. ``body`` goes as JSON,
    ``raw`` as is (with only the headers given)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None and raw is None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def call(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """``call_raw`` with the answer decoded from JSON."""
    status, payload, head = call_raw(method, url, token, body, headers, raw)
    return status, (json.loads(payload) if payload else None), head


def wait_finished(base: str, kind: str, job_id: str, token: str) -> dict[str, Any]:
    """Poll ``/api/v1/{kind}/{job_id}`` (kind: backups or restores) until it has ended
    (SUCCESS or FAILED) and return its view."""

    def ended() -> dict[str, Any] | None:
        _, view, _ = call("GET", f"{base}/api/v1/{kind}/{job_id}", token)
        return view if view["status"] in ("SUCCESS", "FAILED") else None

    view: dict[str, Any] = wait_for(ended, timeout=90, interval=0.1)
    return view


def wait_for(predicate: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def wait_backup_finished(
    base: str, token: str, backup_id: str, timeout: float = 60.0
) -> dict[str, Any]:
    """GET the backup until it is SUCCESS or FAILED; its view then."""

    def done() -> dict[str, Any] | None:
        _, view, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", token)
        return view if view["status"] in ("SUCCESS", "FAILED") else None

    result: dict[str, Any] = wait_for(done, timeout=timeout)
    return result
