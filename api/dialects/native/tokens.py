"""``/api/v1/tokens`` (admin, not limited to tenants): issue, list and revoke API tokens.

``POST`` ``{name, role, tenants?, expires_at? | ttl_seconds?}`` -> 201 ``{id, token, name,
role, tenants, expires_at, ...}``: the secret ``token`` appears in this answer and nowhere
else, ever (only its hash is stored). ``GET`` -> ``{total, items}`` without secrets, with each
token's ``status`` (active, expired, revoked). ``DELETE /api/v1/tokens/{id}`` revokes it
(idempotent) -> 200 with its view; every process refuses it within about a second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, Field, field_validator, model_validator

from adapters.secrets import hash_token, new_token
from api.core.auth import PRINCIPAL, TOKEN_CACHE
from api.core.negotiation import read_json_object
from api.core.schemas import PageQuery, Strict
from api.core.services import SERVICES
from domain.token import RESERVED_NAMES, Role, Token, TokenSpec, unknown_token

token_routes = web.RouteTableDef()

MAX_TTL_SECONDS = 10 * 366 * 24 * 3600


class TokenRequest(Strict):
    """POST /api/v1/tokens."""

    name: str = Field(min_length=1, max_length=64)
    role: Role
    tenants: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    expires_at: datetime | None = None
    ttl_seconds: int | None = Field(default=None, ge=1, le=MAX_TTL_SECONDS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved for Rewind's own principals")
        return value

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if aware <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return aware

    @model_validator(mode="after")
    def _one_expiry(self) -> TokenRequest:
        if self.expires_at is not None and self.ttl_seconds is not None:
            raise ValueError("give expires_at or ttl_seconds, not both")
        return self

    def spec(self) -> TokenSpec:
        expires = self.expires_at
        if self.ttl_seconds is not None:
            expires = datetime.now(UTC) + timedelta(seconds=self.ttl_seconds)
        tenants = None if self.tenants is None else tuple(self.tenants)
        return TokenSpec(name=self.name, role=self.role, tenants=tenants, expires_at=expires)


class TokenView(BaseModel):
    """A token as the API shows it (``token_view``): never its secret, never its hash."""

    id: str
    name: str
    role: Role
    tenants: list[str] | None
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    status: Literal["active", "expired", "revoked"]


class IssuedToken(TokenView):
    """POST /api/v1/tokens: the view plus the secret, which no other answer ever shows."""

    token: str


def token_view(token: Token, now: datetime) -> dict[str, Any]:
    """A token as the API shows it: never its secret, never its hash."""
    spec = token.spec
    if token.revoked_at is not None:
        status = "revoked"
    elif not token.is_valid_at(now):
        status = "expired"
    else:
        status = "active"
    return {
        "id": str(token.id),
        "name": spec.name,
        "role": spec.role.value,
        "tenants": None if spec.tenants is None else list(spec.tenants),
        "expires_at": None if spec.expires_at is None else spec.expires_at.isoformat(),
        "created_at": token.issued_at.isoformat(),
        "created_by": token.issued_by,
        "revoked_at": None if token.revoked_at is None else token.revoked_at.isoformat(),
        "revoked_by": token.revoked_by,
        "status": status,
    }


@token_routes.post("/api/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = TokenRequest.model_validate(await read_json_object(request))
    secret = new_token()
    token_hash = hash_token(secret)
    principal = request[PRINCIPAL]
    token = await services.run(services.app.issue_token, token_hash, body.spec(), principal)
    request.app[TOKEN_CACHE].forget(token_hash)
    return web.json_response({**token_view(token, datetime.now(UTC)), "token": secret}, status=201)


@token_routes.get("/api/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    query = PageQuery.from_request(request)
    tokens = await services.query(services.app.list_tokens)
    tokens.sort(key=lambda t: t.issued_at, reverse=True)
    now = datetime.now(UTC)
    page = query.slice(tokens)
    return web.json_response({"total": len(tokens), "items": [token_view(t, now) for t in page]})


@token_routes.delete("/api/v1/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    raw = request.match_info["token_id"]
    try:
        token_id = UUID(raw)
    except ValueError:
        raise unknown_token(raw) from None
    token = await services.run(services.app.revoke_token, token_id, request[PRINCIPAL])
    request.app[TOKEN_CACHE].forget(token.token_hash)
    return web.json_response(token_view(token, datetime.now(UTC)))
