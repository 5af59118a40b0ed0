"""A cancel stops a backup at once even when the PBX is slow: real ``rewind serve`` and
``rewind sandbox`` processes, the sandbox answering every call after three seconds.

The user-visible promise: once ``POST /api/v1/backups/{id}/cancel`` has answered, the backup
ends FAILED "cancelled" within about a second, and the PBX receives no further call for it
(the calls already in flight are abandoned, not waited for). The sandbox's ``_stats`` tells
when its latest request arrived and how many are being answered.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call, wait_for
from tests.support.processes import Running, start_sandbox, start_serve

TOKEN = "cancel-e2e-token"
LATENCY_S = 3.0
CANCEL_BOUND_S = 1.5
"""Generous for "within about a second" on a loaded machine, well below one PBX call."""


@pytest.fixture
def slow_pbx_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A server whose default host is a sandbox answering every call after LATENCY_S."""
    processes: list[Running] = []
    try:
        sandbox, pbx = start_sandbox(
            "--tenants", "1", "--groups", "1", "--users", "30",
            "--latency-ms", str(int(LATENCY_S * 1000)),
        )  # fmt: skip
        processes.append(sandbox)
        serve, base = start_serve(tmp_path / "data", TOKEN, "--pbx", pbx)
        processes.append(serve)
        yield base, pbx
    finally:
        for process in reversed(processes):
            process.stop()


def _stats(pbx: str) -> dict[str, Any]:
    status, stats, _ = call("GET", f"{pbx}/1.0/_stats")
    assert status == 200
    result: dict[str, Any] = stats
    return result


def _backup(base: str, backup_id: str) -> dict[str, Any]:
    status, view, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
    assert status == 200, view
    result: dict[str, Any] = view
    return result


def test_a_cancel_stops_a_backup_at_once_while_pbx_calls_are_in_flight(
    slow_pbx_server: tuple[str, str],
) -> None:
    base, pbx = slow_pbx_server
    body = {"tenant_id": "t01", "group_id": "t01-g01", "download_announcement_files": True}
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202, accepted
    backup_id = accepted["id"]

    # Wait until the entities are being fetched: the scope is counted and calls are out.
    def fetching() -> bool:
        view = _backup(base, backup_id)
        assert view["status"] in ("INITIALIZING", "IN_PROGRESS"), view
        return view["progress"]["total"] is not None and _stats(pbx)["in_flight"] > 0

    wait_for(fetching, timeout=60, interval=0.1)
    time.sleep(LATENCY_S / 3)  # well inside the first round of entity calls

    status, answer, _ = call("POST", f"{base}/api/v1/backups/{backup_id}/cancel", TOKEN)
    acknowledged_at = time.time()
    assert (status, answer["status"]) == (202, "CANCELLING"), answer

    def stopped() -> dict[str, Any] | None:
        view = _backup(base, backup_id)
        return view if view["status"] not in ("CANCELLING", "IN_PROGRESS") else None

    view = wait_for(stopped, timeout=30, interval=0.05)
    took = time.time() - acknowledged_at
    assert (view["status"], view["failure_reason"]) == ("FAILED", "cancelled")
    assert took <= CANCEL_BOUND_S, f"the cancelled backup took {took:.1f}s to stop"
    assert view["progress"]["done"] < view["progress"]["total"]
    # The calls that were in flight are abandoned, not waited for.
    wait_for(lambda: _stats(pbx)["in_flight"] == 0, timeout=LATENCY_S / 2, interval=0.05)

    # Give a worker that ignored the cancel the time to finish its calls and start others.
    time.sleep(LATENCY_S + 0.5)
    stats = _stats(pbx)
    assert stats["last_started_at"] < acknowledged_at, "a PBX call started after the cancel"
    assert _backup(base, backup_id)["progress"] == view["progress"]
