"""Optional authentication of the sandbox PBX: with ``credentials`` set (``rewind sandbox``
reads ``REWIND_SANDBOX_CREDENTIALS``), every call must carry the ``Authorization`` header
the PBX client derives from them (adapters.pbx.client.authorization_header), else 401. It
lets the tests prove that the worker sends a host's unsealed credentials; ``/1.0/_stats``
stays open so a test can read the counters."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from adapters.pbx.client import authorization_header

from .protocol import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PREFIX = "/1.0/_stats"


def credentials_middleware(credentials: str) -> Middleware:
    expected = authorization_header(credentials).encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        sent = request.headers.get("Authorization", "").encode()
        if request.path.startswith(OPEN_PREFIX) or hmac.compare_digest(sent, expected):
            return await handler(request)
        return error_response(401, ["authentication required"])

    return middleware
