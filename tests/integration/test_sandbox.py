"""The sandbox PBX over real HTTP: data set, seed 003 conventions, writes, media, faults."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from adapters.sandbox import Dataset, SandboxConfig, serve_sandbox
from domain.catalogue import DATA_ENTITIES, GROUP_ENTITIES, MEDIA_ENTITIES, USER_ENTITIES
from tests.integration.conftest import SandboxFactory

GROUP = "/1.0/tenants/t01/groups/t01-g01"
USER = f"{GROUP}/users/t01-g01-u0002"


@pytest.fixture
async def sandbox_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, so the server is tested without the project's client."""
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    """(status, decoded JSON body or None)."""
    async with http.request(method, url, **kwargs) as response:
        raw = await response.read()
        return response.status, orjson.loads(raw) if raw else None


async def get_ok(http: aiohttp.ClientSession, url: str) -> Any:
    status, body = await fetch(http, "GET", url)
    assert status == 200, body
    return body


async def export(http: aiohttp.ClientSession, base: str, group: str = GROUP) -> bytes:
    async with http.get(f"{base}{group}/_export") as response:
        assert response.status == 200
        return await response.read()


async def scope_ids(http: aiohttp.ClientSession, base: str) -> list[str]:
    """Every tenant, group and user id the sandbox lists."""
    ids = []
    for tenant in (await get_ok(http, f"{base}/1.0/tenants/"))["items"]:
        ids.append(tenant["id"])
        groups = await get_ok(http, f"{base}/1.0/tenants/{tenant['id']}/groups/")
        for group in groups["items"]:
            ids.append(group["id"])
            users = await get_ok(
                http, f"{base}/1.0/tenants/{tenant['id']}/groups/{group['id']}/users/"
            )
            ids += [user["id"] for user in users["items"]]
    return ids


# -- the data set ---------------------------------------------------------------------------


