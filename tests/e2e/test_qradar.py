"""End to end: the QRadar dialect (seed 001) against a real ``rewind serve`` backing up a real
sandbox PBX process (with latency, so that backups and restores run long enough to be seen
running). Every documented refusal is provoked by a request and checked for its status, its
unique code and its documented message; the messages are written out here, independently of
the code, so a changed wording fails."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import Running, start_sandbox, start_serve

TOKEN = "qradar-e2e-token"
BACKUPS = "/api/backup_and_restore/backups"
HOSTS = "/api/config/deployment/hosts"
ACTIVE = ("INITIALIZING", "IN_PROGRESS", "CANCELLING", "DELETING")
DOCUMENTED_FIELDS = [
    "id", "configuration_id", "host_id", "name", "description", "type", "version",
    "time_initiated", "time_completed", "initiated_by", "status", "size_on_disk",
    "content_file_path", "is_valid", "is_version_compatible",
]  # fmt: skip
FIELDS = [*DOCUMENTED_FIELDS, "has_errors"]
"""The document's fields, then Rewind's one addition: SUCCESS with failed calls."""
MESSAGES = {
    1000: "An error occurred during the attempt to create the backup.",
    1001: "The backup does not exist.",
    1002: "The 'name' parameter value cannot be null or empty.",
    1003: "The 'name' parameter value must not exceed 100 characters.",
    1004: "The 'name' parameter must contain only alphanumerics and '_', '-' or '.'.",
    1005: "The 'name' parameter value must be unique.",
    1006: "The 'configuration_id' parameter value cannot be null or empty.",
    1007: "The backup configuration does not exist.",
    1008: "The 'description' parameter value must not exceed 255 characters.",
    1009: "The backup host does not exist.",
    1010: "The provided host_id corresponds to a host that is currently not active. For more "
    "information, see the following Hosts API: api/config/deployment/hosts",
    1011: "An undeployed configuration change has been detected. Deploy staged changes then try "
    "again.",
    1012: "The provided host_id corresponds to a host that is not the console and the backup "
    "type is CONFIG. A config backup can only take place on the console.",
    1013: "Data backups can only be done on hosts that store ariel data. For more information, "
    "see the following Hosts API: api/config/deployment/hosts",
    1014: "The host is not configured for data backups. See the Backup Configuration API for "
    "more information: api/config/backup_and_restore/scheduled_backup_configurations",
    1015: "A backup is already in progress on the host.",
    1016: "A restore is currently in progress. No new backup or restore processes can be "
    "initiated while the current process is running.",
    1017: "Backups can be deleted only in the following states: INITIALIZING, IN_PROGRESS, "
    "FAILED, SUCCESS, MISSING.",
}
REASONS = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity",
           500: "Internal Server Error"}  # fmt: skip


class Server:
    def __init__(self, base: str, data_dir: Path, pbx: str) -> None:
        self.base = base
        self.data_dir = data_dir
        self.pbx = pbx

    def post(
        self, body: Any, kind: str | None = "CONFIG", headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        sent = dict(headers or {})
        if kind is not None:
            sent["backup_type"] = kind
        return call("POST", self.base + BACKUPS, TOKEN, body, sent)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        return call("GET", self.base + path, TOKEN, headers=headers)

    def backups(self) -> list[dict[str, Any]]:
        status, items, _ = self.get(BACKUPS)
        assert status == 200
        result: list[dict[str, Any]] = items
        return result

    def host_long(self, rewind_host_id: str) -> int:
        _, hosts, _ = self.get(HOSTS)
        (found,) = [h["id"] for h in hosts if h["rewind_host_id"] == rewind_host_id]
        assert isinstance(found, int)
        return found

    def add_host(self, host_id: str, **flags: bool) -> int:
        body = {"id": host_id, "name": host_id, "base_url": self.pbx, **flags}
        status, _, _ = call("POST", f"{self.base}/api/v1/hosts", TOKEN, body)
        assert status == 201
        return self.host_long(host_id)

    def finished(self, backup_id: int) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            status, view, _ = self.get(f"{BACKUPS}/{backup_id}")
            assert status == 200, view
            return view if view["status"] not in ACTIVE else None

        result: dict[str, Any] = wait_for(done, timeout=90)
        return result

    def wait_idle(self) -> None:
        """No backup left running (each test starts from an idle host)."""
        wait_for(lambda: all(b["status"] not in ACTIVE for b in self.backups()), timeout=90)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    sandbox, pbx = start_sandbox(
        "--tenants", "1", "--groups", "2", "--users", "3", "--latency-ms", "250"
    )
    data_dir = tmp_path_factory.mktemp("qradar") / "data"
    serve: Running | None = None
    try:
        serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx)
        register_document(base, TOKEN)
        yield Server(base, data_dir, pbx)
    finally:
        if serve is not None:
            serve.stop()
        sandbox.stop()


def assert_error(answer: tuple[int, Any, dict[str, str]], status: int, code: int) -> None:
    got, body, _ = answer
    assert got == status, body
    assert body["http_response"] == {"code": status, "message": REASONS[status]}
    assert body["code"] == code, body
    if code in MESSAGES:
        assert body["message"] == MESSAGES[code]
    assert isinstance(body["description"], str) and body["description"]
    assert isinstance(body["details"], dict)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_create_answers_201_with_every_documented_field(server: Server) -> None:
    before = now_ms()
    status, backup, _ = server.post(
        {"name": "nightly", "description": "nightly_backup", "configuration_id": 1,
         "colour": "ignored, as the document says"}
    )  # fmt: skip
    after = now_ms()
    assert status == 201, backup
    assert list(backup) == FIELDS
    assert isinstance(backup["id"], int) and not isinstance(backup["id"], bool)
    assert 0 < backup["id"] < 2**53
    assert backup["configuration_id"] == 1
    assert backup["host_id"] == server.host_long("default")
    assert backup["name"] == "nightly" and backup["description"] == "nightly_backup"
    assert backup["type"] == "CONFIG"
    assert isinstance(backup["version"], str) and backup["version"]
    assert isinstance(backup["time_initiated"], int)
    assert before - 1000 <= backup["time_initiated"] <= after + 1000
    assert backup["time_completed"] is None
    assert backup["initiated_by"] == "admin"
    assert backup["status"] in ("INITIALIZING", "IN_PROGRESS")
    assert backup["size_on_disk"] == 0 and backup["content_file_path"] is None
    assert backup["is_valid"] is False and backup["is_version_compatible"] is True

    done = server.finished(backup["id"])
    assert done["status"] == "SUCCESS"
    assert list(done) == FIELDS
    assert isinstance(done["time_completed"], int)
    assert done["time_initiated"] == backup["time_initiated"]
    assert backup["time_initiated"] <= done["time_completed"] <= now_ms() + 1000
    assert isinstance(done["size_on_disk"], int) and done["size_on_disk"] > 0
    assert isinstance(done["content_file_path"], str)
    assert Path(done["content_file_path"]).is_file()
    assert done["is_valid"] is True and done["is_version_compatible"] is True
    assert done["has_errors"] is False


def test_name_must_be_unique(server: Server) -> None:
    server.wait_idle()
    assert_error(server.post({"name": "nightly", "configuration_id": 1}), 409, 1005)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"configuration_id": 1}, 1002),
        ({"name": None, "configuration_id": 1}, 1002),
        ({"name": "", "configuration_id": 1}, 1002),
        ({"name": "   ", "configuration_id": 1}, 1002),
        ({"name": "n" * 101, "configuration_id": 1}, 1003),
        ({"name": "bad name", "configuration_id": 1}, 1004),
        ({"name": "semi;colon", "configuration_id": 1}, 1004),
        ({"name": "ok"}, 1006),
        ({"name": "ok", "configuration_id": None}, 1006),
        ({"name": "ok", "configuration_id": ""}, 1006),
        ({"name": "ok", "configuration_id": 999}, 1007),
        ({"name": "ok", "configuration_id": 1, "description": "d" * 256}, 1008),
        ({"name": "ok", "configuration_id": 1, "host_id": 1}, 1009),
    ],
)
def test_invalid_requests_answer_422_with_their_code(
    server: Server, body: dict[str, Any], code: int
) -> None:
    count = len(server.backups())
    assert_error(server.post(body), 422, code)
    assert len(server.backups()) == count, "a refused request created a backup"


@pytest.mark.parametrize(
    ("body", "kind", "field"),
    [
        ({"name": "ok", "configuration_id": 1}, None, "backup_type"),
        ({"name": "ok", "configuration_id": 1}, "FULL", "backup_type"),
        ({"name": 12, "configuration_id": 1}, "CONFIG", "name"),
        ({"name": "ok", "configuration_id": "one"}, "CONFIG", "configuration_id"),
        ({"name": "ok", "configuration_id": 1, "host_id": True}, "CONFIG", "host_id"),
    ],
)
def test_malformed_requests_answer_400_naming_the_field(
    server: Server, body: dict[str, Any], kind: str | None, field: str
) -> None:
    answer = server.post(body, kind)
    assert_error(answer, 400, 2007)
    assert answer[1]["details"] == {"field": field}


def test_host_flags_refuse_backups_with_their_codes(server: Server) -> None:
    inactive = server.add_host("inactive", active=False)
    satellite = server.add_host("satellite", is_console=False)
    no_data = server.add_host("no-data", stores_data=False)
    unconfigured = server.add_host("unconfigured", data_backups_configured=False)
    count = len(server.backups())
    body = {"name": "flagged", "configuration_id": 1}
    assert_error(server.post({**body, "host_id": inactive}, "CONFIG"), 422, 1010)
    assert_error(server.post({**body, "host_id": inactive}, "DATA"), 422, 1010)
    assert_error(server.post({**body, "host_id": satellite}, "CONFIG"), 422, 1012)
    assert_error(server.post({**body, "host_id": no_data}, "DATA"), 422, 1013)
    assert_error(server.post({**body, "host_id": unconfigured}, "DATA"), 422, 1014)
    assert len(server.backups()) == count

    # The same hosts take the backups their flags allow (ids given as strings work too).
    status, data, _ = server.post({**body, "host_id": str(satellite)}, "DATA")
    assert status == 201, data
    assert data["type"] == "DATA" and data["host_id"] == satellite
    name100 = "n" * 100
    status, config, _ = server.post({"name": name100, "configuration_id": 1, "host_id": no_data})
    assert status == 201 and config["name"] == name100 and config["host_id"] == no_data
    assert server.finished(data["id"])["status"] == "SUCCESS"
    assert server.finished(config["id"])["status"] == "SUCCESS"


def test_fields_selects_what_comes_back(server: Server) -> None:
    server.wait_idle()
    status, created, _ = server.post(
        {"name": "selected", "configuration_id": 1}, headers={"fields": "id, name,status"}
    )
    assert status == 201
    assert set(created) == {"id", "name", "status"} and created["name"] == "selected"
    status, one, _ = server.get(f"{BACKUPS}/{created['id']}?fields=name,type")
    assert status == 200 and one == {"name": "selected", "type": "CONFIG"}
    status, listed, _ = server.get(BACKUPS, headers={"fields": "id"})
    assert status == 200 and listed and all(list(item) == ["id"] for item in listed)
    assert created["id"] in [item["id"] for item in listed]
    server.finished(created["id"])

    count = len(server.backups())
    answer = server.post({"name": "typo", "configuration_id": 1}, headers={"fields": "id,nmae"})
    assert_error(answer, 400, 2007)
    assert "nmae" in answer[1]["description"] and answer[1]["details"] == {"field": "fields"}
    assert_error(server.get(f"{BACKUPS}?fields=id(x)"), 400, 2007)
    assert_error(server.get(f"{BACKUPS}?fields=id,"), 400, 2007)
    assert len(server.backups()) == count, "a request with bad fields created a backup"


def test_list_pages_with_range(server: Server) -> None:
    everything = server.backups()
    total = len(everything)
    assert total >= 3
    status, first, headers = server.get(BACKUPS, headers={"Range": "items=0-0"})
    assert status == 200 and first == everything[:1]
    assert headers["Content-Range"] == f"items 0-0/{total}"
    status, middle, headers = server.get(BACKUPS, headers={"Range": "items=1-2"})
    assert middle == everything[1:3] and headers["Content-Range"] == f"items 1-2/{total}"
    status, past, headers = server.get(BACKUPS, headers={"Range": f"items={total}-{total + 9}"})
    assert status == 200 and past == [] and headers["Content-Range"] == f"items */{total}"
    huge = "9" * 30  # beyond any database integer: still just a window
    status, rest, headers = server.get(BACKUPS, headers={"Range": f"items=1-{huge}"})
    assert status == 200 and rest == everything[1:]
    assert headers["Content-Range"] == f"items 1-{total - 1}/{total}"
    status, past, headers = server.get(BACKUPS, headers={"Range": f"items={huge}-{huge}"})
    assert status == 200 and past == [] and headers["Content-Range"] == f"items */{total}"
    assert_error(server.get(BACKUPS, headers={"Range": "bytes=0-10"}), 400, 2007)
    assert_error(server.get(BACKUPS, headers={"Range": "items=5-1"}), 400, 2007)


def test_one_backup_at_a_time_and_deleting_a_running_one_cancels_it(server: Server) -> None:
    server.wait_idle()
    status, running, _ = server.post({"name": "long-one", "configuration_id": 1})
    assert status == 201
    assert_error(server.post({"name": "second-one", "configuration_id": 1}), 409, 1015)

    status, deleted, _ = call("DELETE", f"{server.base}{BACKUPS}/{running['id']}", TOKEN)
    assert status == 202, deleted
    assert list(deleted) == FIELDS
    assert deleted["id"] == running["id"] and deleted["status"] == "CANCELLING"
    again = call("DELETE", f"{server.base}{BACKUPS}/{running['id']}", TOKEN)
    if again[0] != 404:  # unless the worker already stopped and purged it
        assert_error(again, 422, 1017)

    def gone() -> bool:
        return server.get(f"{BACKUPS}/{running['id']}")[0] == 404

    wait_for(gone, timeout=60)
    assert_error(server.get(f"{BACKUPS}/{running['id']}"), 404, 1001)
    assert running["id"] not in [b["id"] for b in server.backups()]
    # The name is free again once the backup is gone.
    status, reused, _ = server.post({"name": "long-one", "configuration_id": 1})
    assert status == 201, reused
    server.finished(reused["id"])


def test_deleting_a_finished_backup(server: Server) -> None:
    server.wait_idle()
    (nightly,) = [b for b in server.backups() if b["name"] == "nightly"]
    status, deleted, _ = call(
        "DELETE", f"{server.base}{BACKUPS}/{nightly['id']}", TOKEN, headers={"fields": "status"}
    )
    assert status == 202 and deleted == {"status": "DELETING"}
    wait_for(lambda: server.get(f"{BACKUPS}/{nightly['id']}")[0] == 404, timeout=60)
    assert_error(call("DELETE", f"{server.base}{BACKUPS}/{nightly['id']}", TOKEN), 404, 1001)


@pytest.mark.parametrize("backup_id", ["12345", "abc", str(2**60), "-1", "%C2%B2"])
def test_unknown_ids_answer_404_1001(server: Server, backup_id: str) -> None:
    assert_error(server.get(f"{BACKUPS}/{backup_id}"), 404, 1001)
    assert_error(call("DELETE", f"{server.base}{BACKUPS}/{backup_id}", TOKEN), 404, 1001)


def test_refusals_before_the_handler_keep_the_dialect_shape(server: Server) -> None:
    """An absurdly long id, a missing token and a wrong one are refused by the middlewares,
    still in QRadar's error shape."""
    status, body, _ = server.get(f"{BACKUPS}/{'9' * 5000}")
    assert status == 400 and body["code"] == 2007 and body["http_response"]["code"] == 400
    status, body, _ = call("GET", f"{server.base}{BACKUPS}", None)
    assert status == 401 and body["http_response"] == {"code": 401, "message": "Unauthorized"}
    status, body, _ = call("GET", f"{server.base}{BACKUPS}", "not-a-token")
    assert status == 401 and isinstance(body["description"], str)


