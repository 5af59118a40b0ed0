"""End to end: a real ``rewind serve`` backing up a real sandbox PBX over HTTP is SIGKILLed
at about half progress and restarted on the same data directory. The backup must finish, hold
exactly what an uninterrupted backup of the same data holds, and record no entity twice."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.http import call, wait_for
from tests.support.processes import rewind_history, start_sandbox, start_serve

TOKEN = "e2e-admin-token"
BODY = {"tenant_id": "t01", "group_id": "t01-g01", "download_announcement_files": True}


def _backup(base: str, backup_id: str) -> dict[str, Any]:
    status, body, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def _manifest(data_dir: Path, backup_id: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        (data_dir / "artifacts" / "manifests" / f"{backup_id}.json").read_text()
    )
    return manifest


def test_sigkill_mid_backup_then_restart_finishes_it_exactly_once(tmp_path: Path) -> None:
    sandbox, pbx = start_sandbox(
        "--tenants",
        "1",
        "--groups",
        "1",
        "--users",
        "150",
        "--latency-ms",
        "50",
        "--media-kb",
        "16",
    )
    data_dir = tmp_path / "data"
    try:
        serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx)
        try:
            status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, BODY)
            assert status == 202, accepted
            backup_id = accepted["id"]

            def half_done() -> bool:
                view = _backup(base, backup_id)
                total = view["progress"]["total"]
                return bool(total) and view["progress"]["done"] >= total // 2

            wait_for(half_done, timeout=60, interval=0.01)
        finally:
            serve.kill()
        killed_at = _backup_from_history(data_dir, backup_id)
        assert 0 < killed_at < 13 + 150 * 5, "the kill did not land mid-run"
        # What a writer killed mid-write leaves: an hours-old temporary file is removed when
        # the worker starts again; a recent one (another process may be writing it) stays.
        stale, recent = _temp_file(data_dir, "0" * 8, age_s=2 * 3600), _temp_file(data_dir, "1" * 8)

        serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx)
        try:
            wait_for(lambda: not stale.exists(), timeout=30)
            assert recent.exists()
            view = wait_for(
                lambda: (v := _backup(base, backup_id))["status"] == "SUCCESS" and v, timeout=90
            )
            assert view["progress"] == {"done": 13 + 150 * 5, "total": 13 + 150 * 5}
            assert view["has_errors"] is False

            # An uninterrupted backup of the same (unchanged) data, for comparison.
            status, again, _ = call("POST", f"{base}/api/v1/backups", TOKEN, BODY)
            assert status == 202, again
            wait_for(lambda: _backup(base, again["id"])["status"] == "SUCCESS", timeout=90)
        finally:
            serve.stop()
    finally:
        sandbox.stop()

    resumed, uninterrupted = _manifest(data_dir, backup_id), _manifest(data_dir, again["id"])
    assert resumed["entities"] == uninterrupted["entities"]
    assert resumed["files"] == uninterrupted["files"]
    assert len(resumed["entities"]) == 13 + 150 * 5

    history = rewind_history(data_dir, backup_id)
    recorded = Counter(
        e["payload"]["key"]
        for e in history
        if e["type"] in ("Job.EntitySucceeded", "Job.EntityFailed", "Job.EntityIgnored")
    )
    assert recorded and max(recorded.values()) == 1, "an entity was recorded twice"
    assert [e["type"] for e in history].count("Job.Resumed") == 1


def _temp_file(data_dir: Path, tag: str, age_s: float = 0) -> Path:
    """A temporary file as the artifact store names them, in a blob shard, ``age_s`` old."""
    path = data_dir / "artifacts" / "blobs" / "ab" / f".tmp-{tag}.{os.getpid()}.part"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x28\xb5\x2f\xfd cut off")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def _backup_from_history(data_dir: Path, backup_id: str) -> int:
    """How many entities were recorded before the kill (read from the log on disk)."""
    history = rewind_history(data_dir, backup_id)
    return sum(1 for e in history if e["type"].startswith("Job.Entity"))


def test_a_separate_worker_process_runs_what_an_api_only_server_accepts(tmp_path: Path) -> None:
    """`rewind serve --no-worker` accepts; `rewind worker` on the same data runs it."""
    from tests.support.processes import start

    sandbox, pbx = start_sandbox("--tenants", "1", "--groups", "1", "--users", "5")
    data_dir = tmp_path / "data"
    try:
        serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx, "--no-worker")
        try:
            status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, BODY)
            assert status == 202
            assert _backup(base, accepted["id"])["status"] == "INITIALIZING"
            worker = start(["worker", "--data-dir", str(data_dir), "--worker-id", "w-e2e"])
            try:
                worker.wait_for_line("worker w-e2e running")
                view = wait_for(
                    lambda: (v := _backup(base, accepted["id"]))["status"] == "SUCCESS" and v,
                    timeout=60,
                )
                assert view["progress"]["done"] == 13 + 5 * 5
            finally:
                worker.stop()
        finally:
            serve.stop()
    finally:
        sandbox.stop()
    claims = [e for e in rewind_history(data_dir, accepted["id"]) if e["type"] == "Job.Claimed"]
    assert [c["payload"]["worker_id"] for c in claims] == ["w-e2e"]
