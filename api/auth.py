"""Authentication and authorisation of every request (DESIGN.md, Security).

A token comes in ``Authorization: Bearer``, ``AuthToken`` (seed 004) or ``SEC`` (QRadar),
looked at in that order (an ``Authorization`` of another scheme is passed over). Only its
SHA-256 is used: the token whose id derives from that hash is read from the event store
(one keyed read) and kept in a small per-process cache for at most ``CACHE_SECONDS``, so a
token revoked by another process sharing PostgreSQL is refused here within that time; a
revoke in this process empties the cache entry at once. Expiry is checked on every request.

The middleware then applies api.policy: a route without an entry is refused (403), a role
without the permission is refused (403), a token limited to tenants is refused global routes
(403) and gets 404 for another tenant's resources named in the path. Path parameters are
validated (api.paths) before anything looks them up. A missing token is 401; unknown,
expired and revoked tokens get one and the same 401, which does not tell them apart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from aiohttp import web

from adapters.secrets import hash_token
from api.context import SERVICES, Services
from api.errors import BadRequest
from api.paths import validate_path
from api.policy import Missing, Permission, Rule, allows, rule_for
from domain.errors import NotFound
from domain.token import Role, Token

log = structlog.get_logger("rewind.auth")

TOKEN_HEADERS = ("Authorization", "AuthToken", "SEC")
CACHE_SECONDS = 1.0
"""How long a token lookup is trusted: the longest a revoke elsewhere can go unnoticed."""
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name (the principal commands record), role, tenants."""

    token_id: str
    name: str
    role: Role
    tenants: frozenset[str] | None
    expires_at: datetime | None

    @classmethod
    def of(cls, token: Token) -> Principal:
        spec = token.spec
        tenants = None if spec.tenants is None else frozenset(spec.tenants)
        return cls(str(token.id), spec.name, spec.role, tenants, spec.expires_at)

    def sees(self, tenant_id: str | None) -> bool:
        """Whether a resource of ``tenant_id`` (None: whole host) is visible to this token."""
        return self.tenants is None or (tenant_id is not None and tenant_id in self.tenants)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


PRINCIPAL = web.RequestKey("principal", str)
"""The calling token's name, as commands record it."""
IDENTITY = web.RequestKey("identity", Principal)


class TokenCache:
    """Token hash -> principal (None: unknown or revoked), each trusted ``CACHE_SECONDS``."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._loading: dict[str, asyncio.Task[Principal | None]] = {}

    async def lookup(self, services: Services, token_hash: str) -> Principal | None:
        cached = self._entries.get(token_hash)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        # When an entry expires under load, every request in flight misses at once: they
        # share one store read (a task, so no caller's cancellation cancels it for others).
        loading = self._loading.get(token_hash)
        if loading is None:
            loading = asyncio.ensure_future(self._load(services, token_hash))
            self._loading[token_hash] = loading
            loading.add_done_callback(lambda _: self._loading.pop(token_hash, None))
        return await asyncio.shield(loading)

    async def _load(self, services: Services, token_hash: str) -> Principal | None:
        now = time.monotonic()
        token = await services.query(services.app.find_token, token_hash)
        principal = None if token is None or token.revoked_at is not None else Principal.of(token)
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = (now, principal)
        return principal

    def forget(self, token_hash: str) -> None:
        """Drop one entry (after a revoke or an issue in this process)."""
        self._entries.pop(token_hash, None)


TOKEN_CACHE = web.AppKey("token_cache", TokenCache)


def presented_token(request: web.Request) -> str | None:
    """The token of the first token header present (see module docstring)."""
    for header in TOKEN_HEADERS:
        value = request.headers.get(header, "").strip()
        if not value:
            continue
        if header == "Authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                continue  # another scheme (a proxy's Basic): look at the other headers
            return token.strip()
        return value
    return None


def identity(request: web.Request) -> Principal:
    return request[IDENTITY]


def _unauthorized(message: str) -> BadRequest:
    return BadRequest(401, message, headers={"WWW-Authenticate": 'Bearer realm="rewind"'})


async def authenticate(request: web.Request) -> Principal:
    token = presented_token(request)
    if token is None:
        raise _unauthorized(
            "a token is required: Authorization: Bearer TOKEN, AuthToken: TOKEN or SEC: TOKEN"
        )
    app = request.app
    principal = await app[TOKEN_CACHE].lookup(app[SERVICES], hash_token(token))
    if principal is None or principal.expired(datetime.now(UTC)):
        raise _unauthorized("the token is unknown, expired or revoked")
    return principal


async def _authorize(request: web.Request, rule: Rule | None, principal: Principal) -> None:
    if rule is None:
        route = request.match_info.route.resource
        pattern = route.canonical if route is not None else request.path
        log.warning("route without an access policy refused", method=request.method, route=pattern)
        raise BadRequest(403, f"no access policy covers {request.method} {pattern}")
    if not allows(principal.role, rule):
        raise BadRequest(
            403, f"role {principal.role.value} may not do this (needs {rule.permission.value})"
        )
    if rule.all_tenants and principal.tenants is not None:
        raise BadRequest(403, "this needs a token that is not limited to tenants")
    validate_path(request)
    if principal.tenants is None:
        return  # sees every tenant: no need to look up whose resource the path names
    services = request.app[SERVICES]
    for resource in rule.resources:
        value = request.match_info[resource.param]
        tenant = await resource.tenant_of(services, value)
        if not isinstance(tenant, Missing) and not principal.sees(tenant):
            raise NotFound(resource.not_found(value))


async def admit(request: web.Request) -> None:
    """Let the request through or raise its refusal (401, 403, 404, 400): an open route
    needs nothing; any other needs a token, and a matched route the policy's permission."""
    resource = request.match_info.route.resource
    pattern = resource.canonical if resource is not None else None
    rule = None if pattern is None else rule_for(request.method, pattern)
    if rule is not None and rule.permission is Permission.OPEN:
        return
    principal = await authenticate(request)
    request[PRINCIPAL] = principal.name
    request[IDENTITY] = principal
    if request.match_info.http_exception is None:
        await _authorize(request, rule, principal)


def check_tenant_allowed(request: web.Request, tenant_id: str | None) -> None:
    """Refuse a command on a scope the calling token may not touch: another tenant answers
    404 as an unknown tenant does; a whole host (no tenant) answers 403."""
    principal = request[IDENTITY]
    if principal.sees(tenant_id):
        return
    if tenant_id is None:
        raise BadRequest(403, "a whole-host scope needs a token that is not limited to tenants")
    raise NotFound(f"tenant_id: the host has no tenant {tenant_id!r}")


def visible_tenants(request: web.Request) -> list[str] | None:
    """The tenants a list may show (None: all)."""
    tenants = request[IDENTITY].tenants
    return None if tenants is None else sorted(tenants)
