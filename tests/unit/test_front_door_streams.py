"""A streamed answer that fails part-way cannot be followed by an error answer: the front
door drops the connection instead, so the client sees a broken transfer, not a second HTTP
answer written into the body of the first (the real middleware, a real aiohttp server)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from api.core.front_door import front_door


async def _streams_then_fails(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    await response.write(b"the first part of a long answer\n")
    raise RuntimeError("the source of the answer failed")


async def _fails_at_once(_request: web.Request) -> web.StreamResponse:
    raise RuntimeError("the source of the answer failed")


async def _raw_get(server: TestServer, path: str) -> bytes:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    return data


async def test_a_stream_failing_midway_is_broken_off_not_answered_twice() -> None:
    app = web.Application(middlewares=[front_door])
    app.router.add_get("/healthz", _streams_then_fails)  # an open route: no token needed
    app.router.add_get("/readyz", _fails_at_once)
    server = TestServer(app)
    await server.start_server()
    try:
        broken = await _raw_get(server, "/healthz")
        failed = await _raw_get(server, "/readyz")
    finally:
        await server.close()

    assert broken.startswith(b"HTTP/1.1 200 ")
    assert broken.count(b"HTTP/1.1 ") == 1
    assert b"the first part" in broken and not broken.endswith(b"0\r\n\r\n")
    assert failed.startswith(b"HTTP/1.1 500 ")  # nothing sent yet: a proper error answer
    assert b"internal error" in failed
