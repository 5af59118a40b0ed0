"""Live events: the audit log as a feed, paged as JSON or streamed as server-sent events.

``GET /api/v1/events`` is the global feed (every event of every backup, restore, host and
plan, in log order) and ``GET /api/v1/backups/{id}/events`` one backup's (routes_native
serves its JSON page and hands streams to :func:`stream_events`).

A request streams (``text/event-stream``) when it sends ``Accept: text/event-stream`` or
``follow=1``; each event is one SSE message whose ``id`` is its log position, so a client
that reconnects with ``Last-Event-ID`` (or ``after=``) misses nothing and sees nothing twice.
With ``follow=1`` the stream stays open and sends events as the views apply them (woken by
the read-your-writes waiter, not by polling), with a ``: keepalive`` comment every 15 s; one
backup's followed stream ends once the backup has finished (SUCCESS, FAILED, MISSING) or is
gone. Without ``follow`` a stream ends after the events already there.

Filters (all optional, ANDed): ``kind`` (backup | restore | other), ``type`` (event type or
its prefix, e.g. ``Job.`` or ``Backup.Requested``), ``status`` (the job's status now),
``tenant_id``, ``group_id``, ``job_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import Field

from api.core.errors import BadRequest
from api.core.request_context import name_request
from api.core.schemas import QueryParams
from api.core.services import SERVICES, Services
from domain.lifecycle import SETTLED_STATUSES
from projections.rows import AuditRow

events_routes = web.RouteTableDef()

KEEPALIVE_SECONDS = 15.0
PAGE = 500
FINISHED = SETTLED_STATUSES
MAX_POSITION = (1 << 63) - 1
"""The database's largest integer: a larger ``after`` would fail in the query (a 500)."""


@dataclass(frozen=True)
class JobFacts:
    kind: str
    status: str | None
    tenant_id: str | None
    group_id: str | None


class EventsQuery(QueryParams):
    """The query of the event feeds' streams and of the global feed's page: an unknown
    parameter, or a bad value, is refused (400 naming it) like on every other list, rather
    than silently ignored (a misspelt filter would show every event)."""

    kind: Literal["backup", "restore", "other"] | None = None
    type: str | None = Field(default=None, description="An event type or its prefix (Job.).")
    status: str | None = Field(default=None, description="The job's status now.")
    tenant_id: str | None = None
    group_id: str | None = None
    job_id: str | None = None
    after: int | None = Field(
        default=None, ge=0, le=MAX_POSITION, description="A log position (exclusive)."
    )
    follow: Literal["0", "1", "true", "false", "yes", "no"] | None = Field(
        default=None,
        description="1, true, yes: stream (server-sent events) and stay open, sending events "
        "as they happen.",
    )


@dataclass
class EventFilter:
    kind: str | None = None
    type: str | None = None
    status: str | None = None
    tenant_id: str | None = None
    group_id: str | None = None
    job_id: str | None = None
    _facts: dict[str, JobFacts] = field(default_factory=dict)

    @classmethod
    def from_query(cls, request: web.Request, job_id: str | None = None) -> EventFilter:
        q = EventsQuery.from_request(request)
        return cls(
            kind=q.kind,
            type=q.type or None,
            status=(q.status or "").upper() or None,
            tenant_id=q.tenant_id or None,
            group_id=q.group_id or None,
            job_id=job_id or q.job_id or None,
        )

    @property
    def needs_facts(self) -> bool:
        return any(v is not None for v in (self.kind, self.status, self.tenant_id, self.group_id))

    def facts(self, services: Services, row: AuditRow) -> JobFacts:
        """What the views say of the event's aggregate (blocking: called off the loop)."""
        view = services.views.view
        backup = view.backup(row.aggregate_id)
        if backup is not None:
            return JobFacts("backup", backup.status, backup.tenant_id, backup.group_id)
        restore = view.restore(row.aggregate_id)
        if restore is not None:
            return JobFacts("restore", restore.status, restore.tenant_id, restore.group_id)
        kind = {"Backup": "backup", "Restore": "restore"}.get(row.type.split(".")[0], "other")
        return JobFacts(kind, None, None, None)

    def keep(self, services: Services, rows: list[AuditRow]) -> list[AuditRow]:
        """The rows that pass (blocking). Job facts are looked up once per aggregate per
        batch: kind and scope never change, and the status is read fresh each batch."""
        self._facts.clear()
        kept = []
        for row in rows:
            if self.job_id is not None and row.aggregate_id != self.job_id:
                continue
            if self.type is not None and not row.type.startswith(self.type):
                continue
            if self.needs_facts:
                facts = self._facts.get(row.aggregate_id)
                if facts is None:
                    facts = self._facts[row.aggregate_id] = self.facts(services, row)
                wanted = (self.kind, self.status, self.tenant_id, self.group_id)
                actual = (facts.kind, facts.status, facts.tenant_id, facts.group_id)
                if any(w is not None and w != a for w, a in zip(wanted, actual, strict=True)):
                    continue
            kept.append(row)
        return kept


