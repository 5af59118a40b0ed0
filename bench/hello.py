"""The baseline of P1: a bare aiohttp JSON hello handler, served the way ``rewind serve``
serves (one process, AppRunner, no access log). ``python -m bench.hello PORT``."""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web


async def hello(_request: web.Request) -> web.Response:
    return web.json_response({"hello": "world"})


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app, handle_signals=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
