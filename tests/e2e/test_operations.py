"""End to end against a real ``rewind serve``: request ids from the client to the worker's
log lines, one log line per command with no secret in it, ``/metrics``, ``/readyz`` noticing
an artifact store it cannot write, and live server-sent events."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call, call_raw, wait_backup_finished, wait_for
from tests.support.processes import Running, free_port, start, start_sandbox, start_serve

TOKEN = "ops-e2e-token"
BODY = {"tenant_id": "t01", "group_id": "t01-g01", "download_announcement_files": True}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Running]]:
    data_dir = tmp_path_factory.mktemp("ops") / "data"
    sandbox, pbx = start_sandbox(
        "--tenants", "1", "--groups", "2", "--users", "3", "--media-kb", "4"
    )
    serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx)
    try:
        yield base, data_dir, serve
    finally:
        serve.stop()
        sandbox.stop()


def _log_lines(serve: Running) -> list[dict[str, Any]]:
    lines = []
    for line in list(serve.lines):
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _finished(base: str, backup_id: str) -> dict[str, Any]:
    return wait_backup_finished(base, TOKEN, backup_id)


def test_request_id_reaches_the_workers_log_lines_and_the_command_is_logged_once(
    server: tuple[str, Path, Running],
) -> None:
    base, _, serve = server
    status, accepted, headers = call(
        "POST", f"{base}/api/v1/backups", TOKEN, BODY, headers={"X-Request-ID": "trace-42.a"}
    )
    assert status == 202 and headers["X-Request-ID"] == "trace-42.a"
    backup_id = accepted["id"]
    _finished(base, backup_id)

    def worker_done() -> list[dict[str, Any]]:
        return [
            e
            for e in _log_lines(serve)
            if e.get("job_id") == backup_id and e.get("event") == "backup completed"
        ]

    completed = wait_for(worker_done, timeout=10)
    assert completed[0]["request_id"] == "trace-42.a"
    commands = [e for e in _log_lines(serve) if e.get("event") == "command"]
    mine = [e for e in commands if e.get("request_id") == "trace-42.a"]
    assert len(mine) == 1
    assert mine[0]["principal"] == "admin" and mine[0]["answer_id"] == backup_id
    assert mine[0]["method"] == "POST" and mine[0]["status"] == 202
    assert TOKEN not in "".join(serve.lines)


def test_a_request_without_an_id_gets_a_fresh_one_and_refusals_carry_it(
    server: tuple[str, Path, Running],
) -> None:
    base, _, _ = server
    _, _, first = call("GET", f"{base}/api/v1/backups", TOKEN)
    _, _, second = call("GET", f"{base}/api/v1/backups", TOKEN)
    assert first["X-Request-ID"] != second["X-Request-ID"]
    status, _, refused = call(
        "GET", f"{base}/api/v1/backups", "bad", headers={"X-Request-ID": "r-1"}
    )
    assert status == 401 and refused["X-Request-ID"] == "r-1"
    _, _, odd = call("GET", f"{base}/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd["X-Request-ID"] != "bad id\twith spaces"
    # A streamed answer names it before it starts; so do the router's 404 and 405.
    status, _, streamed = call_raw(
        "GET",
        f"{base}/api/v1/events",
        TOKEN,
        headers={"Accept": "text/event-stream", "X-Request-ID": "sse-1"},
    )
    assert status == 200 and streamed["Content-Type"].startswith("text/event-stream")
    assert streamed["X-Request-ID"] == "sse-1"
    for method, path in (("GET", "/api/v1/nowhere"), ("PATCH", "/api/v1/backups")):
        status, _, routed = call(method, f"{base}{path}", TOKEN, headers={"X-Request-ID": "r-2"})
        assert status in (404, 405) and routed["X-Request-ID"] == "r-2"


def _metrics(base: str) -> dict[str, float]:
    request = urllib.request.Request(f"{base}/metrics", headers={"AuthToken": TOKEN})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_count_jobs_calls_bytes_and_waits(server: tuple[str, Path, Running]) -> None:
    base, _, _ = server
    _, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, {**BODY, "group_id": "t01-g02"})
    view = _finished(base, accepted["id"])
    metrics = _metrics(base)
    assert metrics['rewind_jobs{kind="backup",status="SUCCESS"}'] >= 1
    assert metrics['rewind_pbx_calls_total{outcome="ok"}'] >= view["successful_calls"]
    assert metrics["rewind_artifact_bytes_stored_total"] > 0
    assert metrics["rewind_read_your_writes_wait_seconds_count"] >= 1
    assert metrics['rewind_job_duration_seconds_count{kind="backup"}'] >= 1
    assert metrics["rewind_projection_lag_events"] >= 0
    assert metrics["rewind_event_log_position"] > 0
    assert "rewind_pbx_retries_total" in metrics
    assert "rewind_artifact_bytes_deduplicated_total" in metrics


def test_readyz_fails_while_the_artifact_store_cannot_be_written(
    server: tuple[str, Path, Running],
) -> None:
    base, data_dir, _ = server
    status, body, _ = call("GET", f"{base}/readyz")
    assert status == 200 and body["checks"] == {
        "event_store": "ok",
        "projection": "ok",
        "artifacts": "ok",
        "worker": "ok",
    }
    blobs = data_dir / "artifacts" / "blobs"
    aside = data_dir / "artifacts" / "blobs-aside"
    blobs.rename(aside)
    blobs.write_text("not a directory")
    try:
        status, body, _ = call("GET", f"{base}/readyz")
        assert status == 503 and body["checks"]["artifacts"].startswith("failing")
        assert call("GET", f"{base}/healthz")[0] == 200
    finally:
        blobs.unlink()
        aside.rename(blobs)
    assert call("GET", f"{base}/readyz")[0] == 200


def _sse(url: str, headers: dict[str, str] | None = None) -> list[tuple[int, str, dict[str, Any]]]:
    """Read a whole event stream: (id, event type, data) per message."""
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})}
    )
    messages: list[tuple[int, str, dict[str, Any]]] = []
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for raw in response:
            line = raw.decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    messages.append(
                        (int(fields["id"]), fields["event"], json.loads(fields["data"]))
                    )
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
    return messages


def test_a_followed_backup_stream_runs_until_the_backup_ends(
    server: tuple[str, Path, Running],
) -> None:
    base, _, _ = server
    _, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, {**BODY, "force_backup": True})
    backup_id = accepted["id"]
    messages = _sse(f"{base}/api/v1/backups/{backup_id}/events?follow=1")
    types = [m[1] for m in messages]
    assert types[0] == "Backup.Requested" and types[-1] == "Job.Completed"
    assert all(m[2]["aggregate_id"] == backup_id for m in messages)
    positions = [m[0] for m in messages]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    # Reconnecting with Last-Event-ID resumes after it: nothing twice, nothing missed.
    rest = _sse(
        f"{base}/api/v1/backups/{backup_id}/events",
        {"Accept": "text/event-stream", "Last-Event-ID": str(positions[4])},
    )
    assert [m[0] for m in rest] == positions[5:]
    _, page, _ = call("GET", f"{base}/api/v1/backups/{backup_id}/events", TOKEN)
    assert page["total"] == len(messages)


def test_the_global_feed_filters_by_kind_type_and_tenant(server: tuple[str, Path, Running]) -> None:
    base, _, _ = server
    status, page, _ = call("GET", f"{base}/api/v1/events?kind=backup&type=Backup.Requested", TOKEN)
    assert status == 200 and page["items"]
    assert {e["type"] for e in page["items"]} == {"Backup.Requested"}
    _, none, _ = call("GET", f"{base}/api/v1/events?tenant_id=t99", TOKEN)
    assert none["items"] == []
    status, body, _ = call("GET", f"{base}/api/v1/events?kind=nonsense", TOKEN)
    assert status == 400 and "kind" in body[0]
    status, body, _ = call("GET", f"{base}/api/v1/events?after={'9' * 25}", TOKEN)
    assert status == 400 and "after" in body[0]  # beyond any log position (was a 500)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("x=1", "x"),
        ("_pagesize=-5", "_pagesize"),
        ("_page=abc", "_page"),
        ("follow=2", "follow"),
        ("kind=backup&tenant=t01", "tenant"),
        ("after=-1", "after"),
    ],
)
def test_the_global_feed_refuses_unknown_and_bad_parameters(
    server: tuple[str, Path, Running], query: str, name: str
) -> None:
    """As every other list: 400 naming the parameter, never a page that ignored it (a
    misspelt filter would otherwise show every event). Streams are refused alike."""
    base, _, _ = server
    status, body, _ = call("GET", f"{base}/api/v1/events?{query}", TOKEN)
    assert status == 400 and body[0] == f"Incorrect parameters sent: {name}", body
    status, body, _ = call(
        "GET", f"{base}/api/v1/events?{query}", TOKEN, headers={"Accept": "text/event-stream"}
    )
    assert status == 400 and name in body[0], body


def test_a_worker_alone_serves_its_metrics(server: tuple[str, Path, Running]) -> None:
    _, data_dir, _ = server
    port = free_port()
    worker = start(
        [
            "worker",
            "--data-dir",
            str(data_dir),
            "--worker-id",
            "metrics-w",
            "--metrics-port",
            str(port),
        ],
        env={"REWIND_LOG_FORMAT": "json"},
    )
    try:
        worker.wait_for_line("worker metrics-w running")
        metrics = wait_for(lambda: _try_metrics(f"http://127.0.0.1:{port}"), timeout=20)
        assert 'rewind_pbx_calls_total{outcome="ok"}' in metrics
        assert "rewind_artifact_bytes_stored_total" in metrics
    finally:
        worker.stop()


def _try_metrics(base: str) -> dict[str, float] | None:
    try:
        return _metrics(base)
    except OSError:
        return None