def event_json(row: AuditRow) -> dict[str, Any]:
    data = row.model_dump(mode="json", exclude={"payload"})
    data["payload"] = orjson.loads(row.payload)
    return data


def sse_message(row: AuditRow) -> bytes:
    data = orjson.dumps(event_json(row)).decode()
    return f"id: {row.position}\nevent: {row.type}\ndata: {data}\n\n".encode()


def wants_stream(request: web.Request) -> bool:
    return _flag(request, "follow") or "text/event-stream" in request.headers.get("Accept", "")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in {"1", "true", "yes"}


def _after(request: web.Request) -> int:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after") or "0"
    try:
        after = int(raw)
    except ValueError:
        raise BadRequest(400, "after: expected a log position (an integer)") from None
    if not 0 <= after <= MAX_POSITION:
        raise BadRequest(400, f"after: expected a log position, 0 to {MAX_POSITION}")
    return after


def _read(services: Services, flt: EventFilter, after: int) -> tuple[list[AuditRow], int]:
    """The next page after ``after`` that passes the filter, and the new cursor."""
    applied = services.views.waiter.position
    view = services.views.view
    rows = view.audit(flt.job_id) if flt.job_id is not None else view.audit_log(after, PAGE)
    rows = [r for r in rows if r.position > after]
    if flt.job_id is not None or len(rows) < PAGE:
        cursor = max([after, applied, *(r.position for r in rows)])
    else:
        cursor = rows[-1].position
    return flt.keep(services, rows), cursor


def _job_finished(services: Services, job_id: str) -> bool:
    view = services.views.view
    row = view.backup(job_id) or view.restore(job_id)
    return row is None or row.status in FINISHED


async def stream_events(request: web.Request, job_id: str | None = None) -> web.StreamResponse:
    services = request.app[SERVICES]
    flt = EventFilter.from_query(request, job_id)
    cursor = _after(request)
    follow = _flag(request, "follow")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    name_request(request, response)
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        while True:
            finished = (
                follow
                and job_id is not None
                and await services.query(_job_finished, services, job_id)
            )
            rows, cursor = await services.query(_read, services, flt, cursor)
            for row in rows:
                await response.write(sse_message(row))
            if not follow or finished:
                break
            if not await services.views.waiter.wait(cursor + 1, KEEPALIVE_SECONDS):
                await response.write(b": keepalive\n\n")
        await response.write_eof()
    return response


@events_routes.get("/api/v1/events")
async def events(request: web.Request) -> web.StreamResponse:
    """The global feed: a JSON page ``{items, next_after}`` or, streamed, SSE messages."""
    if wants_stream(request):
        return await stream_events(request)
    services = request.app[SERVICES]
    flt = EventFilter.from_query(request)
    rows, cursor = await services.query(_read, services, flt, _after(request))
    return web.json_response({"items": [event_json(r) for r in rows], "next_after": cursor})
