"""The audit trail's shape: one entry per event, readable without knowing the event classes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
REDACTED = frozenset({"sealed_credentials", "token_hash"})
"""Fields the audit trail never shows, at any depth (sealed PBX credentials, token hashes):
the events keep them, ``rewind history``, the views and every API route do not."""

URL_FIELDS = frozenset({"base_url"})
"""Fields holding a URL, shown without its user info at any depth. Hosts are registered
with the user info moved into their sealed credentials, but an older version recorded
``http://user:password@pbx`` as it came: the event keeps it (the log is append-only, and
the host still signs in with it), the audit trail never shows it."""

HIDDEN = REDACTED | URL_FIELDS
"""Every field the audit trail shows otherwise than the event holds it."""

_USER_INFO = re.compile(r"(?<=://)[^/?#\s]*@")
"""A URL's user info and its ``@``: everything of the authority up to its last ``@``."""


def without_user_info(url: str) -> str:
    """``url`` with no ``user:password@`` (plain text: the domain parses no URLs)."""
    return _USER_INFO.sub("", url, count=1)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_field(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _redact_field(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in REDACTED:
        return "<redacted>"
    if name in URL_FIELDS and isinstance(value, str):
        return without_user_info(value)
    return redact(value)


@dataclass(frozen=True, slots=True)
class LogHead:
    """One log entry without its payload: what a follower of the whole log (the worker's
    job tracker) needs, read without building the event (adapters.event_log.read_log_heads)."""

    position: int
    type: str
    """The event class's qualified name, as ``AuditEntry.type`` (e.g. ``Job.EntitySucceeded``)."""
    aggregate_id: UUID
    version: int
    time: datetime


class AuditEntry(BaseModel):
    """One event as the audit trail shows it."""

    aggregate_id: str
    type: str
    version: int
    time: datetime
    principal: str | None
    payload: dict[str, Any]


def audit_entry(domain_event: Any) -> AuditEntry:
    """Describe a stored event: its class name (e.g. ``Backup.Claimed``), version, time,
    who caused it and what it says."""
    data: dict[str, Any] = domain_event.model_dump(mode="json")
    cls = type(domain_event)
    type_name = cls.__qualname__
    payload = redact({k: v for k, v in data.items() if k not in _ENVELOPE})
    return AuditEntry(
        aggregate_id=str(domain_event.originator_id),
        type=type_name,
        version=domain_event.originator_version,
        time=domain_event.timestamp,
        principal=payload.get("principal"),
        payload=payload,
    )
