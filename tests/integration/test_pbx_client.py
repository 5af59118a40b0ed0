"""The PBX client against the sandbox PBX (and a small flaky server) over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from adapters.pbx.client import (
    PbxCallFailed,
    PbxClient,
    PbxError,
    PbxNotFound,
    PbxRejected,
)
from domain.catalogue import GROUP_ENTITIES, USER_ENTITIES
from tests.integration.conftest import SandboxFactory

GROUP = "/1.0/tenants/t01/groups/t01-g01"
SECRET = "s3cret-Pa55word-t0ken"

FlakyServer = Callable[[int], Awaitable[tuple[str, dict[str, Any]]]]


@pytest.fixture
async def sandbox_flaky_server() -> AsyncIterator[FlakyServer]:
    """A tiny server that answers 503 to the first ``failures`` requests, then succeeds.

    It records what the client sent (Authorization header, uploaded bytes) in the dict it
    returns with its URL. It stands in for a PBX that fails on cue, which the sandbox's random
    faults cannot do deterministically.
    """
    runners: list[web.AppRunner] = []

    async def start(failures: int) -> tuple[str, dict[str, Any]]:
        seen: dict[str, Any] = {"requests": 0, "authorization": []}

        async def handler(request: web.Request) -> web.Response:
            seen["requests"] += 1
            seen["authorization"].append(request.headers.get("Authorization"))
            body = await request.read()
            if seen["requests"] <= failures:
                return web.json_response(["try again later"], status=503)
            seen["body"] = body
            return web.json_response({"ok": True, "size": len(body)})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}", seen

    yield start
    for runner in runners:
        await runner.cleanup()


def entity_paths() -> list[str]:
    """Every entity path of the default sandbox (2 tenants, 2 groups, 10 users)."""
    paths = []
    for t in ("t01", "t02"):
        for g in (f"{t}-g01", f"{t}-g02"):
            group = f"/1.0/tenants/{t}/groups/{g}"
            paths += [f"{group}/{entity}" for entity in GROUP_ENTITIES]
            for u in range(1, 11):
                paths += [f"{group}/users/{g}-u{u:04d}/{entity}" for entity in USER_ENTITIES]
    return paths


async def test_list_all_pages_across_boundaries(sandbox_factory: SandboxFactory) -> None:
    base = await sandbox_factory(users=10)
    async with PbxClient(base) as client:
        whole = (await client.get_json(f"{GROUP}/users/"))["items"]
        for page_size, pages in ((3, 4), (5, 2), (10, 1), (100, 1)):
            before = client.stats.successful_calls
            assert await client.list_all(f"{GROUP}/users/", page_size=page_size) == whole
            assert client.stats.successful_calls - before == pages
        assert [t["id"] for t in await client.list_all("/1.0/tenants/", page_size=1)] == [
            "t01",
            "t02",
        ]
    assert [user["id"] for user in whole] == [f"t01-g01-u{n:04d}" for n in range(1, 11)]


async def test_retries_then_succeeds(sandbox_flaky_server: FlakyServer) -> None:
    url, seen = await sandbox_flaky_server(2)
    async with PbxClient(url, attempts=3, backoff_base_s=0.001) as client:
        assert await client.get_json("/anything") == {"ok": True, "size": 0}
    assert seen["requests"] == 3
    stats = client.stats
    assert (stats.successful_calls, stats.error_calls, stats.retries) == (1, 0, 2)


async def test_gives_up_after_the_last_attempt(sandbox_flaky_server: FlakyServer) -> None:
    url, seen = await sandbox_flaky_server(5)
    async with PbxClient(url, attempts=2, backoff_base_s=0.001) as client:
        with pytest.raises(PbxCallFailed) as failed:
            await client.put_json("/thing", {"a": 1})
    assert (failed.value.path, failed.value.attempts, failed.value.last_status) == (
        "/thing",
        2,
        503,
    )
    assert "try again later" in failed.value.message
    assert seen["requests"] == 2
    assert (client.stats.successful_calls, client.stats.error_calls) == (0, 1)


async def test_client_errors_are_not_retried(sandbox_factory: SandboxFactory) -> None:
    base = await sandbox_factory(users=2)
    async with PbxClient(base, backoff_base_s=0.001) as client:
        with pytest.raises(PbxNotFound) as missing:
            await client.get_json(f"{GROUP}/no_such_entity")
        with pytest.raises(PbxRejected) as rejected:
            await client.put_json(f"{GROUP}/fax_messaging", {"retries": "many"})
        stats = await client.get_json("/1.0/_stats")
    assert missing.value.path == f"{GROUP}/no_such_entity"
    assert (rejected.value.status, rejected.value.messages) == (
        400,
        ["Incorrect parameters sent: retries"],
    )
    assert stats["requests"] == 2  # one attempt each
    assert client.stats.error_calls == 1  # the 400; the 404 is an ignored entity
    assert client.stats.not_found == 1
    assert client.stats.retries == 0


async def test_connection_refused_fails_with_no_status() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PbxClient(f"http://127.0.0.1:{port}", attempts=2, backoff_base_s=0.001) as client:
        with pytest.raises(PbxCallFailed) as failed:
            await client.get_json("/1.0/tenants/")
    assert (failed.value.attempts, failed.value.last_status) == (2, None)
    assert client.stats.error_calls == 1


async def test_counts_match_the_sandbox_faults_exactly(sandbox_factory: SandboxFactory) -> None:
    base = await sandbox_factory(error_rate=0.1, timeout_rate=0.02, hang_seconds=3.0, seed=7)
    attempts = 2
    calls = [(path, n) for n in range(2) for path in entity_paths()]  # 504 distinct calls
    failed: set[str] = set()
    async with PbxClient(
        base, attempts=attempts, timeout_s=0.5, backoff_base_s=0.005, backoff_max_s=0.05
    ) as client:

        async def call(path: str, n: int) -> None:
            try:
                await client.get_json(path, params={"pass": n})
            except PbxCallFailed:
                failed.add(f"{path}?pass={n}")

        await asyncio.gather(*(call(path, n) for path, n in calls))
        stats = client.stats
        sandbox = await client.get_json("/1.0/_stats")

    assert stats.successful_calls + stats.error_calls == len(calls)
    assert stats.not_found == 0
    always_faulted = {
        path
        for path, counts in sandbox["paths"].items()
        if counts["requests"] == attempts
        and counts["injected_errors"] + counts["injected_timeouts"] == counts["requests"]
    }
    assert stats.error_calls == len(always_faulted) == len(failed)
    assert failed == always_faulted
    assert stats.retries == sandbox["requests"] - len(calls)
    assert stats.retries > 0


async def test_stream_hashes_right_without_holding_the_file(
    sandbox_factory: SandboxFactory,
) -> None:
    base = await sandbox_factory(tenants=1, groups=1, users=1, media_kb=20 * 1024)
    async with PbxClient(base, timeout_s=10.0) as client:
        listed = (await client.get_json(f"{GROUP}/announcements"))["files"][0]
        assert listed["size"] == 20 * 1024 * 1024
        digest = hashlib.sha256()
        largest = 0
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            async with contextlib.aclosing(client.stream(f"{GROUP}/media/{listed['id']}")) as body:
                async for chunk in body:
                    largest = max(largest, len(chunk))
                    digest.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert digest.hexdigest() == listed["sha256"]
    assert largest <= 64 * 1024
    assert peak < listed["size"] // 10
    assert client.stats.successful_calls == 2


async def test_stream_retries_before_the_first_chunk(sandbox_flaky_server: FlakyServer) -> None:
    url, seen = await sandbox_flaky_server(1)
    async with PbxClient(url, backoff_base_s=0.001) as client:
        body = b"".join([chunk async for chunk in client.stream("/media/x")])
    assert body == b'{"ok": true, "size": 0}'
    assert seen["requests"] == 2
    assert (client.stats.successful_calls, client.stats.retries) == (1, 1)


async def test_upload_streams_up_and_round_trips(sandbox_factory: SandboxFactory) -> None:
    base = await sandbox_factory(users=1, media_kb=4)
    parts = [bytes([n]) * 65_536 for n in range(16)]
    expected = hashlib.sha256(b"".join(parts)).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async with PbxClient(base) as client:
        for file_id, size in (("t01-g01-ann-01", 16 * 65_536), ("t01-g01-new", None)):
            path = f"{GROUP}/media/{file_id}"
            stored = await client.upload(path, chunks(), size, content_type="audio/wav")
            assert stored == {"id": file_id, "size": 16 * 65_536, "sha256": expected}
            digest = hashlib.sha256()
            async for chunk in client.stream(path):
                digest.update(chunk)
            assert digest.hexdigest() == expected


async def test_upload_from_a_factory_is_retried(sandbox_flaky_server: FlakyServer) -> None:
    url, seen = await sandbox_flaky_server(1)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    async with PbxClient(url, backoff_base_s=0.001) as client:
        assert await client.upload("/media/y", chunks, 6) == {"ok": True, "size": 6}
    assert seen["body"] == b"abcdef"
    assert (client.stats.successful_calls, client.stats.retries) == (1, 1)


async def test_a_consumed_iterable_is_not_sent_twice(sandbox_flaky_server: FlakyServer) -> None:
    url, seen = await sandbox_flaky_server(1)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"abc"

    async with PbxClient(url, backoff_base_s=0.001) as client:
        with pytest.raises(PbxCallFailed) as failed:
            await client.upload("/media/z", chunks(), 3)
    assert (failed.value.attempts, failed.value.last_status) == (1, 503)
    assert seen["requests"] == 1
    assert client.stats.error_calls == 1


async def test_credentials_are_sent_but_never_shown(sandbox_flaky_server: FlakyServer) -> None:
    url, seen = await sandbox_flaky_server(1)
    host = url.removeprefix("http://")
    clients = [
        PbxClient(url, credentials=f"admin:{SECRET}", attempts=1),
        PbxClient(url, credentials=f"Bearer {SECRET}", attempts=1),
        PbxClient(f"http://admin:{SECRET}@{host}", attempts=1),
    ]
    errors: list[BaseException] = []
    for client in clients:
        async with client:
            try:
                await client.get_json("/x")
            except PbxError as error:
                errors.append(error)
            await client.get_json("/x")
    errors += [PbxNotFound("/x"), PbxRejected("/x", 401, ["bad credentials"])]
    shown = [repr(c) + str(c) for c in clients] + [repr(e) + str(e) for e in errors]
    assert all(SECRET not in text for text in shown)
    assert all("<hidden>" in repr(client) for client in clients)
    assert seen["authorization"][0].startswith("Basic ")
    assert seen["authorization"][2] == f"Bearer {SECRET}"
    assert seen["authorization"][4] == seen["authorization"][0]
    assert isinstance(errors[0], PbxCallFailed)
