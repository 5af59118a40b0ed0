"""Seed 003's conventions on every native list, against a real ``rewind serve --demo``:
``{total, items}``, ``_page`` (from 1) and ``_pagesize`` slicing one stable order, a page past
the end empty (total unchanged), bad paging refused with 400 naming the parameter, and
errors as a JSON list of messages. Every answer must conform to the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.http import wait_for
from tests.support.openapi import checked_call as call
from tests.support.openapi import register_document
from tests.support.processes import serving

TOKEN = "lists-e2e-token"


def _finished(base: str, kind: str, job_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        _, view, _ = call("GET", f"{base}/api/v1/{kind}/{job_id}", TOKEN)
        return view if view["status"] in ("SUCCESS", "FAILED") else None

    result: dict[str, Any] = wait_for(done, timeout=90)
    return result


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server with 3 backups, 3 hosts, 2 restores; the list URLs to page through."""
    data_dir = tmp_path_factory.mktemp("lists") / "data"
    with serving(data_dir, TOKEN, "--demo") as base:
        register_document(base, TOKEN)
        backups = []
        for group in ("t01-g01", "t01-g02", "t02-g01"):
            tenant = group.split("-")[0]
            body = {"tenant_id": tenant, "group_id": group, "group": ["profile"], "user": []}
            _, accepted, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
            backups.append(_finished(base, "backups", accepted["id"]))
        for name in ("second", "third"):
            body = {"name": name, "base_url": "http://127.0.0.1:9"}
            assert call("POST", f"{base}/api/v1/hosts", TOKEN, body)[0] == 201
        for backup in backups[:2]:
            asked = {"backup_id": backup["id"], "safety_backup": False}
            status, restore, _ = call("POST", f"{base}/api/v1/restores", TOKEN, asked)
            assert status == 202, restore
            _finished(base, "restores", restore["id"])
        yield {
            "backups": f"{base}/api/v1/backups",
            "hosts": f"{base}/api/v1/hosts",
            "restores": f"{base}/api/v1/restores",
            "events": f"{base}/api/v1/backups/{backups[0]['id']}/events",
        }


def _get(url: str, **query: Any) -> tuple[int, Any]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    status, body, _ = call("GET", f"{url}?{qs}" if qs else url, TOKEN)
    return status, body


@pytest.mark.parametrize("name", ["backups", "hosts", "restores", "events"])
def test_pages_slice_one_stable_order(lists: dict[str, str], name: str) -> None:
    url = lists[name]
    status, whole = _get(url)
    assert status == 200 and set(whole) == {"total", "items"}
    total = whole["total"]
    assert total == len(whole["items"]) >= 2
    pages = []
    for page in range(1, total + 1):
        status, one = _get(url, _page=page, _pagesize=1)
        assert status == 200 and one["total"] == total and len(one["items"]) == 1
        pages.append(one["items"][0])
    assert pages == whole["items"]
    status, pair = _get(url, _page=1, _pagesize=2)
    assert pair["items"] == whole["items"][:2]
    status, beyond = _get(url, _page=total + 1, _pagesize=1)
    assert status == 200 and beyond == {"total": total, "items": []}


@pytest.mark.parametrize("name", ["backups", "hosts", "restores", "events"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"_page": 0}, "_page"),
        ({"_page": "two"}, "_page"),
        ({"_page": 2**62}, "_page"),  # was a 500: an offset beyond SQLite's integers
        ({"_pagesize": 0}, "_pagesize"),
        ({"_pagesize": 1001}, "_pagesize"),
        ({"_size": 5}, "_size"),
    ],
)
def test_bad_paging_is_refused_naming_the_parameter(
    lists: dict[str, str], name: str, query: dict[str, Any], field: str
) -> None:
    status, messages = _get(lists[name], **query)
    assert status == 400
    assert isinstance(messages, list) and all(isinstance(m, str) for m in messages)
    assert any(field in m for m in messages), messages


def test_lists_hold_what_was_made(lists: dict[str, str]) -> None:
    assert _get(lists["backups"])[1]["total"] == 3
    hosts = _get(lists["hosts"])[1]
    assert [h["id"] for h in hosts["items"]] == ["default", "second", "third"]
    assert _get(lists["restores"])[1]["total"] == 2
    events = _get(lists["events"])[1]["items"]
    assert events[0]["type"] == "Backup.Requested"
    assert [e["position"] for e in events] == sorted(e["position"] for e in events)


def test_unknown_routes_and_methods_answer_a_list_of_messages(lists: dict[str, str]) -> None:
    base = lists["hosts"].rsplit("/api/", 1)[0]
    status, body, _ = call("GET", f"{base}/api/v1/nothing-here", TOKEN)
    assert status == 404 and isinstance(body, list) and body
    status, body, headers = call("PUT", lists["hosts"], TOKEN, {})
    assert status == 405 and isinstance(body, list) and "Allow" in headers
