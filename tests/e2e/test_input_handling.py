"""Hostile input against a real ``rewind serve --demo``: every problem is a 4xx in the
dialect's error shape (a JSON list of messages) naming what is wrong; nothing answers 500
or shows a traceback. The sweep covers every route of ``app.router``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.settings import Settings
from api.core.app import ServeOptions, create_app
from tests.support.http import call, call_raw
from tests.support.processes import Running, start_serve

TOKEN = "input-admin-token-0123456789"
MAX_BODY = 1 << 20
APIO = "/api/v1/tenants/t01/groups/t01-g01/batch"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Running]]:
    serve, url = start_serve(tmp_path_factory.mktemp("input") / "data", TOKEN, "--demo")
    try:
        yield url, serve
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def base(server: tuple[str, Running]) -> str:
    return server[0]


def raw_call(
    method: str, url: str, data: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes, dict[str, str]]:
    return call_raw(method, url, TOKEN, headers=headers, raw=data)


def test_an_oversized_body_is_413(base: str) -> None:
    big = b'{"name": "' + b"a" * (MAX_BODY + 10) + b'"}'
    json_type = {"Content-Type": "application/json"}
    for method, path in (
        ("POST", "/api/v1/backups"),
        ("POST", "/api/v1/tokens"),
        ("POST", f"{APIO}/backup/start/"),
        ("GET", "/api/v1/hosts"),
    ):
        status, body, _ = raw_call(method, base + path, big, json_type)
        assert status == 413, (path, body)
        assert b"larger than" in body or b"Maximum request body size" in body


def test_malformed_json_is_400_naming_the_problem(base: str) -> None:
    for raw, words in (
        (b'{"tenant_id": ', "Malformed JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"a": NaN}', "Malformed JSON"),
        (b"\xff\xfe{}", "Malformed JSON"),
        (b"[" * 5000 + b"]" * 5000, "Malformed JSON"),
        (b'{"n": 123456789012345678901234567890}', "Incorrect parameters sent: n"),
    ):
        status, answer, _ = call(
            "POST",
            f"{base}/api/v1/backups",
            TOKEN,
            raw=raw,
            headers={"Content-Type": "application/json"},
        )
        assert status == 400 and words in answer[0], (raw[:40], answer)


def test_wrong_types_and_unknown_fields_are_named(base: str) -> None:
    body = {"tenant_id": 5, "force_backup": "maybe", "colour": "red", "group": "ivr"}
    status, answer, _ = call("POST", f"{base}/api/v1/backups", TOKEN, body)
    assert status == 400
    assert answer[0].startswith("Incorrect parameters sent: ")
    named = set(answer[0].removeprefix("Incorrect parameters sent: ").split(", "))
    assert named == {"tenant_id", "force_backup", "colour", "group"}


def test_unsupported_accept_is_406_and_content_type_415(base: str) -> None:
    html = {"Accept": "text/html"}
    status, answer, _ = call("GET", f"{base}/api/v1/backups", TOKEN, headers=html)
    assert status == 406 and "Accept" in answer[0]
    status, body, _ = raw_call(
        "POST", f"{base}/api/v1/backups", b"tenant_id=t01", {"Content-Type": "text/plain"}
    )
    assert status == 415 and b"Content-Type" in body
    status, body, _ = raw_call("POST", f"{base}/api/v1/backups", b'{"tenant_id": "t01"}', {})
    assert status == 415  # no Content-Type at all


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/backups/" + "a" * 201, "backup_id"),
        ("/api/v1/backups/-starts-with-dash", "backup_id"),
        ("/api/v1/backups/bad%20id/report", "backup_id"),
        ("/api/v1/backups/ok/diff/%C3%A9t%C3%A9", "b"),
        ("/api/v1/restores/x%00y", "restore_id"),
        ("/api/v1/tenants/bad%20tenant/groups/g/batch/backups/", "tenant_id"),
        ("/api/v1/tenants/t01/groups/" + "g" * 65 + "/batch/backups/", "group_id"),
        (f"{APIO}/backups/%3Cscript%3E/", "instance_name"),
    ],
)
def test_path_parameters_are_validated(base: str, path: str, param: str) -> None:
    status, answer, _ = call("GET", base + path, TOKEN)
    assert status == 400, answer
    assert answer[0] == f"Incorrect parameters sent: {param}"


def test_a_path_found_good_does_not_vouch_for_one_that_decodes_alike(base: str) -> None:
    # Paths found good are remembered; "abc%2Freport" decodes like "abc/report" but routes
    # to another resource with backup_id "abc/report", which must still be refused.
    status, _, _ = call("GET", f"{base}/api/v1/backups/abc/report", TOKEN)
    assert status == 404
    status, answer, _ = call("GET", f"{base}/api/v1/backups/abc%2Freport", TOKEN)
    assert status == 400, answer
    assert answer[0] == "Incorrect parameters sent: backup_id"


@pytest.mark.parametrize(
    "query",
    [
        "_page=abc",
        "_page=99999999999999",
        "_pagesize=0",
        "_pagesize=100000",
        "status=1&kind=X",
        "started_after=yesterday",
        "_page=-1",
    ],
)
def test_bad_query_parameters_are_400(base: str, query: str) -> None:
    status, answer, _ = call("GET", f"{base}/api/v1/backups?{query}", TOKEN)
    assert status == 400, answer
    assert answer[0].startswith("Incorrect parameters sent: ")


def _routes(tmp_path: Path) -> list[tuple[str, str]]:
    app = create_app(ServeOptions(settings=Settings(data_dir=tmp_path / "unused")))
    found = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    return sorted(found)


HOSTILE_BODIES: list[tuple[bytes | None, dict[str, str]]] = [
    (b'{"x": ', {"Content-Type": "application/json"}),
    (b'"just a string"', {"Content-Type": "application/json"}),
    (
        b'{"tenant_id": {"$gt": ""}, "group": [null], "name": "\\u0000"}',
        {"Content-Type": "application/json"},
    ),
    (b"<xml/>", {"Content-Type": "application/xml"}),
    (b"{}", {"Content-Type": "application/json", "Accept": "image/png"}),
    (None, {"Accept": "application/json;q=abc"}),
]


def test_no_input_produces_a_500_on_any_route(server: tuple[str, Running], tmp_path: Path) -> None:
    base, serve = server
    seen = 0
    for method, pattern in _routes(tmp_path):
        for fill in ("zz-unknown-1", "x" * 250, "..", "%25%00"):
            path = re.sub(r"\{[^}]+\}", fill, pattern)
            for data, headers in HOSTILE_BODIES:
                status, body, _ = raw_call(method, base + path, data, headers)
                seen += 1
                assert status < 500, (method, path, data, status, body[:300])
                assert b"Traceback" not in body and b'File "' not in body
    assert seen > 500
    assert not [line for line in serve.lines if "unhandled error" in line or "Traceback" in line]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "name",
        "role",
        "tenants",
        "ttl_seconds",
        "expires_at",
        "backup_id",
        "dry_run",
        "existing",
        "group",
        "user",
        "users",
        "base_url",
        "credentials",
        "id",
        "active",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(["/api/v1/tokens", "/api/v1/hosts", "/api/v1/restores"]),
    body=st.dictionaries(FIELDS | st.text(max_size=10), JSON_VALUES, max_size=6),
)
def test_random_bodies_never_answer_500(base: str, path: str, body: dict[str, Any]) -> None:
    """Property: whatever JSON object is posted, the answer is a 2xx or a 4xx, and a 400
    says which parameters were wrong."""
    status, answer, _ = call("POST", base + path, TOKEN, body)
    assert status < 500, (body, answer)
    if status == 400:
        assert isinstance(answer, list) and answer[0].startswith(
            ("Incorrect parameters sent: ", "Malformed JSON")
        ), answer
