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


def group_entity_key(entity: str) -> str:
    """The progress key of a group entity, e.g. ``group/ivr``."""
    return f"group/{entity}"


def user_entity_key(user_id: str, entity: str) -> str:
    """The progress key of one user's entity, e.g. ``user/u0001/voice_mail``."""
    return f"user/{user_id}/{entity}"
