"""The one place that builds Rewind's real adapters from Settings and starts its background
work, for ``rewind serve`` (api.core.app's cleanup contexts) and ``rewind worker`` alike, so
both run the same worker, verifier and scheduler on the same settings.

``runtime`` opens the event store, the artifact store, the sealer and the views and hands
them on as one Services object; ``start_background`` starts the worker, the periodic
verifier and the plan scheduler on it; ``stop`` cancels them."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from adapters.artifacts import FolderArtifactStore
from adapters.event_store import open_application
from adapters.scheduler import Scheduler
from adapters.secrets import load_sealer
from adapters.settings import Settings
from adapters.verifier import PERIODIC_STATUSES, run_periodic_verifier
from adapters.worker import Worker
from api.core.services import Services
from projections.service import ViewsService
from projections.views import BackupFilters

WORKER = "rewind-worker"
VERIFIER = "rewind-verifier"
SCHEDULER = "rewind-scheduler"


def worker_id_for(data_dir: Path) -> str:
    """A stable id per data directory, so a restarted server resumes its own interrupted
    jobs at once instead of waiting for their lease to expire."""
    path = data_dir / "worker-id"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"serve-{uuid.uuid4().hex[:12]}\n")
    return path.read_text().strip()


@contextlib.asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Services]:
    """The event store, artifacts, sealer and running views, closed in reverse order."""
    rewind = await asyncio.to_thread(open_application, settings)
    views = ViewsService(settings)
    services = Services(
        settings=settings,
        app=rewind,
        artifacts=FolderArtifactStore(settings.data_dir / "artifacts"),
        sealer=load_sealer(settings.data_dir),
        views=views,
    )
    views_task = asyncio.create_task(views.run(), name="rewind-views")
    while views.runner is None and not views_task.done():
        await asyncio.sleep(0.01)
    if views_task.done():
        views_task.result()
    try:
        yield services
    finally:
        views_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await views_task
        await services.close()
        await asyncio.to_thread(rewind.close)


def _verify_candidates(services: Services) -> list[str]:
    """Ids of the backups a verification can move (SUCCESS, MISSING), from the views."""
    filters = BackupFilters(status=list(PERIODIC_STATUSES))
    _, rows = services.views.view.list_backups(filters)
    return [row.id for row in rows]


def start_background(services: Services, worker_id: str) -> list[asyncio.Task[None]]:
    """Start the worker (claims, runs and resumes jobs), the periodic verifier (every
    ``verify_interval_seconds``, a random ``verify_sample_share`` of SUCCESS and MISSING
    backups, principal "verifier"; off when the share is 0) and the plan scheduler (fires
    plans on their cron and applies retention; several on one database fire each tick
    once). The tasks are also the services' writers, which a damaged store stops."""
    settings = services.settings
    worker = Worker(
        services.app,
        services.artifacts,
        worker_id=worker_id,
        lease_seconds=settings.lease_seconds,
        max_jobs=settings.worker_concurrency,
        sealer=services.sealer,
    )
    services.nudge = worker.nudge
    tasks = [asyncio.create_task(worker.run(), name=WORKER)]
    if settings.verify_sample_share > 0:
        verifier = run_periodic_verifier(
            services.app,
            services.artifacts,
            lambda: _verify_candidates(services),
            interval_seconds=settings.verify_interval_seconds,
            share=settings.verify_sample_share,
        )
        tasks.append(asyncio.create_task(verifier, name=VERIFIER))
    scheduler = Scheduler(services.app, on_fired=services.nudge)
    run = scheduler.run(settings.scheduler_tick_seconds)
    tasks.append(asyncio.create_task(run, name=SCHEDULER))
    services.writers.extend(tasks)
    return tasks


async def stop(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel the background tasks, the last started first, and wait for each to end."""
    for task in reversed(list(tasks)):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
