"""End to end: seed 000's APIO group backup API walked as a client would, against real
``rewind serve`` processes: ``--demo`` for start / poll / list / retrieve / builds / errors,
and ``--pbx`` on a slow ``rewind sandbox`` to catch backups running (409, force, stop)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.renderers import parse_xml, render_json
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES
from tests.support.http import call_raw, wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import start_sandbox, start_serve

TOKEN = "apio-e2e-token"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
DEMO_USERS = 10
MAIN_FIELDS = {
    "tenant_id": str,
    "group_id": str,
    "user_id": str,
    "sw_version": str,
    "successful_calls": int,
    "error_calls": int,
    "has_errors": bool,
}


def batch(base: str, tenant: str = "t01", group: str = "t01-g01") -> str:
    return f"{base}/api/v1/tenants/{tenant}/groups/{group}/batch"


def raw_call(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """Like tests.support.http.call, but the answer stays bytes (XML answers)."""
    return call_raw(method, url, TOKEN, body, headers, raw)


def apio(method: str, url: str, body: Any = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
    return call(method, url, TOKEN, body, **kw)


def start(url: str, body: Any = None, method: str = "POST", query: str = "") -> str:
    status, answer, _ = apio(method, f"{url}/backup/start/{query}", body)
    assert status == 202, answer
    assert set(answer) == {"status", "reference_id"} and answer["status"] == "started"
    assert isinstance(answer["reference_id"], str)
    reference_id: str = answer["reference_id"]
    return reference_id


def finished(url: str, reference_id: str, type_: str = "report") -> dict[str, Any]:
    """Poll (GET with a JSON body, as the seed does) until the backup has finished."""

    def poll() -> dict[str, Any] | None:
        status, answer, _ = apio(
            "GET", f"{url}/backup/polling/{reference_id}/", {"type": type_, "formats": ["json"]}
        )
        assert status == 200, answer
        if answer["status"] == "pending":
            assert answer == {"status": "pending", "reference_id": reference_id}
            return None
        assert answer["status"] == "finished"
        assert set(answer) == {"status", "reference_id", "data"}
        finished: dict[str, Any] = answer
        return finished

    answer: dict[str, Any] = wait_for(poll, timeout=30)
    return answer


def check_main(main: dict[str, Any], tenant: str, group: str, ended: bool = True) -> None:
    """Every field of seed 000's "Backup data info", with its documented type."""
    for name, kind in MAIN_FIELDS.items():
        assert type(main[name]) is kind, (name, main)
    assert (main["tenant_id"], main["group_id"], main["user_id"]) == (tenant, group, "admin")
    assert DATETIME.fullmatch(main["start_datetime"]), main
    if ended:
        assert DATETIME.fullmatch(main["end_datetime"]), main
        assert main["end_datetime"] >= main["start_datetime"]
    else:
        assert main["end_datetime"] is None
    assert main["has_errors"] is (main["error_calls"] > 0)


def check_entities(section: dict[str, Any], user: bool, full: bool) -> None:
    """The seed's "Backup data entity" per entity, with the item shapes routes_apio documents."""
    for entity, lists in section.items():
        assert set(lists) == {"success", "errors", "ignored_entities"}
        for item in lists["success"]:
            keys = {"entity", "digest", "successful_calls", "error_calls"}
            keys |= {"config"} if full else set()
            keys |= {"user_id"} if user else set()
            assert set(item) == keys and item["entity"] == entity
            if full:  # the configuration is the very document the digest names
                digest = hashlib.sha256(render_json(item["config"])).hexdigest()
                assert digest == item["digest"]
        for item in lists["ignored_entities"]:
            assert set(item) == {"entity", "reason"} | ({"user_id"} if user else set())
            assert item["entity"] == entity and isinstance(item["reason"], str)
        for item in lists["errors"]:
            assert {"entity", "message"} <= set(item)


# ------------------------------------------------------------------------------ demo server
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    serve, base = start_serve(tmp_path_factory.mktemp("apio") / "data", TOKEN, "--demo")
    try:
        register_document(base, TOKEN)
        yield base
    finally:
        serve.stop()


