"""Secrets never leave: a full backup and restore of a PBX that demands credentials, driven
through real ``rewind sandbox`` and ``rewind serve`` processes with a known PBX credential
and known tokens; then every log line both processes wrote and every response body the
test received (but the one that issued a token, which shows it once by design) are searched
for the credential, its password, its Basic header value and the tokens."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from domain.host import host_uuid
from tests.support.http import call, wait_finished, wait_for
from tests.support.processes import Running, free_port, rewind_history, start, start_serve

ADMIN = "secrets-admin-token-0123456789abcdef"
PASSWORD = "Pbx-Pa55word-7f3c9e21"
CREDENTIALS = f"rewind-backup:{PASSWORD}"
GROUP = {"tenant_id": "t01", "group_id": "t01-g01", "host_id": "pbx1"}


@dataclass
class Session:
    base: str
    serve: Running
    sandbox: Running
    sandbox_url: str
    data_dir: Path
    bodies: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, token: str = ADMIN) -> Any:
        status, answer, _ = call(method, self.base + path, token, body)
        self.bodies.append(f"{method} {path} -> {status} {answer!r}")
        return status, answer

    def finished(self, kind: str, job_id: str) -> dict[str, Any]:
        view = wait_finished(self.base, kind, job_id, ADMIN)
        self.bodies.append(f"GET /api/v1/{kind}/{job_id} -> {view!r}")
        return view


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    port = free_port()
    sandbox = start(
        ["sandbox", "--port", str(port)],
        env={"REWIND_SANDBOX_CREDENTIALS": CREDENTIALS, "REWIND_LOG_FORMAT": "json"},
    )
    sandbox.wait_for_line("sandbox PBX listening on")
    data_dir = tmp_path_factory.mktemp("secrets") / "data"
    serve, base = start_serve(data_dir, ADMIN)
    try:
        yield Session(base, serve, sandbox, f"http://127.0.0.1:{port}", data_dir)
    finally:
        serve.stop()
        sandbox.stop()


def test_the_sandbox_refuses_calls_without_the_credentials(session: Session) -> None:
    status, _, _ = call("GET", f"{session.sandbox_url}/1.0/tenants/")
    assert status == 401


def test_backup_and_restore_with_credentials_leak_nothing(session: Session) -> None:
    # A bad registration echoes neither the credential nor anything but the field names.
    bad = {"name": "pbx1", "base_url": "not a url", "credentials": CREDENTIALS, "x": PASSWORD}
    status, answer = session.call("POST", "/api/v1/hosts", bad)
    assert status == 400 and "base_url" in answer[0] and "x" in answer[0]

    host = {"id": "pbx1", "name": "pbx1", "base_url": session.sandbox_url}
    status, answer = session.call("POST", "/api/v1/hosts", {**host, "credentials": CREDENTIALS})
    assert status == 201 and answer["has_credentials"] is True

    body = {**GROUP, "download_announcement_files": True}
    status, accepted = session.call("POST", "/api/v1/backups", body)
    assert status == 202, accepted
    backup = session.finished("backups", accepted["id"])
    # Every call succeeded: the worker authenticated to the PBX with the unsealed credential.
    assert backup["status"] == "SUCCESS" and backup["error_calls"] == 0, backup

    status, diff = session.call(
        "POST", "/api/v1/restores", {"backup_id": backup["id"], "dry_run": True}
    )
    assert status == 200, diff
    status, accepted = session.call("POST", "/api/v1/restores", {"backup_id": backup["id"]})
    assert status == 202, accepted
    restore = session.finished("restores", accepted["id"])
    assert restore["status"] == "SUCCESS" and restore["error_calls"] == 0, restore
    safety = session.finished("backups", restore["safety_backup_id"])
    assert safety["error_calls"] == 0

    status, issued, _ = call(
        "POST", f"{session.base}/api/v1/tokens", ADMIN, {"name": "reader", "role": "viewer"}
    )
    assert status == 201  # its body shows the secret once, by design: not collected
    reader = issued["token"]
    for token in (ADMIN, reader):
        for path in (
            "/api/v1/hosts",
            "/api/v1/tokens",
            "/api/v1/backups",
            f"/api/v1/backups/{backup['id']}",
            f"/api/v1/backups/{backup['id']}/events",
            f"/api/v1/backups/{backup['id']}/report?type=full",
            f"/api/v1/backups/{restore['safety_backup_id']}/events",
            "/api/v1/restores",
            f"/api/v1/restores/{restore['id']}",
        ):
            session.call("GET", path, token=token)
    session.call("GET", "/api/v1/backups", token=PASSWORD)  # a secret sent as a token: 401

    secrets = {
        "PBX credential": CREDENTIALS,
        "PBX password": PASSWORD,
        "Basic header": base64.b64encode(CREDENTIALS.encode()).decode(),
        "admin token": ADMIN,
        "issued token": reader,
        "admin token hash": hashlib.sha256(ADMIN.encode()).hexdigest(),
    }
    logs = session.serve.lines + session.sandbox.lines
    assert len(logs) > 3 and len(session.bodies) > 20
    for what, secret in secrets.items():
        assert not [line for line in logs if secret in line], f"{what} in a log line"
        assert not [b for b in session.bodies if secret in b], f"{what} in a response"


def test_history_redacts_sealed_credentials(session: Session) -> None:
    """The host's audit trail (``rewind history``) records that it has credentials, never
    their sealed form (Fernet tokens start with gAAAA)."""
    wait_for(lambda: session.call("GET", "/api/v1/hosts")[1]["total"] == 1, timeout=10)
    events = rewind_history(session.data_dir, str(host_uuid("pbx1")))
    assert events and events[0]["payload"]["settings"]["sealed_credentials"] == "<redacted>"
    assert "gAAAA" not in str(events) and PASSWORD not in str(events)


def test_credentials_in_a_host_url_are_sealed_not_recorded_nor_echoed(session: Session) -> None:
    """``http://user:password@pbx`` registers the host with those credentials sealed and the
    URL without them: the answer, the host list, the host's history and the event store
    itself never hold the password, and backups sign in with it."""
    port = session.sandbox_url.rsplit(":", 1)[1]
    url = f"http://{CREDENTIALS}@127.0.0.1:{port}"
    differing = {"id": "pbx3", "name": "pbx3", "base_url": url, "credentials": "x:other"}
    status, answer = session.call("POST", "/api/v1/hosts", differing)
    assert status == 400 and "credentials" in answer[0], answer
    # Refused, nothing recorded: the same id registers next.
    status, answer = session.call("POST", "/api/v1/hosts", {**differing, "credentials": None})
    assert status == 201, answer
    assert answer["base_url"] == session.sandbox_url and answer["has_credentials"] is True
    same = {"id": "pbx4", "name": "pbx4", "base_url": url, "credentials": CREDENTIALS}
    status, answer = session.call("POST", "/api/v1/hosts", same)
    assert status == 201 and answer["base_url"] == session.sandbox_url, answer
    status, hosts = session.call("GET", "/api/v1/hosts")
    shown = {h["id"]: h["base_url"] for h in hosts["items"]}
    assert shown["pbx3"] == shown["pbx4"] == session.sandbox_url

    body = {**GROUP, "host_id": "pbx3"}
    status, accepted = session.call("POST", "/api/v1/backups", body)
    assert status == 202, accepted
    backup = session.finished("backups", accepted["id"])
    assert backup["status"] == "SUCCESS" and backup["error_calls"] == 0, backup

    history = rewind_history(session.data_dir, str(host_uuid("pbx3")))
    assert history[0]["payload"]["settings"]["base_url"] == session.sandbox_url
    session.bodies.append(str(history))
    assert not [b for b in session.bodies if PASSWORD in b]
    assert not [line for line in session.serve.lines if PASSWORD in line]
    stored = session.data_dir.glob("events.sqlite*")
    assert not [p.name for p in stored if PASSWORD.encode() in p.read_bytes()]


def test_credentials_in_the_pbx_flag_are_sealed_too(
    session: Session, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``rewind serve --pbx http://user:password@pbx`` registers the default host the same
    way: the URL without user info, the credentials sealed, kept across restarts."""
    port = session.sandbox_url.rsplit(":", 1)[1]
    data_dir = tmp_path_factory.mktemp("pbx-flag") / "data"
    url = f"http://{CREDENTIALS}@127.0.0.1:{port}"
    for _ in range(2):  # the second start finds the host as the first left it
        serve, base = start_serve(data_dir, ADMIN, "--pbx", url)
        try:
            status, hosts, _ = call("GET", f"{base}/api/v1/hosts", ADMIN)
            assert status == 200
            [host] = hosts["items"]
            assert host["base_url"] == session.sandbox_url and host["has_credentials"] is True
            body = {"tenant_id": "t01", "group_id": "t01-g01"}
            status, accepted, _ = call("POST", f"{base}/api/v1/backups", ADMIN, body)
            assert status == 202, accepted
            backup = wait_finished(base, "backups", accepted["id"], ADMIN)
            assert backup["status"] == "SUCCESS" and backup["error_calls"] == 0, backup
        finally:
            serve.stop()
        assert not [line for line in serve.lines if PASSWORD in line]
    history = rewind_history(data_dir, str(host_uuid("default")))
    assert [e["type"] for e in history] == ["Host.Registered"], "nothing to change on restart"
    stored = data_dir.glob("events.sqlite*")
    assert not [p.name for p in stored if PASSWORD.encode() in p.read_bytes()]
