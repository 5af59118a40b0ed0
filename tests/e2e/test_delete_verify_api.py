"""End to end: DELETE and verify over HTTP against real ``rewind serve`` processes (the
demo sandbox, and a slow stand-alone sandbox for deleting a running backup). The audit trail
is read with ``rewind history`` as an operator would, after the backup left the views."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import wait_finished, wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import rewind_history, start_sandbox, start_serve

TOKEN = "delete-verify-e2e-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("delete-verify") / "data"
    serve, base = start_serve(data_dir, TOKEN, "--demo")
    try:
        register_document(base, TOKEN)
        yield base, data_dir
    finally:
        serve.stop()


def _backed_up(base: str, body: dict[str, Any]) -> dict[str, Any]:
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202, accepted
    view = wait_finished(base, "backups", accepted["id"], TOKEN)
    assert view["status"] == "SUCCESS", view
    return view


def _gone(base: str, backup_id: str) -> bool:
    return call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)[0] == 404


def test_delete_of_a_finished_backup_purges_it_and_keeps_its_history(
    server: tuple[str, Path],
) -> None:
    base, data_dir = server
    view = _backed_up(base, {"tenant_id": "t01", "group_id": "t01-g02"})
    assert view["is_version_compatible"] is True
    url = f"{base}/api/v1/backups/{view['reference_id']}"  # the reference id works too

    status, body, _ = call("DELETE", url, TOKEN)
    assert status == 202 and body == {"id": view["id"], "status": "DELETING"}
    repeated, again, _ = call("DELETE", f"{base}/api/v1/backups/{view['id']}", TOKEN)
    assert repeated in (202, 404), again  # 404 once the worker has already purged it
    wait_for(lambda: _gone(base, view["id"]), timeout=30)

    assert call("DELETE", f"{base}/api/v1/backups/{view['id']}", TOKEN)[0] == 404
    assert call("POST", f"{base}/api/v1/backups/{view['id']}/verify", TOKEN)[0] == 404
    assert not (data_dir / "artifacts" / "manifests" / f"{view['id']}.json").exists()
    types = [e["type"] for e in rewind_history(data_dir, view["id"])]
    assert types[0] == "Backup.Requested" and "Job.Completed" in types
    assert types[-2:] == ["Backup.DeleteRequested", "Backup.Purged"]
    assert types.count("Backup.DeleteRequested") == 1  # the repeat appended nothing


def test_delete_of_an_unknown_backup_is_404(server: tuple[str, Path]) -> None:
    base, _ = server
    unknown = "00000000-0000-4000-8000-000000000000"
    status, body, _ = call("DELETE", f"{base}/api/v1/backups/{unknown}", TOKEN)
    assert status == 404 and isinstance(body, list)


def test_verify_reports_intact_then_missing_after_a_blob_is_deleted(
    server: tuple[str, Path],
) -> None:
    base, data_dir = server
    view = _backed_up(
        base, {"tenant_id": "t02", "group_id": "t02-g01", "download_announcement_files": True}
    )
    verify_url = f"{base}/api/v1/backups/{view['id']}/verify"

    status, result, _ = call("POST", verify_url, TOKEN)
    assert status == 200, result
    assert result["status"] == "SUCCESS" and result["is_valid"] is True
    assert result["checked"] > 0 and result["missing"] == result["corrupt"] == 0
    assert result["reason"] is None

    manifest = json.loads((data_dir / "artifacts" / "manifests" / f"{view['id']}.json").read_text())
    digest = sorted(manifest["files"].values())[0]
    (data_dir / "artifacts" / "blobs" / digest[:2] / f"{digest}.zst").unlink()

    status, result, _ = call("POST", verify_url, TOKEN)
    assert status == 200, result
    assert result["status"] == "MISSING" and result["is_valid"] is False
    assert result["missing"] == 1 and digest in result["reason"]
    status, now, _ = call("GET", f"{base}/api/v1/backups/{view['id']}", TOKEN)
    assert status == 200
    assert now["status"] == "MISSING" and now["is_valid"] is False
    assert now["is_version_compatible"] is True
    events = rewind_history(data_dir, view["id"])
    assert events[-1]["type"] == "Backup.MarkedMissing" and events[-1]["principal"] == "admin"

    # A MISSING backup can still be deleted.
    status, body, _ = call("DELETE", f"{base}/api/v1/backups/{view['id']}", TOKEN)
    assert status == 202 and body["status"] == "DELETING"
    wait_for(lambda: _gone(base, view["id"]), timeout=30)


def test_delete_of_a_running_backup_cancels_then_purges(tmp_path: Path) -> None:
    sandbox, pbx = start_sandbox(
        "--tenants", "1", "--groups", "1", "--users", "60", "--latency-ms", "100"
    )
    data_dir = tmp_path / "data"
    try:
        serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx)
        try:
            register_document(base, TOKEN)
            body = {"tenant_id": "t01", "group_id": "t01-g01"}
            status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
            assert status == 202
            backup_id = accepted["id"]
            status, deleting, _ = call("DELETE", f"{base}/api/v1/backups/{backup_id}", TOKEN)
            assert status == 202 and deleting == {"id": backup_id, "status": "CANCELLING"}
            wait_for(lambda: _gone(base, backup_id), timeout=60)
            types = [e["type"] for e in rewind_history(data_dir, backup_id)]
            assert "Job.Completed" not in types
            assert types[-3:] == [
                "Backup.DeleteRequested",
                "Backup.DeleteAcknowledged",
                "Backup.Purged",
            ]
        finally:
            serve.stop()
    finally:
        sandbox.stop()
