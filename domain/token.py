"""API tokens as event-sourced aggregates.

A token's secret never reaches the domain: the adapters hash it, and the ``Token`` aggregate
is addressed by ``uuid5`` of that hash, so finding the token a request carries is one keyed
read of the event store (no scan, no read model that could lag behind a revoke).

``TokenDirectory`` is a guard in the style of ``HostDirectory``: saved in the same ``save()``
as each issue and revoke, it lists every token (for ``GET /api/v1/tokens``), keeps the names
of active tokens unique (a token's name is the principal its commands record, so two active
tokens must not share one), and remembers which token is the bootstrap admin token
(``REWIND_ADMIN_TOKEN``, or the one ``rewind serve`` printed on first start).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from pydantic import field_validator

from domain.errors import DomainError, NotFound
from domain.guards import guard_id
from domain.model import Aggregate, Immutable
from domain.scope import check_name

BOOTSTRAP_NAME = "admin"
"""The bootstrap admin token's name (and so the principal its commands record)."""

RESERVED_NAMES = frozenset({BOOTSTRAP_NAME, "system", "verifier"})
"""Principals Rewind records itself; a token named so would be indistinguishable."""


class Role(StrEnum):
    """What a token may do (the permissions per role are in api.core.policy)."""

    ADMIN = "admin"
    BACKUP_OPERATOR = "backup_operator"
    VIEWER = "viewer"


class TokenNameTaken(DomainError):
    """An active token already has that name."""

    code = 2020


class TokenSpec(Immutable):
    """Everything a token grants, fixed when it is issued."""

    name: str
    role: Role
    tenants: tuple[str, ...] | None = None
    expires_at: datetime | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "name")

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        return tuple(sorted({check_name(t, "tenants") for t in value}))


def token_uuid(token_hash: str) -> UUID:
    """The id of the token whose secret hashes to ``token_hash``."""
    return guard_id("token", token_hash)


class Token(Aggregate):
    """One API token: issued with a spec, possibly revoked; the secret is never here."""

    @staticmethod
    def create_id(token_hash: str, **_: Any) -> UUID:
        return token_uuid(token_hash)

    class Issued(Aggregate.Created):
        token_hash: str
        spec: TokenSpec
        principal: str

    @event(Issued)
    def __init__(self, token_hash: str, spec: TokenSpec, principal: str) -> None:
        self.token_hash = token_hash
        self.spec = spec
        self.issued_by = principal
        self.revoked_at: datetime | None = None
        self.revoked_by: str | None = None

    def revoke(self, principal: str) -> None:
        """Revoke (repeating a revoke records nothing)."""
        if self.revoked_at is None:
            self._revoked(principal=principal)

    class Revoked(Aggregate.Event):
        principal: str

    @event(Revoked)
    def _revoked(self, principal: str) -> None:
        self.revoked_at = self.modified_on
        self.revoked_by = principal

    @property
    def issued_at(self) -> datetime:
        return self.created_on

    def is_valid_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.spec.expires_at is None or now < self.spec.expires_at


class TokenDirectory(Aggregate):
    """Every token id, the active names, and the bootstrap admin token (see module doc)."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return guard_id("token-directory", "all")

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.token_ids: list[UUID] = []
        self.active_names: dict[str, UUID] = {}
        self.bootstrap_id: UUID | None = None

    def add(self, token_id: UUID, name: str, bootstrap: bool = False) -> None:
        if name in self.active_names:
            raise TokenNameTaken(f"name: an active token is already named {name!r}")
        self._added(token_id=token_id, name=name, bootstrap=bootstrap)

    class Added(Aggregate.Event):
        token_id: UUID
        name: str
        bootstrap: bool = False

    @event(Added)
    def _added(self, token_id: UUID, name: str, bootstrap: bool) -> None:
        self.token_ids.append(token_id)
        self.active_names[name] = token_id
        if bootstrap:
            self.bootstrap_id = token_id

    def release(self, token_id: UUID, name: str) -> None:
        """Free a revoked token's name."""
        if self.active_names.get(name) == token_id:
            self._released(token_id=token_id, name=name)

    class Released(Aggregate.Event):
        token_id: UUID
        name: str

    @event(Released)
    def _released(self, token_id: UUID, name: str) -> None:
        del self.active_names[name]


def unknown_token(token_id: object) -> NotFound:
    return NotFound(f"token {str(token_id)[:80]!r} not found")
