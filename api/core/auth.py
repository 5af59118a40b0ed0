"""Authentication and authorisation of every request.

A token comes in ``Authorization: Bearer``, ``AuthToken`` (seed 004) or ``SEC`` (QRadar),
looked at in that order (an ``Authorization`` of another scheme is passed over). Only its
SHA-256 is used: the token whose id derives from that hash is read from the event store
(one keyed read) and kept in a small per-process cache for at most ``CACHE_SECONDS``, so a
token revoked by another process sharing PostgreSQL is refused here within that time; a
revoke in this process empties the cache entry at once. Expiry is checked on every request.

The middleware then applies api.core.policy: a route without an entry is refused (403), a role
without the permission is refused (403), a token limited to tenants is refused global routes
(403) and gets 404 for another tenant's resources named in the path. Path parameters are
validated (api.core.paths) before anything looks them up. A missing token is 401; unknown,
expired and revoked tokens get one and the same 401, which does not tell them apart.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute, SystemRoute

from adapters.secrets import hash_token
from api.core.errors import BadRequest
from api.core.paths import validate_path
from api.core.policy import Missing, Permission, Rule, allows, rule_for
from api.core.services import SERVICES, Services
from domain.errors import NotFound
from domain.token import Role, Token

log = structlog.get_logger("rewind.auth")

TOKEN_HEADERS = ("Authorization", "AuthToken", "SEC")
CACHE_SECONDS = 1.0
"""How long a token lookup is trusted: the longest a revoke elsewhere can go unnoticed."""
REFRESH_AFTER = 0.5
"""The share of ``CACHE_SECONDS`` after which an entry in use is read again in the
background (see ``TokenCache``)."""
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name (the principal commands record), role, tenants."""

    token_id: str
    name: str
    role: Role
    tenants: frozenset[str] | None
    expires_at: datetime | None
    expires_ts: float | None = field(init=False)
    """``expires_at`` as a POSIX timestamp: checked on every request, where comparing two
    floats costs far less than building an aware datetime (measured under polling load)."""

    def __post_init__(self) -> None:
        stamp = None if self.expires_at is None else self.expires_at.timestamp()
        object.__setattr__(self, "expires_ts", stamp)

    @classmethod
    def of(cls, token: Token) -> Principal:
        spec = token.spec
        tenants = None if spec.tenants is None else frozenset(spec.tenants)
        return cls(str(token.id), spec.name, spec.role, tenants, spec.expires_at)

    def sees(self, tenant_id: str | None) -> bool:
        """Whether a resource of ``tenant_id`` (None: whole host) is visible to this token."""
        return self.tenants is None or (tenant_id is not None and tenant_id in self.tenants)

    def expired(self, now: float) -> bool:
        """Whether the token has expired at ``now`` (``time.time()``)."""
        return self.expires_ts is not None and now >= self.expires_ts


PRINCIPAL = web.RequestKey("principal", str)
"""The calling token's name, as commands record it."""
IDENTITY = web.RequestKey("identity", Principal)


class Uncached(enum.Enum):
    """What ``TokenCache.fresh`` answers when the store must be asked."""

    UNCACHED = "uncached"


UNCACHED = Uncached.UNCACHED