def test_no_backup_while_a_restore_runs(server: Server) -> None:
    server.wait_idle()
    body = {"tenant_id": "t01", "group_id": "t01-g01"}
    status, source, _ = call("POST", f"{server.base}/api/v1/backups", TOKEN, body)
    assert status == 202
    wait_for(
        lambda: server.get(f"/api/v1/backups/{source['id']}")[1]["status"] == "SUCCESS",
        timeout=60,
    )
    status, restore, _ = call(
        "POST",
        f"{server.base}/api/v1/restores",
        TOKEN,
        {"backup_id": source["id"], "safety_backup": False},
    )
    assert status == 202, restore
    try:
        answer = server.post({"name": "during-restore", "configuration_id": 1})
        assert_error(answer, 409, 1016)
    finally:
        call("POST", f"{server.base}/api/v1/restores/{restore['id']}/cancel", TOKEN)
        wait_for(
            lambda: (
                server.get(f"/api/v1/restores/{restore['id']}")[1]["status"]
                in ("SUCCESS", "FAILED")
            ),
            timeout=60,
        )


def test_a_plan_with_undeployed_changes_is_refused_until_deployed(server: Server) -> None:
    """Plan 2 (one group) gets a staged edit: the create is refused with 1011 until the edit
    is deployed, then runs the deployed version."""
    server.wait_idle()
    plans = f"{server.base}/api/v1/plans"
    body = {"name": "one group", "tenant_id": "t01", "group_id": "t01-g02"}
    status, plan, _ = call("POST", plans, TOKEN, body)
    assert status == 201, plan
    status, staged, _ = call("PUT", f"{plans}/{plan['id']}", TOKEN, {"user": ["voice_mail"]})
    assert status == 200, staged
    count = len(server.backups())
    create = {"name": "from-plan", "configuration_id": plan["id"]}
    assert_error(server.post(create), 409, 1011)
    assert len(server.backups()) == count
    status, deployed, _ = call("POST", f"{plans}/{plan['id']}/deploy", TOKEN)
    assert status == 200, deployed
    status, created, _ = server.post(create)
    assert status == 201, created
    assert created["configuration_id"] == plan["id"]
    assert server.finished(created["id"])["status"] == "SUCCESS"
    _, native, _ = server.get("/api/v1/backups?tenant_id=t01&group_id=t01-g02&_pagesize=1")
    (latest,) = native["items"]
    assert latest["name"] == "from-plan"
    assert latest["progress"]["total"] == 13 + 3  # every group entity, voice_mail of 3 users


