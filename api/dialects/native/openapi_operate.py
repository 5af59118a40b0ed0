"""OpenAPI declarations of the operations routes (api.core.operations): ``/metrics`` (Prometheus'
text), the live event feed (a JSON page, or ``text/event-stream``) and backup archives
(``application/x-tar``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.core.openapi import Operation, ResponseHeader, declare, variant
from api.core.schemas import FollowQuery
from api.dialects.native.events import EventsQuery
from projections.rows import AuditRow

OPS = ("operations",)
SSE = "text/event-stream"


EventItem = variant(
    "EventItem",
    "One event of the log: its position, aggregate, type, version, time, principal and "
    "payload (the event's own fields).",
    AuditRow,
    exclude=("payload",),
    forbid=False,
    add={"payload": (dict[str, Any], ...)},
)


class EventsPage(BaseModel):
    """GET /api/v1/events as JSON: the events after ``after`` (at most 500), and the cursor
    to send as ``after`` next."""

    items: list[EventItem]  # type: ignore[valid-type]
    next_after: int


class EventsHeaders(BaseModel):
    last_event_id: str | None = Field(
        default=None, alias="Last-Event-ID", pattern="^[0-9]+$", description="As ``after``."
    )


BackupEventsQuery = FollowQuery


def declare_operations() -> None:
    declare(
        "GET",
        "/api/v1/events",
        Operation(
            "the event log: a JSON page, or server-sent events (Accept: text/event-stream or "
            "follow=1; each message's id is its log position)",
            {200: EventsPage},
            query=EventsQuery,
            headers=EventsHeaders,
            also=(SSE,),
            tags=OPS,
        ),
    )
    disposition = ResponseHeader(
        {"type": "string"}, 'attachment; filename="rewind-<id>.tar"', required=True
    )
    declare(
        "GET",
        "/api/v1/backups/{backup_id}/archive",
        Operation(
            "a backup's manifest, entities and media as one tar (streamed)",
            {200: None},
            media="application/x-tar",
            response_headers={"Content-Disposition": disposition},
            tags=("native",),
        ),
    )
