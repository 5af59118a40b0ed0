"""What ``rewind serve`` checks about its storage when it starts, and how it says so.

- The data directory must take a synced write before anything else runs: a read-only or
  unwritable directory (or a path that is a file) stops the process with one line naming
  it, not a traceback from deep inside SQLite.
- A start that fails on the storage anyway (a full disk, a damaged event store) ends with
  one line too (``startup_problem``).
- The SQLite stores are checked in the background (adapters.store_health explains why and
  what it costs): ``/readyz`` answers 503 "checking" until the check is done. A damaged
  event store stops the worker, the scheduler and the verifier and refuses every command
  with one line; a damaged views store is set aside and rebuilt from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from adapters.artifacts import probe_writable
from adapters.event_store import EVENTS_FILE
from adapters.storage_faults import storage_fault
from adapters.store_health import RECOVERY, damage_of, event_store_damaged, quick_check
from api.core.services import SERVICES, Services

log = structlog.get_logger("rewind.server")

HEAD_START_SECONDS = 2.0
"""How long the start waits for the store checks before it listens anyway: small stores are
checked by then (no "checking" answer from a fresh server); large ones finish later."""


class StartupRefused(Exception):
    """The process cannot run on this storage; the message is the one line to print."""


def probe_data_dir(data_dir: Path) -> None:
    """Create the data directory if needed and write, sync and remove a file in it;
    StartupRefused naming the directory when that fails."""
    try:
        probe_writable(data_dir, "probe")
    except OSError as error:
        reason = error.strerror or str(error)
        raise StartupRefused(f"the data directory {data_dir} is not writable: {reason}") from None


def startup_problem(error: BaseException, data_dir: Path) -> str | None:
    """The one line for a start that failed on its storage; None for anything else."""
    if isinstance(error, StartupRefused):
        return str(error)
    fault = storage_fault(error)
    if fault is not None:
        return f"the data directory {data_dir} is {fault.kind}: {fault.cause}"
    damage = damage_of(error)
    if damage is not None:
        return (
            f"a store in {data_dir} is damaged ({damage}); if it is {EVENTS_FILE}, recover "
            f"it: see {RECOVERY}"
        )
    return None


async def check_stores(services: Services) -> None:
    """The full check of both SQLite stores, the event log first (see the module)."""
    events = services.settings.data_dir / EVENTS_FILE
    views_path = services.views.sqlite_path
    services.store_checking = EVENTS_FILE
    stop = threading.Event()  # a stop of the server interrupts a check under way
    try:
        problem = await asyncio.to_thread(quick_check, events, stop=stop)
        if problem is not None:
            services.store_damage = event_store_damaged(events, problem)
            log.error(services.store_damage)
            for task in services.writers:
                task.cancel()
            return
        if views_path is not None:
            services.store_checking = views_path.name
            problem = await asyncio.to_thread(quick_check, views_path, stop=stop)
            if problem is not None:
                services.views.request_rebuild(problem)
    except sqlite3.Error as error:  # could not check (not damage): say so, serve on
        log.warning("store check not done", error=str(error))
    finally:
        stop.set()
        services.store_checking = None


async def store_checks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run ``check_stores`` beside the server (SQLite only); the start waits for it a
    little (``HEAD_START_SECONDS``)."""
    services = app[SERVICES]
    task: asyncio.Task[None] | None = None
    if services.settings.database_url is None:
        task = asyncio.create_task(check_stores(services), name="rewind-store-checks")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), HEAD_START_SECONDS)
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