def test_start_by_get_body_then_poll_report_and_full(demo: str) -> None:
    url = batch(demo)
    body = {
        "group": ["profile", "ivr", "no_such_entity"],
        "user": ["voice_mail", "bogus_thing"],
        "formats": ["xml", "json"],
        "dowload_announcement_files": True,  # the seed's own spelling
        "force_backup": False,
    }
    reference_id = start(url, body, method="GET")
    assert "t01" in reference_id and "t01-g01" in reference_id

    report = finished(url, reference_id)
    data = report["data"]
    assert set(data) == {"main", "group", "user"}
    check_main(data["main"], "t01", "t01-g01")
    assert data["main"]["status"] == "SUCCESS" and data["main"]["failure_reason"] is None
    assert data["main"]["successful_calls"] == 2 + DEMO_USERS
    assert list(data["group"]) == ["profile", "ivr", "no_such_entity"]
    assert list(data["user"]) == ["voice_mail", "bogus_thing"]
    check_entities(data["group"], user=False, full=False)
    check_entities(data["user"], user=True, full=False)
    assert [i["entity"] for i in data["group"]["ivr"]["success"]] == ["ivr"]
    ignored = data["group"]["no_such_entity"]["ignored_entities"]
    assert [i["entity"] for i in ignored] == ["no_such_entity"]
    assert data["group"]["no_such_entity"]["success"] == []
    voice_mail = data["user"]["voice_mail"]["success"]
    assert [i["user_id"] for i in voice_mail] == [f"t01-g01-u{n:04d}" for n in range(1, 11)]
    assert len(data["user"]["bogus_thing"]["ignored_entities"]) == DEMO_USERS

    full = finished(url, reference_id, type_="full")  # "full" is also the default
    assert apio("GET", f"{url}/backup/polling/{reference_id}")[1] == full
    check_entities(full["data"]["group"], user=False, full=True)
    check_entities(full["data"]["user"], user=True, full=True)
    assert full["data"]["main"] == data["main"]
    assert full["data"]["group"]["profile"]["success"][0]["config"]["id"] == "t01-g01"


def test_start_by_post_and_by_query_parameters_with_defaults(demo: str) -> None:
    url = batch(demo, "t01", "t01-g02")
    reference_id = start(url)  # nothing asked: the whole catalogue
    data = finished(url, reference_id)["data"]
    assert list(data["group"]) == list(GROUP_ENTITIES)
    assert list(data["user"]) == list(USER_ENTITIES)
    assert not any(v["ignored_entities"] or v["errors"] for v in data["group"].values())

    query = "?force_backup=1&formats=xml&formats=json&group=profile,ivr&user=voice_mail"
    reference_id = start(url, method="GET", query=query)
    data = finished(url, reference_id)["data"]
    assert (list(data["group"]), list(data["user"])) == (["profile", "ivr"], ["voice_mail"])

    # Query and body merged, the body winning; no trailing slash; an empty list means none.
    status, answer, _ = apio(
        "POST", f"{url}/backup/start?group=ivr&user=profile", {"group": ["profile"], "user": []}
    )
    assert status == 202
    data = finished(url, answer["reference_id"])["data"]
    assert (list(data["group"]), data["user"]) == (["profile"], {})


def test_list_and_retrieve_by_name_and_latest(demo: str) -> None:
    url = batch(demo, "t02", "t02-g01")
    first = start(url, {"group": ["profile"], "user": []})
    finished(url, first)
    second = start(url, {"group": ["ivr"], "user": ["profile"]})
    finished(url, second)

    status, listing, _ = apio("GET", f"{url}/backups/", {})
    assert status == 200 and set(listing) == {"backups"}
    assert [b["id"] for b in listing["backups"]] == [second, first]  # newest first
    for item in listing["backups"]:
        assert {"id", *MAIN_FIELDS, "start_datetime", "end_datetime"} <= set(item)
        check_main({k: v for k, v in item.items() if k != "id"}, "t02", "t02-g01")
    assert apio("GET", f"{url}/backups")[1] == listing

    status, one, _ = apio("GET", f"{url}/backups/{first}/", {"type": "report"})
    assert status == 200 and set(one) == {"reference_id", "data"}
    assert one["reference_id"] == first and list(one["data"]["group"]) == ["profile"]
    assert apio("GET", f"{url}/backups/{first}?type=report")[1] == one

    for latest_url in (f"{url}/backup/", f"{url}/backups/latest", f"{url}/backups/?latest=true"):
        status, latest, _ = apio("GET", latest_url)
        assert status == 200, latest_url
        assert latest["reference_id"] == second
        check_entities(latest["data"]["group"], user=False, full=True)

    # Another group's listing does not show these.
    _, other, _ = apio("GET", f"{batch(demo, 't02', 't02-g02')}/backups/")
    assert other == {"backups": []}


