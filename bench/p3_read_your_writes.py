"""P3 read-your-writes: the time from a command's commit (its save returned) to the moment
the poll view has applied it and a waiting request handler is woken, as ``rewind serve``
does it: the real SQLite store, the views' ProjectionRunner following it, the position
waiter. Commands are backup requests of distinct groups, one after another. Figures: p50
and p99 in ms; the RATIO value is p50 itself, target <= 5 ms (the library's own wait()
polls every 100 ms)."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from adapters.event_store import open_application
from adapters.settings import Settings
from bench.common import Options, fresh_dir, percentile, report
from domain.application import RewindApplication
from domain.backup import BackupSpec
from domain.host import HostSettings
from domain.scope import Scope
from projections.service import ViewsService


def _command(app: RewindApplication, index: int) -> tuple[UUID, int, float]:
    scope = Scope(
        host_id="default",
        tenant_id=f"t{index // 99 + 1:02d}",
        group_id=f"t{index // 99 + 1:02d}-g{index % 99 + 1:02d}",
    )
    app.reset_saved_position()
    backup = app.request_backup(BackupSpec(scope=scope), "bench")
    return backup.id, app.saved_position(), time.perf_counter()


async def measure(commands: int) -> list[float]:
    settings = Settings(data_dir=fresh_dir("p3"))
    app = await asyncio.to_thread(open_application, settings)
    await asyncio.to_thread(
        app.register_host, "default", HostSettings(name="d", base_url="http://x"), "bench"
    )
    views = ViewsService(settings)
    task = asyncio.create_task(views.run())
    try:
        while not views.running:
            await asyncio.sleep(0.01)
        delays = []
        for index in range(commands):
            backup_id, position, committed = await asyncio.to_thread(_command, app, index)
            if not await views.waiter.wait(position, 5.0):
                raise RuntimeError(f"position {position} not applied within 5 s")
            delays.append((time.perf_counter() - committed) * 1000)
            if views.view.backup(str(backup_id)) is None:
                raise RuntimeError("woken before the poll view had the backup")
        return delays
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(app.close)


def run(options: Options) -> float:
    commands = 20 if options.quick else 300
    delays = asyncio.run(measure(commands))
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    print(
        f"{commands} commands: commit -> visible in the poll view p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms, max {max(delays):.2f} ms"
    )
    return report("P3_read_your_writes_p50_ms", p50, "<=5")
