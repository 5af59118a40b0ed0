"""The aiohttp application: an app factory in aiohttp's style, with cleanup contexts that
open the event store, start the demo sandbox, run the worker, and check the stores
(api.core.startup_checks), each undone in reverse order on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from adapters.artifacts import ArtifactStore
from adapters.event_store import open_application
from adapters.sandbox import SandboxConfig, start_sandbox
from adapters.secrets import load_sealer
from adapters.settings import Settings
from adapters.url_credentials import split_user_info
from adapters.verifier import PERIODIC_STATUSES, run_periodic_verifier
from api.core.admin_bootstrap import bootstrap_admin_ctx
from api.core.auth import TOKEN_CACHE, TokenCache
from api.core.front_door import front_door
from api.core.negotiation import MAX_BODY_BYTES
from api.core.openapi_route import install_openapi
from api.core.operations import install_operations
from api.core.routing import application
from api.core.services import SERVICES, Services
from api.core.startup_checks import store_checks_ctx
from api.dialects.apio.routes import apio_routes
from api.dialects.gbots.routes import install_gbots
from api.dialects.native.backups import routes
from api.dialects.native.lifecycle import lifecycle_routes
from api.dialects.native.plans import plan_routes
from api.dialects.native.restores import restore_routes
from api.dialects.native.tokens import token_routes
from api.dialects.qradar.routes import qradar_routes
from api.dialects.unitrends.routes import unitrends_routes
from domain.errors import UnknownHost
from domain.host import HostSettings
from domain.plan import DEFAULT_HOST_ID
from projections.service import ViewsService
from projections.views import BackupFilters

log = structlog.get_logger("rewind.server")


@dataclass(frozen=True)
class ServeOptions:
    settings: Settings
    admin_token_hash: str | None = None
    """The hash of REWIND_ADMIN_TOKEN (pins the bootstrap admin token); None: one is made
    on a first start (api.core.admin_bootstrap)."""
    pbx_url: str | None = None
    demo: bool = False
    run_worker: bool = True


OPTIONS = web.AppKey("options", ServeOptions)
DEMO_URL = web.AppKey("demo_url", str)


def worker_id_for(data_dir: Path) -> str:
    """A stable id per data directory, so a restarted server resumes its own interrupted
    jobs at once instead of waiting for their lease to expire."""
    path = data_dir / "worker-id"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(f"serve-{uuid.uuid4().hex[:12]}\n")
    return path.read_text().strip()


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[OPTIONS].settings
    rewind = await asyncio.to_thread(open_application, settings)
    artifacts = ArtifactStore(settings.data_dir / "artifacts")
    views = ViewsService(settings)
    services = Services(
        settings=settings,
        app=rewind,
        artifacts=artifacts,
        sealer=load_sealer(settings.data_dir),
        views=views,
    )
    app[SERVICES] = services
    views_task = asyncio.create_task(views.run(), name="rewind-views")
    while views.runner is None and not views_task.done():
        await asyncio.sleep(0.01)
    if views_task.done():
        views_task.result()
    yield
    views_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await views_task
    await services.close()
    await asyncio.to_thread(rewind.close)


def _ensure_default_host(services: Services, url: str, name: str) -> None:
    """Register (or re-point) the default host at ``url``. User info in it (``--pbx
    http://user:password@pbx``) becomes the host's sealed credentials, as at POST
    /api/v1/hosts: the URL is recorded without it."""
    app = services.app
    base_url, credentials = split_user_info(url)
    sealed = None if credentials is None else services.sealer.seal(credentials)
    try:
        host = app.get_host(DEFAULT_HOST_ID)
    except UnknownHost:
        settings = HostSettings(name=name, base_url=base_url, sealed_credentials=sealed)
        app.register_host(DEFAULT_HOST_ID, settings, "system")
        return
    current = host.settings
    update: dict[str, str | None] = {}
    if current.base_url != base_url:
        update["base_url"] = base_url
    if credentials is not None and services.host_credentials(current) != credentials:
        update["sealed_credentials"] = sealed
    if update:
        app.update_host(DEFAULT_HOST_ID, current.model_copy(update=update), "system")


async def _default_host_ctx(app: web.Application) -> AsyncIterator[None]:
    options = app[OPTIONS]
    services = app[SERVICES]
    runner: web.AppRunner | None = None
    if options.demo:
        runner, url = await start_sandbox(SandboxConfig(port=0))
        app[DEMO_URL] = url
        await asyncio.to_thread(_ensure_default_host, services, url, "demo sandbox")
    elif options.pbx_url:
        await asyncio.to_thread(_ensure_default_host, services, options.pbx_url, "pbx")
    yield
    if runner is not None:
        await runner.cleanup()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    options = app[OPTIONS]
    services = app[SERVICES]
    task: asyncio.Task[None] | None = None
    if options.run_worker:
        from adapters.worker import Worker

        worker = Worker(
            services.app,
            services.artifacts,
            worker_id=worker_id_for(options.settings.data_dir),
            lease_seconds=options.settings.lease_seconds,
            max_jobs=options.settings.worker_concurrency,
            sealer=services.sealer,
        )
        services.nudge = worker.nudge
        task = asyncio.create_task(worker.run(), name="rewind-worker")
        services.writers.append(task)
    services.ready = True
    yield
    services.ready = False
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _verify_candidates(services: Services) -> list[str]:
    """Ids of the backups a verification can move (SUCCESS, MISSING), from the views."""
    filters = BackupFilters(status=list(PERIODIC_STATUSES))
    _, rows = services.views.view.list_backups(filters)
    return [row.id for row in rows]


async def _verifier_ctx(app: web.Application) -> AsyncIterator[None]:
    """The periodic verifier (adapters.verifier): every ``verify_interval_seconds``, a random
    ``verify_sample_share`` of SUCCESS and MISSING backups, principal "verifier". It runs
    wherever the worker runs (not under --no-worker)."""
    options = app[OPTIONS]
    services = app[SERVICES]
    settings = options.settings
    task: asyncio.Task[None] | None = None
    if options.run_worker and settings.verify_sample_share > 0:
        task = asyncio.create_task(
            run_periodic_verifier(
                services.app,
                services.artifacts,
                lambda: _verify_candidates(services),
                interval_seconds=settings.verify_interval_seconds,
                share=settings.verify_sample_share,
            ),
            name="rewind-verifier",
        )
        services.writers.append(task)
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    """The plan scheduler (adapters.scheduler): fires plans on their cron and applies
    their retention, every ``scheduler_tick_seconds``. It runs wherever the worker runs
    (not under --no-worker); several on one PostgreSQL database fire each tick once."""
    options = app[OPTIONS]
    services = app[SERVICES]
    task: asyncio.Task[None] | None = None
    if options.run_worker:
        from adapters.scheduler import Scheduler

        scheduler = Scheduler(services.app, on_fired=services.nudge)
        task = asyncio.create_task(
            scheduler.run(options.settings.scheduler_tick_seconds), name="rewind-scheduler"
        )
        services.writers.append(task)
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(options: ServeOptions) -> web.Application:
    app = application(middlewares=[front_door], client_max_size=MAX_BODY_BYTES)
    app[OPTIONS] = options
    app[TOKEN_CACHE] = TokenCache()
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(bootstrap_admin_ctx(options.admin_token_hash))
    app.cleanup_ctx.append(_default_host_ctx)
    app.cleanup_ctx.append(_worker_ctx)
    app.cleanup_ctx.append(_verifier_ctx)
    app.cleanup_ctx.append(_scheduler_ctx)
    app.cleanup_ctx.append(store_checks_ctx)  # last: it stops the writers started above
    app.add_routes(routes)
    app.add_routes(lifecycle_routes)
    app.add_routes(restore_routes)
    app.add_routes(apio_routes)
    app.add_routes(qradar_routes)
    app.add_routes(plan_routes)
    install_gbots(app)
    app.add_routes(token_routes)
    app.add_routes(unitrends_routes)
    install_openapi(app)
    install_operations(app)
    return app