def test_xml_by_formats_and_by_accept(demo: str) -> None:
    url = batch(demo, "t01", "t01-g01")
    reference_id = start(url, {"group": ["profile", "nope"], "user": ["voice_mail"]})
    as_json = finished(url, reference_id, type_="full")

    status, xml, headers = raw_call(
        "GET", f"{url}/backup/polling/{reference_id}/", {"formats": ["xml"]}
    )
    assert status == 200 and headers["Content-Type"].startswith("application/xml")
    assert xml.startswith(b"<?xml") and b"<backup " in xml
    assert parse_xml(xml) == as_json

    for accept in ("application/xml", "text/xml", "application/json;q=0.5, application/xml"):
        status, xml, headers = raw_call(
            "GET", f"{url}/backups/{reference_id}/?type=report", headers={"Accept": accept}
        )
        assert status == 200 and headers["Content-Type"].startswith("application/xml"), accept
        _, retrieved, _ = apio("GET", f"{url}/backups/{reference_id}/?type=report")
        assert parse_xml(xml) == retrieved

    _, xml, _ = raw_call("GET", f"{url}/backups/", headers={"Accept": "application/xml"})
    assert parse_xml(xml) == apio("GET", f"{url}/backups/")[1]

    # Both builds asked, or JSON preferred: JSON. Outside /batch/ XML stays refused.
    status, _, headers = raw_call(
        "GET", f"{url}/backups/{reference_id}/", {"formats": ["xml", "json"]}
    )
    assert headers["Content-Type"].startswith("application/json")
    _, _, headers = raw_call(
        "GET", f"{url}/backups/", headers={"Accept": "application/json, application/xml"}
    )
    assert headers["Content-Type"].startswith("application/json")
    status, _, _ = raw_call("GET", f"{demo}/api/v1/hosts", headers={"Accept": "application/xml"})
    assert status == 406


def test_unknown_tenant_group_and_instance_are_404(demo: str) -> None:
    url = batch(demo, "t01", "t01-g01")
    reference_id = start(url, {"group": ["profile"], "user": []})
    finished(url, reference_id)
    cases = [
        ("POST", f"{batch(demo, 'no-such-tenant', 'g')}/backup/start/", "tenant_id"),
        ("POST", f"{batch(demo, 't01', 'no-such-group')}/backup/start/", "group_id"),
        ("GET", f"{batch(demo, 't01', 'no-such-group')}/backups/", "group_id"),
        ("GET", f"{url}/backup/polling/backup_t01_t01-g01_000000000000/", "instance_name"),
        ("GET", f"{url}/backups/00000000-0000-0000-0000-000000000000/", "instance_name"),
        ("GET", f"{url}/backup/stop/nothing-here/", "instance_name"),
        # the instance exists, but in another group
        ("GET", f"{batch(demo, 't01', 't01-g02')}/backup/polling/{reference_id}/", "instance"),
        ("GET", f"{batch(demo, 't02', 't02-g02')}/backup/", "no finished backup"),
    ]
    for method, target, names in cases:
        status, answer, _ = apio(method, target)
        assert status == 404, (target, answer)
        assert isinstance(answer, list) and names in answer[0], (target, answer)


