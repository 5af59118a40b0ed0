"""A load generator in its own process (used when wrk is not available): ``python -m
bench.loadgen URL CONNECTIONS SECONDS [TOKEN]`` keeps CONNECTIONS requests in flight on
keep-alive connections and prints ``requests N errors E seconds S``."""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp


async def main(url: str, connections: int, seconds: float, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    done = errors = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def lane() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with session.get(url) as answer:
                    await answer.read()
                    if answer.status == 200:
                        done += 1
                    else:
                        errors += 1

        await asyncio.gather(*(lane() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    print(f"requests {done} errors {errors} seconds {elapsed:.3f}", flush=True)


if __name__ == "__main__":
    token = sys.argv[4] if len(sys.argv) > 4 else None
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), token))
