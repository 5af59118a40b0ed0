"""The tree PBX's URLs: every tenant, group, user, entity and media file has one path."""

from __future__ import annotations

from urllib.parse import quote

from domain.catalogue import DATA_ENTITIES

TENANTS = "/1.0/tenants/"
RECORDINGS = DATA_ENTITIES[0]
"""The group-level listing of call recordings; a collection, not a document entity."""


def _q(segment: str) -> str:
    """One URL path segment (ids come from the PBX and must not reshape the path)."""
    return quote(segment, safe="")


def tenant_path(tenant_id: str) -> str:
    return f"/1.0/tenants/{_q(tenant_id)}"


def group_path(tenant_id: str, group_id: str) -> str:
    return f"{tenant_path(tenant_id)}/groups/{_q(group_id)}"


def user_path(tenant_id: str, group_id: str, user_id: str) -> str:
    return f"{group_path(tenant_id, group_id)}/users/{_q(user_id)}"


def media_path(tenant_id: str, group_id: str, file_id: str) -> str:
    return f"{group_path(tenant_id, group_id)}/media/{_q(file_id)}"


def entity_path(tenant_id: str, group_id: str, entity: str, user_id: str | None = None) -> str:
    """A group entity, a user's entity, or (``recordings``) the group's recordings list."""
    if user_id is not None:
        return f"{user_path(tenant_id, group_id, user_id)}/{_q(entity)}"
    if entity == RECORDINGS:
        return f"{group_path(tenant_id, group_id)}/recordings/"
    return f"{group_path(tenant_id, group_id)}/{_q(entity)}"