@pytest.mark.parametrize(
    ("path", "body", "raw", "names"),
    [
        ("backup/start/", None, b"{not json", "Malformed JSON"),
        ("backup/start/", None, b"[1, 2]", "object"),
        ("backup/start/", {"force_backup": "yes please"}, None, "force_backup"),
        ("backup/start/?force_backup=maybe", None, None, "force_backup"),
        ("backup/start/", {"group": ["Not-A-Name"]}, None, "group"),
        ("backup/start/", {"user": "voice mail"}, None, "user"),
        ("backup/start/", {"formats": ["pdf"]}, None, "formats"),
        ("backup/start/", {"formats": []}, None, "formats"),
        ("backup/start/", {"colour": "red"}, None, "colour"),
        ("backup/start/", {"download_announcement_files": 3}, None, "download_announcement"),
        ("backup/polling/x/", {"type": "summary"}, None, "type"),
        ("backups/x/?formats=pdf", None, None, "formats"),
        ("backup/stop/x/", {"now": True}, None, "now"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(
    demo: str, path: str, body: Any, raw: bytes | None, names: str
) -> None:
    status, answer, _ = raw_call(
        "POST" if "start" in path else "GET", f"{batch(demo)}/{path}", body, raw=raw
    )
    messages = json.loads(answer)
    assert status == 400, messages
    assert isinstance(messages, list) and names in messages[0], messages


def test_every_route_needs_the_token(demo: str) -> None:
    url = batch(demo)
    for path in ("backup/start/", "backups/", "backup/", "backup/polling/x/", "backup/stop/x/"):
        status, _answer, headers = call("GET", f"{url}/{path}")
        assert status == 401 and "WWW-Authenticate" in headers, path


# ------------------------------------------------------------------------------ slow PBX
@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PBX slow enough (40 users x 5 entities, 300 ms a call) that a backup of one group
    is still running while the test talks to it."""
    sandbox, pbx = start_sandbox("--latency-ms", "300", "--users", "40")
    try:
        data_dir = tmp_path_factory.mktemp("apio-slow") / "data"
        serve, base = start_serve(data_dir, TOKEN, "--pbx", pbx)
        try:
            register_document(base, TOKEN)
            yield base
        finally:
            serve.stop()
    finally:
        sandbox.stop()


def native(base: str, backup_id: str) -> dict[str, Any]:
    status, view, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
    assert status == 200, view
    return dict(view)


def test_conflict_force_and_stop_while_running(slow: str) -> None:
    url = batch(slow)
    # A running backup of the group, started natively (so its UUID is known).
    status, first, _ = call(
        "POST", f"{slow}/api/v1/backups", TOKEN, {"tenant_id": "t01", "group_id": "t01-g01"}
    )
    assert status == 202
    pending = apio("GET", f"{url}/backup/polling/{first['id']}/")[1]  # the UUID works too
    assert pending == {"status": "pending", "reference_id": first["reference_id"]}
    status, running, _ = apio("GET", f"{url}/backups/{first['reference_id']}/?type=report")
    assert status == 200
    check_main(running["data"]["main"], "t01", "t01-g01", ended=False)

    # Without force_backup: 409 with a message saying how to go on.
    status, refused, headers = apio("POST", f"{url}/backup/start/", {"group": ["profile"]})
    assert status == 409 and headers["X-Rewind-Error-Code"] == "1015"
    assert "force_backup" in refused[0]

    # With it: the running one is stopped and ends FAILED "cancelled"; the new one starts.
    forced = start(url, method="GET", query="?force_backup=true")
    old = wait_for(lambda: (v := native(slow, first["id"]))["status"] == "FAILED" and v)
    assert old["failure_reason"] == "cancelled"
    old_data = finished(url, first["reference_id"])["data"]
    assert old_data["main"]["status"] == "FAILED"
    assert old_data["main"]["failure_reason"] == "cancelled"
    check_main(old_data["main"], "t01", "t01-g01")

    # Stop the forced one (POST, no trailing slash); it ends FAILED "cancelled" too.
    status, stopping, _ = apio("POST", f"{url}/backup/stop/{forced}")
    assert status == 200 and stopping == {"status": "stopping", "reference_id": forced}
    data = finished(url, forced)["data"]
    assert (data["main"]["status"], data["main"]["failure_reason"]) == ("FAILED", "cancelled")
    check_main(data["main"], "t01", "t01-g01")
    listed = apio("GET", f"{url}/backups/")[1]["backups"]
    assert [b["id"] for b in listed] == [forced, first["reference_id"]]

    # Stopping a finished backup: 409, the lifecycle has no such move.
    status, _answer, headers = apio("GET", f"{url}/backup/stop/{forced}/")
    assert status == 409 and headers["X-Rewind-Error-Code"] == "2001"
