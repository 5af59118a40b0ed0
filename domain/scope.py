"""Scopes: what one backup covers. A whole host, one tenant on it, or one group in a tenant.

Scopes nest (a host contains its tenants, a tenant its groups), and two scopes overlap when
one contains the other. The "one active backup" invariant is stated in terms of overlap.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
"""Ids of hosts, tenants and groups: letters, digits, '_', '.', '-', at most 64 characters,
not starting with punctuation. They appear in URLs and file names, so nothing else is let in."""


def check_name(value: str, field: str) -> str:
    """Validate an id against NAME_PATTERN, naming the field in the error."""
    if not NAME_PATTERN.fullmatch(value):
        msg = (
            f"{field} must be 1-64 characters of letters, digits, '_', '.', '-' "
            f"(starting with a letter or digit), got {value!r}"
        )
        raise ValueError(msg)
    return value


class Scope(BaseModel):
    """A host, a tenant on it, or a group in a tenant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host_id: str
    tenant_id: str | None = None
    group_id: str | None = None

    @field_validator("host_id", "tenant_id", "group_id")
    @classmethod
    def _valid_ids(cls, value: str | None, info: object) -> str | None:
        name = getattr(info, "field_name", "id")
        return None if value is None else check_name(value, name)

    @model_validator(mode="after")
    def _group_needs_tenant(self) -> Scope:
        if self.group_id is not None and self.tenant_id is None:
            raise ValueError("a group scope needs its tenant_id")
        return self

    @property
    def path(self) -> tuple[str, ...]:
        """The scope as a path from the host down, e.g. ('h1', 't1', 'g1')."""
        parts = [self.host_id]
        if self.tenant_id is not None:
            parts.append(self.tenant_id)
            if self.group_id is not None:
                parts.append(self.group_id)
        return tuple(parts)

    @property
    def level(self) -> str:
        """'host', 'tenant' or 'group'."""
        return ("host", "tenant", "group")[len(self.path) - 1]

    def contains(self, other: Scope) -> bool:
        """True when ``other`` is this scope or lies inside it."""
        return other.path[: len(self.path)] == self.path

    def overlaps(self, other: Scope) -> bool:
        """True when one of the two scopes contains the other: ``contains`` either way,
        written out field by field because the 1015 guard asks it of every active backup
        of a host on every request."""
        if self.host_id != other.host_id:
            return False
        if self.tenant_id is None or other.tenant_id is None:
            return True
        if self.tenant_id != other.tenant_id:
            return False
        return self.group_id is None or other.group_id is None or self.group_id == other.group_id

    def __str__(self) -> str:
        return "/".join(self.path)