async def test_ids_depend_only_on_the_counts(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    one = await sandbox_factory(tenants=2, groups=3, users=4, seed=1)
    two = await sandbox_factory(tenants=2, groups=3, users=4, seed=99)
    ids = await scope_ids(sandbox_http, one)
    assert ids == await scope_ids(sandbox_http, two)
    assert ids[:3] == ["t01", "t01-g01", "t01-g01-u0001"]
    assert len(ids) == 2 + 2 * 3 + 2 * 3 * 4
    assert "t02-g03-u0004" in ids


async def test_same_seed_same_export_other_seed_same_ids_other_content(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    first = await sandbox_factory(users=3, media_kb=2, seed=5)
    again = await sandbox_factory(users=3, media_kb=2, seed=5)
    other = await sandbox_factory(users=3, media_kb=2, seed=6)
    exported = await export(sandbox_http, first)
    assert exported == await export(sandbox_http, again)
    assert exported != await export(sandbox_http, other)
    mine, theirs = orjson.loads(exported), orjson.loads(await export(sandbox_http, other))
    assert mine["users"].keys() == theirs["users"].keys()
    assert mine["media"].keys() == theirs["media"].keys()
    assert mine["group"]["profile"] != theirs["group"]["profile"]


async def test_export_is_canonical_and_carries_digests_not_bytes(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    raw = await export(sandbox_http, sandbox_url)
    body = orjson.loads(raw)
    assert raw == orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    assert set(body) == {"tenant_id", "group_id", "group", "users", "media"}
    assert set(body["group"]) == set(GROUP_ENTITIES)
    assert all(set(docs) == set(USER_ENTITIES) for docs in body["users"].values())
    assert all(set(file) == {"sha256", "size"} for file in body["media"].values())
    assert len(body["media"]) == 2 + 4 + 1  # group announcements, one per user, a recording


def test_generation_is_lazy_enough_for_thousands_of_users() -> None:
    dataset = Dataset(tenants=2, groups=10, users=100, seed=3, media_kb=100)
    groups = [g for t in dataset.tenant_ids() for g in dataset.group_ids(t)]
    files = [f for g in groups for f in dataset.media_files(g)]
    assert sum(len(dataset.user_ids(g)) for g in groups) == 2000
    assert sum(f.size for f in files) > 200 * 1000 * 1000
    chunks = dataset.audio_chunks(files[-1].file_id)
    assert next(chunks).startswith(b"RIFF")
    assert all(len(chunk) <= 64 * 1024 for chunk in chunks)


# -- lists, entities and seed 003's rules ---------------------------------------------------


async def test_paging(sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession) -> None:
    base = await sandbox_factory(users=10)
    users = f"{base}{GROUP}/users/"
    everything = await get_ok(sandbox_http, users)
    assert everything["total"] == 10
    seen = []
    for page in (1, 2, 3, 4):
        body = await get_ok(sandbox_http, f"{users}?_page={page}&_pagesize=3")
        assert body["total"] == 10
        seen += body["items"]
    assert [len(p) for p in (seen[:3], seen[3:6], seen[6:9], seen[9:])] == [3, 3, 3, 1]
    assert seen == everything["items"]
    assert (await get_ok(sandbox_http, f"{users}?_page=5&_pagesize=3"))["items"] == []
    for bad in ("_page=0", "_pagesize=x", "_page=-1&_pagesize=2"):
        status, body = await fetch(sandbox_http, "GET", f"{users}?{bad}")
        assert status == 400
        assert body[0].startswith("Incorrect parameters sent: _page")


async def test_every_entity_is_served(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    for entity in GROUP_ENTITIES:
        assert isinstance(await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/{entity}"), dict)
    for entity in USER_ENTITIES:
        assert isinstance(await get_ok(sandbox_http, f"{sandbox_url}{USER}/{entity}"), dict)
    profile = await get_ok(sandbox_http, f"{sandbox_url}{USER}/profile")
    assert profile["id"] == "t01-g01-u0002"
    assert set(profile["line"]) == {"number", "context"}
    voicemail = await get_ok(sandbox_http, f"{sandbox_url}{USER}/voice_mail")
    assert {"mailbox", "password", "email", "fullname", "attach"} <= set(voicemail)
    call_center = await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/call_center")
    assert {"agents", "queues", "recording_campaigns"} <= set(call_center)
    for entity in MEDIA_ENTITIES:
        files = (await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/{entity}"))["files"]
        assert files and all({"id", "name", "size", "sha256"} <= set(f) for f in files)
    assert DATA_ENTITIES == ("recordings",)
    recordings = await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/recordings/")
    assert recordings["total"] == len(recordings["items"]) == 1
    assert {"id", "size", "sha256", "cid", "caller"} <= set(recordings["items"][0])


async def test_not_found(sandbox_url: str, sandbox_http: aiohttp.ClientSession) -> None:
    for path in (
        "/1.0/tenants/t09/groups/",
        "/1.0/tenants/t1/groups/",
        "/1.0/tenants/t01/groups/t02-g01/users/",
        f"{GROUP}/users/t01-g01-u0099/profile",
        f"{GROUP}/no_such_entity",
        f"{USER}/ivr",
        f"{GROUP}/media/t01-g01-ann-99",
        "/1.0/nowhere",
    ):
        status, body = await fetch(sandbox_http, "GET", f"{sandbox_url}{path}")
        assert status == 404, path
        assert isinstance(body, list) and all(isinstance(m, str) for m in body)


async def test_bad_bodies_are_400_naming_the_problem(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    url = f"{sandbox_url}{GROUP}/fax_messaging"
    json_type = {"Content-Type": "application/json"}
    status, body = await fetch(sandbox_http, "PUT", url, data=b"{not json", headers=json_type)
    assert (status, body) == (400, ["Incorrect syntax: the body is not valid JSON"])
    status, body = await fetch(sandbox_http, "PUT", url, json={"enabled": "yes", "retries": 2})
    assert (status, body) == (400, ["Incorrect parameters sent: enabled"])
    status, body = await fetch(sandbox_http, "PUT", url, json=[1, 2])
    assert status == 400 and "body" in body[0]
    status, body = await fetch(sandbox_http, "POST", f"{sandbox_url}{GROUP}/users/", json={})
    assert (status, body) == (400, ["Incorrect parameters sent: id"])
    status, body = await fetch(
        sandbox_http, "POST", f"{sandbox_url}{GROUP}/users/", json={"id": "t01-g01-u0001"}
    )
    assert status == 400 and "exists" in body[0]


async def test_accept_and_content_type(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    url = f"{sandbox_url}{GROUP}/profile"
    for accept in ("text/html", "application/json;q=0, text/html", "audio/wav"):
        status, body = await fetch(sandbox_http, "GET", url, headers={"Accept": accept})
        assert status == 406 and isinstance(body, list)
    for accept in ("application/json", "*/*", "text/html, application/*;q=0.5"):
        status, _ = await fetch(sandbox_http, "GET", url, headers={"Accept": accept})
        assert status == 200
    media = f"{sandbox_url}{GROUP}/media/t01-g01-ann-01"
    status, _ = await fetch(sandbox_http, "GET", media, headers={"Accept": "application/json"})
    assert status == 406
    for content_type in ("text/plain", "application/xml"):
        status, body = await fetch(
            sandbox_http, "PUT", url, data=b"{}", headers={"Content-Type": content_type}
        )
        assert (status, body) == (415, ["Content-Type must be application/json"])
    status, _ = await fetch(
        sandbox_http, "PUT", media, data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert status == 415


# -- writes ---------------------------------------------------------------------------------


async def test_writes_show_in_reads_and_export(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    base = f"{sandbox_url}{GROUP}"
    before = await export(sandbox_http, sandbox_url)
    document = {"enabled": True, "number": "1234", "retries": 1}
    status, echoed = await fetch(sandbox_http, "PUT", f"{base}/fax_messaging", json=document)
    assert (status, echoed) == (200, document)
    assert await get_ok(sandbox_http, f"{base}/fax_messaging") == document
    status, _ = await fetch(sandbox_http, "DELETE", f"{base}/ivr")
    assert status == 200
    assert (await fetch(sandbox_http, "GET", f"{base}/ivr"))[0] == 404
    assert (await fetch(sandbox_http, "DELETE", f"{base}/ivr"))[0] == 404

    new_user = {"id": "t01-g01-restored", "firstname": "Ada", "lastname": "Lovelace"}
    status, created = await fetch(sandbox_http, "POST", f"{base}/users/", json=new_user)
    assert (status, created) == (201, {"id": "t01-g01-restored"})
    listed = (await get_ok(sandbox_http, f"{base}/users/"))["items"]
    assert {"id": "t01-g01-restored", "firstname": "Ada", "lastname": "Lovelace"} in listed
    assert (await fetch(sandbox_http, "GET", f"{base}/users/t01-g01-restored/services"))[0] == 404
    services = {"dnd": True}
    await fetch(sandbox_http, "PUT", f"{base}/users/t01-g01-restored/services", json=services)
    assert (await fetch(sandbox_http, "DELETE", f"{base}/users/t01-g01-u0001"))[0] == 200
    assert (await fetch(sandbox_http, "GET", f"{base}/users/t01-g01-u0001/profile"))[0] == 404

    after = orjson.loads(await export(sandbox_http, sandbox_url))
    assert after["group"]["fax_messaging"] == document
    assert "ivr" not in after["group"]
    assert after["users"]["t01-g01-restored"] == {"profile": new_user, "services": services}
    assert "t01-g01-u0001" not in after["users"]
    assert orjson.loads(before)["users"]["t01-g01-u0002"] == after["users"]["t01-g01-u0002"]
    other_group = await export(sandbox_http, sandbox_url, "/1.0/tenants/t01/groups/t01-g02")
    assert "t01-g01-restored" not in orjson.loads(other_group)["users"]


async def test_copying_one_sandbox_into_another_makes_exports_equal(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    source = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=3, seed=1)
    target = await sandbox_factory(tenants=1, groups=1, users=3, media_kb=3, seed=2)
    await fetch(sandbox_http, "DELETE", f"{target}{GROUP}/users/t01-g01-u0003")
    wanted = orjson.loads(await export(sandbox_http, source))
    assert await export(sandbox_http, source) != await export(sandbox_http, target)
    for entity, document in wanted["group"].items():
        await fetch(sandbox_http, "PUT", f"{target}{GROUP}/{entity}", json=document)
    for user_id, documents in wanted["users"].items():
        await fetch(sandbox_http, "POST", f"{target}{GROUP}/users/", json={"id": user_id})
        for entity, document in documents.items():
            url = f"{target}{GROUP}/users/{user_id}/{entity}"
            assert (await fetch(sandbox_http, "PUT", url, json=document))[0] == 200
    for file_id in wanted["media"]:
        async with sandbox_http.get(f"{source}{GROUP}/media/{file_id}") as response:
            audio = await response.read()
        headers = {"Content-Type": "audio/wav"}
        url = f"{target}{GROUP}/media/{file_id}"
        assert (await fetch(sandbox_http, "PUT", url, data=audio, headers=headers))[0] == 200
    assert await export(sandbox_http, target) == await export(sandbox_http, source)


# -- media ----------------------------------------------------------------------------------


async def test_media_bytes_match_their_listed_digest(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    listed = (await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/announcements"))["files"]
    listed += (await get_ok(sandbox_http, f"{sandbox_url}{USER}/announcements"))["files"]
    listed += (await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/recordings/"))["items"]
    assert len(listed) == 4
    for file in listed:
        async with sandbox_http.get(f"{sandbox_url}{GROUP}/media/{file['id']}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "audio/wav"
            assert int(response.headers["Content-Length"]) == file["size"] == 4096
            audio = await response.read()
        assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
        assert hashlib.sha256(audio).hexdigest() == file["sha256"]


async def test_media_upload_is_streamed_back_and_exported(
    sandbox_url: str, sandbox_http: aiohttp.ClientSession
) -> None:
    url = f"{sandbox_url}{GROUP}/media/t01-g01-rec-0001"
    parts = [bytes([n]) * 100_000 for n in range(7)]

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    headers = {"Content-Type": "application/octet-stream"}
    status, stored = await fetch(sandbox_http, "PUT", url, data=body(), headers=headers)
    assert (status, stored) == (200, {"id": "t01-g01-rec-0001", "size": 700_000, "sha256": digest})
    async with sandbox_http.get(url) as response:
        assert hashlib.sha256(await response.read()).hexdigest() == digest
    recordings = await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/recordings/")
    assert recordings["items"][0]["sha256"] == digest
    exported = orjson.loads(await export(sandbox_http, sandbox_url))
    assert exported["media"]["t01-g01-rec-0001"] == {"sha256": digest, "size": 700_000}
    assert (await fetch(sandbox_http, "DELETE", url))[0] == 200
    assert (await fetch(sandbox_http, "GET", url))[0] == 404
    assert (await get_ok(sandbox_http, f"{sandbox_url}{GROUP}/recordings/"))["total"] == 0


# -- faults ---------------------------------------------------------------------------------


async def test_error_rate_one_answers_500_and_counts(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    base = await sandbox_factory(error_rate=1.0, users=2)
    for _ in range(3):
        status, body = await fetch(sandbox_http, "GET", f"{base}{GROUP}/profile")
        assert status == 500 and isinstance(body, list)
    assert (await fetch(sandbox_http, "GET", f"{base}/1.0/tenants/"))[0] == 500
    await export(sandbox_http, base)  # never faulted, never counted
    stats = await get_ok(sandbox_http, f"{base}/1.0/_stats")
    assert stats["requests"] == stats["injected_errors"] == 4
    assert stats["injected_timeouts"] == 0
    assert stats["paths"] == {
        f"{GROUP}/profile": {"requests": 3, "injected_errors": 3, "injected_timeouts": 0},
        "/1.0/tenants/": {"requests": 1, "injected_errors": 1, "injected_timeouts": 0},
    }
    status, reset = await fetch(sandbox_http, "POST", f"{base}/1.0/_stats/reset")
    assert status == 200
    assert reset == {
        "requests": 0,
        "injected_errors": 0,
        "injected_timeouts": 0,
        "in_flight": 0,
        "most_in_flight": 0,
        "last_started_at": None,
        "paths": {},
    }


async def test_timeout_injection_hangs_past_the_client_timeout(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    base = await sandbox_factory(timeout_rate=1.0, hang_seconds=10.0, users=2)
    with pytest.raises(asyncio.TimeoutError):
        await fetch(
            sandbox_http, "GET", f"{base}{GROUP}/profile", timeout=aiohttp.ClientTimeout(total=0.3)
        )
    stats = await get_ok(sandbox_http, f"{base}/1.0/_stats")
    assert (stats["requests"], stats["injected_timeouts"], stats["injected_errors"]) == (1, 1, 0)


async def test_latency_delays_but_answers(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    base = await sandbox_factory(latency_ms=20, users=2)
    results = await asyncio.gather(
        *(get_ok(sandbox_http, f"{base}{GROUP}/{entity}") for entity in GROUP_ENTITIES)
    )
    assert all(isinstance(result, dict) for result in results)


async def test_stats_show_requests_in_flight_and_when_the_last_one_started(
    sandbox_factory: SandboxFactory, sandbox_http: aiohttp.ClientSession
) -> None:
    """What a test of a client that must stop at once reads: whether anything is still
    being answered, and whether any request arrived after a given moment."""
    base = await sandbox_factory(latency_ms=400, users=2)
    idle = await get_ok(sandbox_http, f"{base}/1.0/_stats")
    assert (idle["in_flight"], idle["last_started_at"]) == (0, None)
    before = time.time()
    slow = asyncio.create_task(get_ok(sandbox_http, f"{base}{GROUP}/profile"))
    while (await get_ok(sandbox_http, f"{base}/1.0/_stats"))["requests"] == 0:
        await asyncio.sleep(0.01)
    during = await get_ok(sandbox_http, f"{base}/1.0/_stats")
    assert during["in_flight"] == 1
    assert before <= during["last_started_at"] <= time.time()
    await slow
    after = await get_ok(sandbox_http, f"{base}/1.0/_stats")
    assert after["in_flight"] == 0
    assert after["last_started_at"] == during["last_started_at"]  # _stats is not counted


async def test_serve_sandbox_runs_until_cancelled(sandbox_http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = asyncio.create_task(serve_sandbox(SandboxConfig(port=port, users=1)))
    try:
        for _ in range(200):
            try:
                body = await get_ok(sandbox_http, f"http://127.0.0.1:{port}/1.0/tenants/")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.01)
        assert body["total"] == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(sandbox_http, "GET", f"http://127.0.0.1:{port}/1.0/tenants/")
