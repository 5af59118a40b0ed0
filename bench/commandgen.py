"""P2's load generator, in its own process: ``python -m bench.commandgen BASE TOKEN
TENANTS GROUPS CLIENTS [ROUNDS]`` starts one backup per group (tenants x groups of them;
each group ROUNDS times, default once) from CLIENTS concurrent clients and prints
``accepted A refused R seconds S``."""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp


async def main(
    base: str, token: str, tenants: int, groups: int, clients: int, rounds: int = 1
) -> None:
    scopes = rounds * [
        (f"t{t:02d}", f"t{t:02d}-g{g:02d}")
        for t in range(1, tenants + 1)
        for g in range(1, groups + 1)
    ]
    queue = iter(scopes)
    accepted = refused = 0
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def client() -> None:
            nonlocal accepted, refused
            for tenant_id, group_id in queue:
                body = {"tenant_id": tenant_id, "group_id": group_id}
                async with session.post(f"{base}/api/v1/backups", json=body) as answer:
                    await answer.read()
                    if answer.status == 202:
                        accepted += 1
                    else:
                        refused += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    print(f"accepted {accepted} refused {refused} seconds {elapsed:.3f}", flush=True)


if __name__ == "__main__":
    base, token = sys.argv[1], sys.argv[2]
    counts = [int(arg) for arg in sys.argv[3:]]
    asyncio.run(main(base, token, *counts))
