"""Bare aiohttp handlers served the way ``rewind serve`` serves (one process, AppRunner, no
access log): P1's baseline, a JSON hello; and P2's ceilings, a ``POST /api/v1/backups`` that
reads the JSON body and answers 202 having done nothing else (no token, no event written),
or, given a PBX URL, only after asking the PBX for the group once, as Rewind's scope probe
does. ``python -m bench.hello PORT [PBX_URL]``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web


async def hello(_request: web.Request) -> web.Response:
    return web.json_response({"hello": "world"})


def accept_handler(
    pbx: aiohttp.ClientSession | None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The POST handler: 202 for any scope, after one GET of the group through ``pbx`` (a
    session on the PBX's URL) when given; its answer, found or not, is not looked at: a
    ceiling, not a check."""

    async def accept(request: web.Request) -> web.Response:
        body = await request.json()
        if pbx is not None:
            group = f"/1.0/tenants/{body['tenant_id']}/groups/{body['group_id']}/users/"
            async with pbx.get(group, params={"_pagesize": 1}) as answer:
                await answer.read()
        return web.json_response({"status": "INITIALIZING"}, status=202)

    return accept


async def main(port: int, pbx_url: str | None) -> None:
    pbx = None
    if pbx_url is not None:
        pbx = aiohttp.ClientSession(pbx_url, connector=aiohttp.TCPConnector(limit=32))
    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_post("/api/v1/backups", accept_handler(pbx))
    runner = web.AppRunner(app, handle_signals=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        if pbx is not None:
            await pbx.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
