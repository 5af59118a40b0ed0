"""The first admin token.

``REWIND_ADMIN_TOKEN`` pins it: its hash becomes the bootstrap admin token (named ``admin``),
and a changed value revokes the previous one. Without it, the first ``rewind serve`` on an
empty store makes a random token, keeps only its hash and hands the token to ``rewind
serve`` to print once (``NEW_ADMIN_TOKEN``); later starts, and other processes sharing the
store, print nothing. An older data directory's ``admin-token.sha256`` is adopted instead of
making a new token. A pinned token that was revoked through the API stays revoked (the
server says so in its log): set a new ``REWIND_ADMIN_TOKEN`` to regain admin access.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import structlog
from aiohttp import web

from adapters.secrets import hash_token, legacy_admin_token_hash, new_token
from api.core.services import SERVICES, Services

log = structlog.get_logger("rewind.bootstrap")

NEW_ADMIN_TOKEN = web.AppKey("new_admin_token", str)
"""Set only when this start made the admin token (to be printed once)."""

Ctx = Callable[[web.Application], AsyncIterator[None]]


def ensure_admin_token(services: Services, pinned_hash: str | None) -> str | None:
    """Make sure a bootstrap admin token exists; the new secret if this call made it."""
    app = services.app
    if pinned_hash is not None:
        app.bootstrap_admin(pinned_hash, pinned=True)
        token = app.find_token(pinned_hash)
        if token is None or not token.is_valid_at(datetime.now(UTC)):
            log.error("REWIND_ADMIN_TOKEN was revoked; set a new value to regain admin access")
        return None
    legacy = legacy_admin_token_hash(services.settings.data_dir)
    if legacy is not None:
        app.bootstrap_admin(legacy, pinned=False)
        return None
    secret = new_token()
    return secret if app.bootstrap_admin(hash_token(secret), pinned=False) else None


def bootstrap_admin_ctx(pinned_hash: str | None) -> Ctx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        secret = await asyncio.to_thread(ensure_admin_token, app[SERVICES], pinned_hash)
        if secret is not None:
            app[NEW_ADMIN_TOKEN] = secret
        yield

    return ctx
