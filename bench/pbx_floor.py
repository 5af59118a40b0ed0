"""What the sandbox itself allows P5: a bare aiohttp client in its own process fetching the
group's user entities through the same number of concurrent calls as the worker, timed
against the same ideal (calls x latency / concurrency). Whatever this ratio is above 1.0
is the sandbox's (and the machine's) share of P5, not the engine's.

``python -m bench.pbx_floor PBX_URL CALLS CONCURRENCY LATENCY_MS`` prints
``calls N seconds S ratio R p50_ms P``."""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import orjson

GROUP_PATH = "/1.0/tenants/t01/groups/t01-g01"


async def main(pbx: str, calls: int, concurrency: int, latency_ms: float) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(f"{pbx}{GROUP_PATH}/_export") as answer:
            export = orjson.loads(await answer.read())
        paths = [
            f"{pbx}{GROUP_PATH}/users/{user}/{entity}"
            for user, entities in export["users"].items()
            for entity in entities
        ][:calls]
        slots = asyncio.Semaphore(concurrency)
        took: list[float] = []

        async def fetch(url: str) -> None:
            async with slots:
                started = time.perf_counter()
                async with session.get(url) as answer:
                    await answer.read()
                took.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(fetch(url) for url in paths))
        seconds = time.perf_counter() - started
    ideal = len(paths) * latency_ms / 1000 / concurrency
    took.sort()
    print(
        f"calls {len(paths)} seconds {seconds:.3f} ratio {seconds / ideal:.3f} "
        f"p50_ms {took[len(took) // 2] * 1000:.2f}"
    )


if __name__ == "__main__":
    url, calls, concurrency, latency = sys.argv[1:5]
    asyncio.run(main(url, int(calls), int(concurrency), float(latency)))
