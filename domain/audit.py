"""The audit trail's shape: one entry per event, readable without knowing the event classes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


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
    payload = {k: v for k, v in data.items() if k not in _ENVELOPE}
    return AuditEntry(
        aggregate_id=str(domain_event.originator_id),
        type=type_name,
        version=domain_event.originator_version,
        time=domain_event.timestamp,
        principal=payload.get("principal"),
        payload=payload,
    )