class TokenCache:
    """Token hash -> principal (None: unknown or revoked), each trusted ``CACHE_SECONDS``.

    An entry in use is read again from the store in the background once it is
    ``REFRESH_AFTER`` of that old, so under steady use it is replaced before it expires and
    requests do not all stop at once to wait for one read (measured under polling load). A revoke
    elsewhere is still noticed within ``CACHE_SECONDS``: an entry is never trusted for longer."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._loading: dict[str, asyncio.Task[Principal | None]] = {}
        self._hashes: dict[str, str] = {}
        self._forgotten = 0

    def hash_of(self, token: str) -> str:
        """The token's SHA-256, remembered for the tokens in use (a dictionary lookup costs
        less than hashing again on every request). Only the hash ever leaves this process."""
        known = self._hashes.get(token)
        if known is None:
            if len(self._hashes) >= CACHE_MAX_ENTRIES:
                self._hashes.clear()
            known = self._hashes[token] = hash_token(token)
        return known

    def fresh(self, services: Services, token_hash: str) -> Principal | Uncached | None:
        """The cached answer while it is trusted (None: unknown or revoked), ``UNCACHED``
        when the store must be asked first: no I/O, so a request can be admitted without a
        suspension (measured under polling load)."""
        cached = self._entries.get(token_hash)
        if cached is None:
            return UNCACHED
        age = time.monotonic() - cached[0]
        if age >= self.ttl:
            return UNCACHED
        if age >= self.ttl * REFRESH_AFTER:
            self._load_once(services, token_hash)
        return cached[1]

    async def lookup(self, services: Services, token_hash: str) -> Principal | None:
        cached = self.fresh(services, token_hash)
        if not isinstance(cached, Uncached):
            return cached
        return await asyncio.shield(self._load_once(services, token_hash))

    def _load_once(self, services: Services, token_hash: str) -> asyncio.Task[Principal | None]:
        """The store read of ``token_hash`` in progress, or a new one. Every request that
        misses at once shares it (a task, so no caller's cancellation cancels it for
        others); a read ahead of expiry has no caller, so its failure is only logged."""
        loading = self._loading.get(token_hash)
        if loading is None:
            loading = asyncio.ensure_future(self._load(services, token_hash))
            self._loading[token_hash] = loading
            loading.add_done_callback(lambda done: self._loaded(token_hash, done))
        return loading

    def _loaded(self, token_hash: str, done: asyncio.Task[Principal | None]) -> None:
        self._loading.pop(token_hash, None)
        if not done.cancelled() and done.exception() is not None:
            log.warning("token lookup failed", error=repr(done.exception()))

    async def _load(self, services: Services, token_hash: str) -> Principal | None:
        now = time.monotonic()
        forgotten = self._forgotten
        token = await services.query(services.app.find_token, token_hash)
        principal = None if token is None or token.revoked_at is not None else Principal.of(token)
        if forgotten != self._forgotten:
            return principal  # a revoke here meanwhile: what was read may predate it
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = (now, principal)
        return principal

    def forget(self, token_hash: str) -> None:
        """Drop one entry (after a revoke or an issue in this process); a read already in
        progress does not put it back."""
        self._forgotten += 1
        self._entries.pop(token_hash, None)


TOKEN_CACHE = web.AppKey("token_cache", TokenCache)


def presented_token(request: web.Request) -> str | None:
    """The token of the first token header present (see module docstring)."""
    headers = request.headers
    authorization = headers.get("Authorization", "")
    if authorization.startswith("Bearer "):  # what nearly every client sends
        token = authorization[7:].strip()
        if token:
            return token
    for header in TOKEN_HEADERS:
        value = headers.get(header, "").strip()
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


def _token_hash(request: web.Request) -> str:
    token = presented_token(request)
    if token is None:
        raise _unauthorized(
            "a token is required: Authorization: Bearer TOKEN, AuthToken: TOKEN or SEC: TOKEN"
        )
    return request.app[TOKEN_CACHE].hash_of(token)


def _admitted(request: web.Request, principal: Principal | None) -> Principal:
    """Record who is calling, or refuse an unknown, expired or revoked token (one 401)."""
    if principal is None or principal.expired(time.time()):
        raise _unauthorized("the token is unknown, expired or revoked")
    request[PRINCIPAL] = principal.name
    request[IDENTITY] = principal
    return principal


async def authenticate(request: web.Request) -> Principal:
    """The calling token's principal, read through the cache; 401 when there is none."""
    app = request.app
    token_hash = _token_hash(request)
    return _admitted(request, await app[TOKEN_CACHE].lookup(app[SERVICES], token_hash))


def _permitted(request: web.Request, rule: Rule | None, principal: Principal) -> bool:
    """The checks that need no I/O: the route has a rule, the role its permission, the path
    valid parameters. True when the tenants named in the path must still be looked up."""
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
    # A token that sees every tenant needs no lookup of whose resource the path names.
    return principal.tenants is not None and bool(rule.resources)


async def _check_tenants(request: web.Request, rule: Rule, principal: Principal) -> None:
    """404 when a resource named in the path belongs to a tenant the token does not see."""
    services = request.app[SERVICES]
    for resource in rule.resources:
        value = request.match_info[resource.param]
        tenant = await resource.tenant_of(services, value)
        if not isinstance(tenant, Missing) and not principal.sees(tenant):
            raise NotFound(resource.not_found(value))


def _authorized(
    request: web.Request, rule: Rule | None, principal: Principal
) -> Awaitable[None] | None:
    """The policy's checks for a known caller: None when they are done, or the lookup of
    the tenants the path names, to await. A 404 / 405 is the router's answer as it is."""
    if request.match_info.http_exception is not None:
        return None
    if not _permitted(request, rule, principal):
        return None
    assert rule is not None  # _permitted refuses a route without a rule
    return _check_tenants(request, rule, principal)


async def _admit_after_lookup(request: web.Request, rule: Rule | None) -> None:
    checking = _authorized(request, rule, await authenticate(request))
    if checking is not None:
        await checking


_RULES: dict[tuple[str, AbstractRoute], Rule | None] = {}
"""The policy's rule of each (method, matched route): the same few routes are asked again
and again, and the route object is the cheapest key (measured under polling load)."""


def _rule_of(method: str, route: AbstractRoute) -> Rule | None:
    key = (method, route)
    try:
        return _RULES[key]
    except KeyError:
        pass
    resource = route.resource
    rule = None if resource is None else rule_for(method, resource.canonical)
    if not isinstance(route, SystemRoute):  # a 404/405 is a new route object each time
        _RULES[key] = rule
    return rule


def admit(request: web.Request) -> Awaitable[None] | None:
    """Let the request through or raise its refusal (401, 403, 404, 400): an open route
    needs nothing; any other needs a token, and a matched route the policy's permission.

    None when the request was admitted without waiting (an open route, or a token the cache
    trusts and a path naming no tenant to look up: the polled routes); otherwise
    an awaitable that finishes the checks (a store read) and raises any refusal."""
    rule = _rule_of(request.method, request.match_info.route)
    if rule is not None and rule.permission is Permission.OPEN:
        return None
    app = request.app
    cached = app[TOKEN_CACHE].fresh(app[SERVICES], _token_hash(request))
    if isinstance(cached, Uncached):
        return _admit_after_lookup(request, rule)
    return _authorized(request, rule, _admitted(request, cached))


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
