"""Authentication: every route but /healthz and /readyz needs ``Authorization: Bearer``
with the admin token (the security issue adds roles, tenants and more headers)."""

from __future__ import annotations

from aiohttp import web

from adapters.secrets import token_matches
from api.errors import Handler, error_response

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
ADMIN_TOKEN_HASH = web.AppKey("admin_token_hash", str)
PRINCIPAL = web.RequestKey("principal", str)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    token = bearer_token(request)
    if token is None or not token_matches(token, request.app[ADMIN_TOKEN_HASH]):
        response = error_response(401, ["missing or invalid token (Authorization: Bearer)"])
        response.headers["WWW-Authenticate"] = 'Bearer realm="rewind"'
        return response
    request[PRINCIPAL] = "admin"
    return await handler(request)
