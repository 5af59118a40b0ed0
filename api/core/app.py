"""The aiohttp application: an app factory in aiohttp's style, with cleanup contexts that
open the runtime (api.composition), start the demo sandbox, run the background work, and
check the stores (api.core.startup_checks), each undone in reverse order on shutdown. The
routes are the core's operations and OpenAPI document plus every installed dialect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import structlog
from aiohttp import web

from adapters.sandbox import SandboxConfig, start_sandbox
from adapters.settings import Settings
from adapters.url_credentials import split_user_info
from api.composition import runtime, start_background, stop, worker_id_for
from api.core.admin_bootstrap import bootstrap_admin_ctx
from api.core.auth import TOKEN_CACHE, TokenCache
from api.core.front_door import front_door
from api.core.negotiation import MAX_BODY_BYTES
from api.core.openapi_route import install_openapi
from api.core.operations import install_operations
from api.core.routing import application
from api.core.services import SERVICES, Services
from api.core.startup_checks import store_checks_ctx
from api.dialects import DIALECTS, Install
from domain.errors import UnknownHost
from domain.host import HostSettings
from domain.plan import DEFAULT_HOST_ID

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


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    async with runtime(app[OPTIONS].settings) as services:
        app[SERVICES] = services
        yield


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


async def _background_ctx(app: web.Application) -> AsyncIterator[None]:
    """The worker, the verifier and the scheduler (api.composition), unless --no-worker."""
    options = app[OPTIONS]
    services = app[SERVICES]
    tasks: list[asyncio.Task[None]] = []
    if options.run_worker:
        tasks = start_background(services, worker_id_for(options.settings.data_dir))
    services.ready = True
    yield
    services.ready = False
    await stop(tasks)


def create_app(options: ServeOptions, dialects: Iterable[Install] = DIALECTS) -> web.Application:
    """The application speaking ``dialects`` (each one's ``install`` adds its routes, policy
    rules, OpenAPI declarations and error shape)."""
    app = application(middlewares=[front_door], client_max_size=MAX_BODY_BYTES)
    app[OPTIONS] = options
    app[TOKEN_CACHE] = TokenCache()
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(bootstrap_admin_ctx(options.admin_token_hash))
    app.cleanup_ctx.append(_default_host_ctx)
    app.cleanup_ctx.append(_background_ctx)
    app.cleanup_ctx.append(store_checks_ctx)  # last: it stops the writers started above
    install_operations(app)
    for install in dialects:
        install(app)
    install_openapi(app)
    return app
