"""The sandbox PBX: an aiohttp server speaking seed 003's conventions over the generated data.

URL layout (a trailing slash is optional everywhere; ``{entity}`` is a catalogue name):

======  ==========================================================  ==========================
GET     /1.0/tenants/                                               ``{total, items}``
GET     /1.0/tenants/{t}/groups/                                    ``{total, items}``
GET     /1.0/tenants/{t}/groups/{g}/users/                          ``{total, items}``
POST    /1.0/tenants/{t}/groups/{g}/users/                          create (body ``{"id", ...}``)
GET     /1.0/tenants/{t}/groups/{g}/users/{u}                       the user's list item
DELETE  /1.0/tenants/{t}/groups/{g}/users/{u}                       remove the user
GET     /1.0/tenants/{t}/groups/{g}/{entity}                        GROUP_ENTITIES document
PUT     (same)                                                      replace it (JSON object)
DELETE  (same)                                                      delete it (then GET is 404)
GET|PUT|DELETE  /1.0/tenants/{t}/groups/{g}/users/{u}/{entity}      USER_ENTITIES, likewise
GET     /1.0/tenants/{t}/groups/{g}/recordings/                     ``{total, items}`` (DATA)
GET     /1.0/tenants/{t}/groups/{g}/media/{file_id}                 audio/wav bytes, streamed
PUT     (same)                                                      upload (audio/* or
                                                                    application/octet-stream)
DELETE  (same)                                                      delete the file
GET     /1.0/tenants/{t}/groups/{g}/_export                         canonical group (below)
GET     /1.0/_stats            POST /1.0/_stats/reset               fault counters (faults.py)
GET|PUT|DELETE  /1.0/_faults                                        chosen failures (faults.py)
======  ==========================================================  ==========================

List items carry ``id``: tenants ``{id, name}``, groups ``{id, tenant_id, name}``, users
``{id, firstname, lastname, line}`` (from the user's profile, when it has one), recordings
seed 003's recording properties plus ``{id, size, sha256, content_type}``. Announcement
documents are ``{"files": [{id, name, description, content_type, size, sha256}]}``; a file id
names a ``media/{file_id}`` of the same group.

``_export`` is the whole group as it is now, as canonical JSON (orjson, keys sorted at every
level, no whitespace), so identical content gives identical bytes::

    {
      "group": {entity: document, ...},          # present GROUP_ENTITIES only
      "group_id": "t01-g01",
      "media": {file_id: {"sha256": hex, "size": int}, ...},   # every file, never bytes
      "tenant_id": "t01",
      "users": {user_id: {entity: document, ...}, ...}         # every user, present entities
    }

Recording metadata (caller, cid...) is call data, not configuration: it is not in the export;
recordings' bytes are (in ``media``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import ValidationError

from .auth import credentials_middleware
from .config import SandboxConfig
from .dataset import Dataset
from .faults import FailRules, FaultInjector
from .protocol import errors_middleware, incorrect, json_response
from .routes import add_routes
from .state import SandboxState

STATE = web.AppKey("sandbox_state", SandboxState)
FAULTS = web.AppKey("sandbox_faults", FaultInjector)
CONFIG = web.AppKey("sandbox_config", SandboxConfig)


def build_sandbox_app(config: SandboxConfig) -> web.Application:
    """The sandbox application (not started): routes, fault injection, seed 003 errors."""
    faults = FaultInjector(config)
    middlewares: list[Middleware] = [faults.middleware, errors_middleware]
    if config.credentials:
        middlewares.insert(0, credentials_middleware(config.credentials))
    app = web.Application(middlewares=middlewares)
    state = SandboxState(Dataset.from_config(config))
    app[STATE] = state
    app[FAULTS] = faults
    app[CONFIG] = config
    add_routes(app, state)
    app.router.add_get("/1.0/_stats", _stats)
    app.router.add_get("/1.0/_stats/", _stats)
    app.router.add_post("/1.0/_stats/reset", _reset_stats)
    app.router.add_post("/1.0/_stats/reset/", _reset_stats)
    for path in ("/1.0/_faults", "/1.0/_faults/"):
        app.router.add_get(path, _faults)
        app.router.add_put(path, _set_faults)
        app.router.add_delete(path, _clear_faults)

    async def release_hangs(_: web.Application) -> None:
        faults.release()

    async def remove_uploads(_: web.Application) -> None:
        await asyncio.to_thread(state.close)

    app.on_shutdown.append(release_hangs)
    app.on_cleanup.append(remove_uploads)
    return app


async def _stats(request: web.Request) -> web.Response:
    return json_response(request.app[FAULTS].snapshot())


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[FAULTS].reset()
    return json_response(request.app[FAULTS].snapshot())


async def _faults(request: web.Request) -> web.Response:
    return json_response(request.app[FAULTS].rules_snapshot())


async def _set_faults(request: web.Request) -> web.Response:
    """Replace the chosen failures; 400 naming what is wrong with the body."""
    try:
        body = FailRules.model_validate_json(await request.read())
    except ValidationError as error:
        names = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in error.errors()})
        raise incorrect(*names) from None
    request.app[FAULTS].set_rules(body.rules)
    return json_response(request.app[FAULTS].rules_snapshot())


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].set_rules([])
    return json_response(request.app[FAULTS].rules_snapshot())


async def start_sandbox(config: SandboxConfig) -> tuple[web.AppRunner, str]:
    """Start a sandbox in the running loop; return its runner and base URL (the real port).

    ``handler_cancellation`` lets a client that gave up on an injected hang free its handler,
    and the short shutdown timeout keeps ``runner.cleanup()`` from waiting on slow clients.
    """
    runner = web.AppRunner(
        build_sandbox_app(config), access_log=None, handler_cancellation=True, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    address: Any = runner.addresses[0]
    host = config.host if ":" not in config.host else f"[{config.host}]"
    return runner, f"http://{host}:{address[1]}"


async def serve_sandbox(config: SandboxConfig) -> None:
    """Run a sandbox until cancelled (the ``rewind sandbox`` command); prints nothing."""
    runner, _ = await start_sandbox(config)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
