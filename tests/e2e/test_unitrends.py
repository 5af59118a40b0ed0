"""The Unitrends dialect (seed 004) against a real ``rewind serve --demo`` with real backups:
each filter narrows the answer as documented (the same day twice is that whole day), each
field has the seed's format and agrees with the native view of the same backup, and the
seed's ``AuthToken`` header authenticates. Every answer must conform to the server's
OpenAPI document."""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.http import wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import Running, start_sandbox, start_serve

TOKEN = "unitrends-e2e-token"
AUTH = {"AuthToken": TOKEN}


def _number(kind: str, *parts: str | None) -> int:
    """The README's mapping, written out independently of the server's code."""
    key = "\0".join([kind, *(p or "" for p in parts)])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big")


def _query(base: str, **filters: Any) -> list[dict[str, Any]]:
    status, answer, _ = call("POST", f"{base}/api/backups", None, filters, AUTH)
    assert status == 200, answer
    assert set(answer) == {"backups"}
    backups: list[dict[str, Any]] = answer["backups"]
    return backups


def _native(base: str, backup_id: str) -> dict[str, Any]:
    _, view, _ = call("GET", f"{base}/api/v1/backups/{backup_id}", TOKEN)
    assert isinstance(view, dict)
    return view


def _backup(base: str, body: dict[str, Any]) -> dict[str, Any]:
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202, accepted

    def finished() -> dict[str, Any] | None:
        view = _native(base, accepted["id"])
        return view if view["status"] in ("SUCCESS", "FAILED") else None

    result: dict[str, Any] = wait_for(finished, timeout=90)
    return result


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _past(second: int) -> int:
    """Wait for the clock to leave epoch ``second``; the second it is in then."""
    while int(time.time()) <= second:
        time.sleep(0.01)
    return int(time.time())


def _pause_a_second() -> int:
    """An epoch second strictly between what happened before and what happens after: the
    next second to begin, once it has ended."""
    mark = _past(int(time.time()))
    _past(mark)
    return mark


