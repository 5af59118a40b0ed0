"""What can be backed up: the entity catalogue, output formats, backup kinds and types.

The names come from seed 000 (APIO's "Backup Group List" and "Backup User List"; its example
request also names fax_messaging, main_schedule and time_based_forwarding, so they are part of
the group list here), seed 001 (CONFIG / DATA) and seed 002 (full / incremental / differential).
Everything that validates an entity name, the sandbox PBX that serves them and the worker that
fetches them read these tuples, so a new entity is added in exactly one place.
"""

from __future__ import annotations

from enum import StrEnum

GROUP_ENTITIES: tuple[str, ...] = (
    "profile",
    "ivr",
    "call_center",
    "music_on_hold",
    "phone_book",
    "call_pickup",
    "announcements",
    "time_schedule",
    "calendar_schedule",
    "access_devices",
    "fax_messaging",
    "main_schedule",
    "time_based_forwarding",
)
"""Entities backed up once per group."""

USER_ENTITIES: tuple[str, ...] = (
    "profile",
    "phone_book",
    "announcements",
    "services",
    "voice_mail",
)
"""Entities backed up once per user of the group."""

MEDIA_ENTITIES: frozenset[str] = frozenset({"announcements"})
"""Entities whose configuration references audio files (downloaded when asked to)."""

DATA_ENTITIES: tuple[str, ...] = ("recordings",)
"""Group-level media that only DATA backups carry (call recordings)."""


class OutputFormat(StrEnum):
    """The builds a backup can be rendered into (seed 000, "Backup builds")."""

    JSON = "json"
    XML = "xml"


class BackupKind(StrEnum):
    """What a backup carries (seed 001's backup_type header)."""

    CONFIG = "CONFIG"
    DATA = "DATA"


class BackupType(StrEnum):
    """How much a backup stores relative to earlier ones (seed 002's backup types)."""

    FULL = "full"
    INCREMENTAL = "incremental"
    DIFFERENTIAL = "differential"


def entity_key(tenant_id: str, group_id: str, entity: str, user_id: str | None = None) -> str:
    """The progress and manifest key of one entity of a backup: ``t1/g1/group/ivr`` for a
    group entity, ``t1/g1/user/u0001/voice_mail`` for a user's. The same shape for every
    scope, so a host-wide backup and a group backup name a group's entities alike."""
    if user_id is None:
        return f"{tenant_id}/{group_id}/group/{entity}"
    return f"{tenant_id}/{group_id}/user/{user_id}/{entity}"


def parse_entity_key(key: str) -> tuple[str, str, str | None, str]:
    """(tenant_id, group_id, user_id or None, entity) of a key made by ``entity_key``."""
    parts = key.split("/")
    if len(parts) == 4 and parts[2] == "group":
        return parts[0], parts[1], None, parts[3]
    if len(parts) == 5 and parts[2] == "user":
        return parts[0], parts[1], parts[3], parts[4]
    msg = f"not an entity key: {key!r}"
    raise ValueError(msg)