def test_an_unwritable_event_store_answers_500_1000(server: Server) -> None:
    """The event store really refuses the write: a trigger on its table (added by another
    connection, as an operator or a broken disk could) fails every insert."""
    server.wait_idle()
    events = server.data_dir / "events.sqlite"
    with sqlite3.connect(events) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_writes BEFORE INSERT ON stored_events "
            "BEGIN INSERT INTO no_such_table VALUES (1); END"
        )
    try:
        assert_error(server.post({"name": "unwritable", "configuration_id": 1}), 500, 1000)
    finally:
        with sqlite3.connect(events) as conn:
            conn.execute("DROP TRIGGER refuse_writes")
    status, created, _ = server.post({"name": "unwritable", "configuration_id": 1})
    assert status == 201, created
    server.finished(created["id"])


def test_ids_are_the_same_in_another_server_process(tmp_path: Path, server: Server) -> None:
    """The Long ids are a function of the stored UUIDs: a second server process on the same
    data finds the same backups and hosts under the same numbers."""
    server.wait_idle()
    listed = {b["id"]: b for b in server.backups()}
    _, hosts, _ = server.get(HOSTS)
    serve, base = start_serve(server.data_dir, TOKEN, "--no-worker")
    try:
        register_document(base, TOKEN)
        for backup_id, backup in listed.items():
            status, again, _ = call("GET", f"{base}{BACKUPS}/{backup_id}", TOKEN)
            assert status == 200 and again == backup
        assert call("GET", f"{base}{HOSTS}", TOKEN)[1] == hosts
    finally:
        serve.stop()