class World:
    """The server and the backups made once for the whole module, each with its number (the
    position of its first event, read from the native audit trail)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.views: dict[str, dict[str, Any]] = {}
        self.extras: list[dict[str, Any]] = []
        self.numbers: dict[int, str] = {}
        self.mark_after_g1 = 0

    def make(self, body: dict[str, Any]) -> dict[str, Any]:
        view = _backup(self.base, body)
        _, events, _ = call("GET", f"{self.base}/api/v1/backups/{view['id']}/events", TOKEN)
        self.numbers[events["items"][0]["position"]] = view["id"]
        return view

    def add(self, name: str, body: dict[str, Any]) -> None:
        self.views[name] = self.make(body)

    def everything(self) -> list[dict[str, Any]]:
        return [*self.views.values(), *self.extras]

    def ids(self, *names: str) -> set[str]:
        return {self.views[n]["id"] for n in names}

    def on_host(self, host_id: str) -> set[str]:
        return {v["id"] for v in self.everything() if v["host_id"] == host_id}

    def add_with_errors(self, name: str, body: dict[str, Any]) -> None:
        """A SUCCESS backup with failed calls, from the flaky sandbox: the injected faults
        may also fail a run (its listing), so runs repeat (a few at most) until one is."""
        for _attempt in range(8):
            view = self.make(body)
            if view["status"] == "SUCCESS" and view["error_calls"] > 0:
                self.views[name] = view
                return
            self.extras.append(view)
        raise AssertionError("no SUCCESS-with-errors backup from the flaky sandbox")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("unitrends") / "data"
    flaky: Running
    flaky, flaky_url = start_sandbox("--error-rate", "0.4", "--seed", "3")
    serve, base = start_serve(data_dir, TOKEN, "--demo")
    try:
        register_document(base, TOKEN)
        w = World(base)
        for host_id, url in (("flaky", flaky_url), ("down", "http://127.0.0.1:9")):
            status, _, _ = call(
                "POST",
                f"{base}/api/v1/hosts",
                TOKEN,
                {"id": host_id, "name": host_id, "base_url": url},
            )
            assert status == 201
        g1 = {"tenant_id": "t01", "group_id": "t01-g01", "download_announcement_files": True}
        w.add("g1", g1)
        w.mark_after_g1 = _pause_a_second()
        w.add("g2", {"tenant_id": "t01", "group_id": "t01-g02", "type": "differential"})
        w.add("tenant", {"tenant_id": "t02", "type": "incremental"})
        flaky_group = {"tenant_id": "t01", "group_id": "t01-g01", "host_id": "flaky"}
        w.add_with_errors("flaky", flaky_group)
        w.add("down", {"tenant_id": "t01", "group_id": "t01-g01", "host_id": "down"})
        yield w
    finally:
        serve.stop()
        flaky.stop()


def _ids(backups: list[dict[str, Any]], world: World) -> set[str]:
    """Native ids of Unitrends answers (through their numbers)."""
    return {world.numbers[b["id"]] for b in backups}


def _by_native(world: World) -> dict[str, dict[str, Any]]:
    return {world.numbers[b["id"]]: b for b in _query(world.base)}


def test_authtoken_header_authenticates(world: World) -> None:
    status, body, _ = call("POST", f"{world.base}/api/backups", None, {})
    assert status == 401 and isinstance(body, list)
    bad = {"AuthToken": "wrong"}
    assert call("POST", f"{world.base}/api/backups", None, {}, bad)[0] == 401
    assert call("POST", f"{world.base}/api/backups", TOKEN, {})[0] == 200


def test_no_filter_lists_every_backup_newest_first_with_ascending_numbers(world: World) -> None:
    backups = _query(world.base)
    every = {v["id"] for v in world.everything()}
    assert len(backups) == len(every) >= 5
    numbers = [b["id"] for b in backups]
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) == len(numbers)
    assert _ids(backups, world) == every


def test_backup_ids_return_exactly_those(world: World) -> None:
    backups = _query(world.base)
    chosen = [backups[0]["id"], backups[3]["id"]]
    assert {b["id"] for b in _query(world.base, backup_ids=chosen)} == set(chosen)
    assert _query(world.base, backup_ids=[max(b["id"] for b in backups) + 10_000]) == []


def test_system_client_and_instance_ids_map_hosts_tenants_and_groups(world: World) -> None:
    base = world.base
    flaky = _query(base, system_id=_number("system", "flaky"))
    assert _ids(flaky, world) == world.on_host("flaky")
    default = _query(base, system_id=_number("system", "default"))
    assert _ids(default, world) == world.ids("g1", "g2", "tenant")
    t01 = _query(base, client_id=_number("client", "default", "t01"))
    assert _ids(t01, world) == world.ids("g1", "g2")
    t02 = _query(base, client_id=_number("client", "default", "t02"))
    assert _ids(t02, world) == world.ids("tenant")
    assert "instance_id" not in t02[0] and "instance_name" not in t02[0]
    g1 = _query(base, instance_id=_number("instance", "default", "t01", "t01-g01"))
    assert _ids(g1, world) == world.ids("g1")
    assert g1[0]["instance_name"] == "t01-g01" and g1[0]["client_name"] == "t01"
    # The same group on another host is another instance; contradictions match nothing.
    other = _query(base, instance_id=_number("instance", "flaky", "t01", "t01-g01"))
    assert _ids(other, world) == world.on_host("flaky")
    clash = {"system_id": _number("system", "flaky"), "client_id": t01[0]["client_id"]}
    assert _query(base, **clash) == []
    assert _query(base, client_id=12345) == []


def test_type_filter_takes_pretty_names_in_any_case(world: World) -> None:
    base = world.base
    assert _ids(_query(base, type=["Differential"]), world) == world.ids("g2")
    both = _query(base, type=["incremental", "DIFFERENTIAL"])
    assert _ids(both, world) == world.ids("g2", "tenant")
    assert {b["type"] for b in _query(base, type=["Full"])} == {"Full"}
    status, messages, _ = call("POST", f"{base}/api/backups", TOKEN, {"type": ["Bare Metal"]})
    assert status == 400 and any("type" in m for m in messages)


def test_start_and_finish_epochs_narrow(world: World) -> None:
    base, mark = world.base, world.mark_after_g1
    later = {v["id"] for v in world.everything()} - world.ids("g1")
    assert _ids(_query(base, start_time=mark), world) == later
    assert _ids(_query(base, end_time=mark), world) == world.ids("g1")
    assert _ids(_query(base, finish_interval_start=mark), world) == later
    assert _ids(_query(base, finish_interval_end=mark), world) == world.ids("g1")
    assert _query(base, start_time=mark, end_time=mark) == []
    g1_start = datetime.fromisoformat(world.views["g1"]["start_datetime"])
    # Bounds are inclusive of their whole second.
    second = _epoch(g1_start)
    assert world.ids("g1") <= _ids(_query(base, start_time=second, end_time=second), world)


def test_same_start_and_end_day_is_that_whole_day(world: World) -> None:
    base = world.base
    start = datetime.fromisoformat(world.views["g1"]["start_datetime"]).astimezone(UTC)
    today = start.strftime("%m/%d/%Y")
    whole_day = _query(base, start_day=today, end_day=today)
    every = {view["id"] for view in world.everything()}
    same_day = {
        view["id"]
        for view in world.everything()
        if datetime.fromisoformat(view["start_datetime"]).astimezone(UTC).date() == start.date()
    }
    assert _ids(whole_day, world) == same_day and world.ids("g1") <= same_day
    tomorrow = (start + timedelta(days=1)).strftime("%m/%d/%Y")
    yesterday = (start - timedelta(days=1)).strftime("%m/%d/%Y")
    assert _query(base, start_day=tomorrow, end_day=tomorrow) == []
    assert _query(base, start_day=yesterday, end_day=yesterday) == []
    assert _query(base, start_day=today, end_day=yesterday) == []
    assert _ids(_query(base, start_day=yesterday), world) == every
    assert _ids(_query(base, end_day=tomorrow), world) == every
    status, messages, _ = call("POST", f"{base}/api/backups", TOKEN, {"start_day": "2026-01-31"})
    assert status == 400 and any("start_day" in m for m in messages)
    status, messages, _ = call("POST", f"{base}/api/backups", TOKEN, {"end_day": "13/45/2026"})
    assert status == 400 and any("end_day" in m for m in messages)


def test_start_and_end_hours_look_back_from_now(world: World) -> None:
    base = world.base
    every = len(world.everything())
    assert len(_query(base, start_hours=1)) == every
    assert _query(base, start_hours=0) == []
    assert len(_query(base, end_hours=24)) == every
    assert _query(base, end_hours=0) == []


def test_fields_have_the_seed_formats_and_agree_with_the_native_view(world: World) -> None:
    by_native = _by_native(world)
    for name, view in world.views.items():
        b = by_native[view["id"]]
        start = datetime.fromisoformat(view["start_datetime"])
        end = datetime.fromisoformat(view["end_datetime"])
        utc = start.astimezone(UTC)
        assert b["start_date_time"] == utc.strftime("%m/%d/%Y %I:%M %p").lower()
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4} (0\d|1[0-2]):\d{2} (am|pm)", b["start_date_time"])
        seconds = int((end - start).total_seconds())
        hms = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        assert b["duration"] == hms
        assert b["complete"] is True
        assert b["size"] == math.ceil(view["size_on_disk"] / (1 << 20))
        assert b["type"] == view["type"].capitalize()
        assert b["client_id"] == _number("client", view["host_id"], view["tenant_id"])
        if view["group_id"]:
            ids = (view["host_id"], view["tenant_id"], view["group_id"])
            assert b["instance_id"] == _number("instance", *ids)
        _, report, _ = call("GET", f"{world.base}/api/v1/backups/{view['id']}/report", TOKEN)
        stored = sum(
            len(outcomes["success"])
            for part in ("group", "user")
            for outcomes in report[part].values()
        )
        assert b["files"] == stored, name
        constants = {
            "encrypted": False, "replication_status": "Not Applicable", "synthesized": False,
            "synth_capable": False, "disk_metadata": False, "client_config": False,
            "replicated": False, "vmware_template": False, "certified": False,
            "legalhold": False, "gfs_rp_type": "",
        }  # fmt: skip
        assert {k: b[k] for k in constants} == constants
    g1, flaky, down = (by_native[world.views[n]["id"]] for n in ("g1", "flaky", "down"))
    assert world.views["g1"]["error_calls"] == 0 and g1["status"] == "Success"
    assert (g1["verified"], g1["verify_status"], g1["storage"]) == (True, "Successful", "artifacts")
    assert g1["size"] >= 1 and g1["files"] == 63
    assert world.views["flaky"]["status"] == "SUCCESS" and world.views["flaky"]["error_calls"] > 0
    assert flaky["status"] == "Warning"
    assert world.views["down"]["status"] == "FAILED"
    assert down["status"] == "Failure" and down["verify_status"] == "Not Applicable"
    assert down["verified"] is False and down["storage"] == "" and down["files"] == 0
    assert down["output"].startswith("Failure: ") and "unreachable" in down["output"]
    # The newest SUCCESS backup of a scope is `last` and not purgeable; failures are.
    assert g1["last"] is True and g1["purgeable"] is False
    assert down["last"] is False and down["purgeable"] is True


def test_a_running_backup_has_status_none_and_a_growing_duration(world: World) -> None:
    base = world.base
    body = {"host_id": "flaky", "tenant_id": "t02", "download_announcement_files": True}
    status, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 202
    running = [
        b
        for b in _query(base, client_id=_number("client", "flaky", "t02"))
        if b["complete"] is False
    ]
    if running:  # it may already have finished on a fast machine
        assert running[0]["status"] == "None" and running[0]["verify_status"] == "Not Applicable"
    wait_for(lambda: _native(base, accepted["id"])["status"] in ("SUCCESS", "FAILED"), 90)
    finished = _query(base, client_id=_number("client", "flaky", "t02"))
    assert finished[0]["complete"] is True and finished[0]["status"] in ("Success", "Warning")


def test_bad_input_is_refused_naming_the_field(world: World) -> None:
    for body, field in (
        ({"colour": "red"}, "colour"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"backup_ids": "all"}, "backup_ids"),
        ({"start_hours": -1}, "start_hours"),
    ):
        status, messages, _ = call("POST", f"{world.base}/api/backups", TOKEN, body)
        assert status == 400 and any(field in m for m in messages), (body, messages)
