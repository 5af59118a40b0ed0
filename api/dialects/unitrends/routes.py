"""The Unitrends dialect (seed 004): ``POST /api/backups`` queries the backups view.

Authentication: the seed's ``AuthToken`` header (or ``Authorization: Bearer``).

Ids. Unitrends numbers everything (long); Rewind names hosts, tenants and groups with
strings and backups with UUIDs. The mapping, stable across restarts and replays:

* a backup's ``id`` is its number: the log position of its first event (unique, ascending);
* ``system_id`` is a host, ``client_id`` a tenant on a host (for a whole-host backup, the
  host itself as a client), ``instance_id`` a group in a tenant. Their numbers are the first
  48 bits (big-endian) of ``sha256("system\\0HOST")``, ``sha256("client\\0HOST\\0TENANT")``
  (TENANT empty for the host itself) and ``sha256("instance\\0HOST\\0TENANT\\0GROUP")``;
  ``client_name`` / ``instance_name`` are the tenant and group ids (the host id for a
  whole-host backup's client). An unknown number matches nothing.

Times are UTC; epoch filters have second resolution, each bound inclusive of its second.
Backups being deleted are not listed. The answer is ``{"backups": [...]}``, newest first.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from api.core.negotiation import read_json_object
from api.core.openapi import Operation, documented
from api.core.services import SERVICES
from api.dialects.unitrends.schemas import (
    PRETTY_TYPES,
    BackupsAnswer,
    BackupsQuery,
    Status,
    UnitrendsBackup,
    VerifyStatus,
    parse_day,
)
from domain.lifecycle import CONTENT_STATUSES, SETTLED_STATUSES, UNSUCCESSFUL_STATUSES, BackupStatus
from projections.rows import BackupRow
from projections.views import BackupFilters, Scope, ViewsMixin

unitrends_routes = web.RouteTableDef()

LISTED = sorted(s.value for s in BackupStatus if s is not BackupStatus.DELETING)
ENDED = SETTLED_STATUSES
SECOND = timedelta(seconds=1) - timedelta(microseconds=1)
MB = 1 << 20


def number(kind: str, *parts: str | None) -> int:
    """The Unitrends number of a host, tenant or group (module docstring)."""
    key = "\0".join([kind, *(p or "" for p in parts)])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big")


def client_number(host_id: str, tenant_id: str | None) -> int:
    return number("client", host_id, tenant_id)


def instance_number(host_id: str, tenant_id: str | None, group_id: str) -> int:
    return number("instance", host_id, tenant_id, group_id)


# ---------------------------------------------------------------------- filters
class NoMatch(Exception):
    """The filters contradict each other or name nothing known: the answer is empty."""


def _merge(scope: dict[str, str | None], key: str, value: str | None) -> None:
    if key in scope and scope[key] != value:
        raise NoMatch
    scope[key] = value


def _scope(query: BackupsQuery, scopes: list[Scope]) -> dict[str, str | None]:
    """host_id / tenant_id / group_id the numeric filters name (None: must be empty)."""
    wanted: dict[str, str | None] = {}
    if query.system_id is not None:
        hosts = {h for h, _, _ in scopes if number("system", h) == query.system_id}
        if not hosts:
            raise NoMatch
        _merge(wanted, "host_id", hosts.pop())
    if query.client_id is not None:
        clients = {(h, t) for h, t, _ in scopes if client_number(h, t) == query.client_id}
        if not clients:
            raise NoMatch
        host, tenant = clients.pop()
        _merge(wanted, "host_id", host)
        _merge(wanted, "tenant_id", tenant)
    if query.instance_id is not None:
        found = {
            (h, t, g)
            for h, t, g in scopes
            if g is not None and instance_number(h, t, g) == query.instance_id
        }
        if not found:
            raise NoMatch
        host, tenant, group = found.pop()
        _merge(wanted, "host_id", host)
        _merge(wanted, "tenant_id", tenant)
        _merge(wanted, "group_id", group)
    return wanted


def _epoch(value: int | None, inclusive_end: bool = False) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromtimestamp(value, UTC)
    return moment + SECOND if inclusive_end else moment


def _latest(*bounds: datetime | None) -> datetime | None:
    present = [b for b in bounds if b is not None]
    return max(present) if present else None


def _earliest(*bounds: datetime | None) -> datetime | None:
    present = [b for b in bounds if b is not None]
    return min(present) if present else None


def _day_start(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    day = parse_day(value, field)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def filters_for(query: BackupsQuery, scopes: list[Scope], now: datetime) -> BackupFilters:
    """The view filters of a query; raises NoMatch when nothing can match."""
    scope = _scope(query, scopes)
    end_day = _day_start(query.end_day, "end_day")
    started_after = _latest(
        _epoch(query.start_time),
        _day_start(query.start_day, "start_day"),
        None if query.start_hours is None else now - timedelta(hours=query.start_hours),
    )
    started_before = _earliest(
        _epoch(query.end_time, inclusive_end=True),
        None if end_day is None else end_day + timedelta(days=1) - timedelta(microseconds=1),
    )
    ended_after = _latest(
        _epoch(query.finish_interval_start),
        None if query.end_hours is None else now - timedelta(hours=query.end_hours),
    )
    return BackupFilters(
        host_id=scope.get("host_id"),
        tenant_id=scope.get("tenant_id"),
        group_id=scope.get("group_id"),
        unset=[k for k in ("tenant_id", "group_id") if k in scope and scope[k] is None] or None,
        status=LISTED,
        type=query.type,
        started_after=started_after,
        started_before=started_before,
        ended_after=ended_after,
        ended_before=_epoch(query.finish_interval_end, inclusive_end=True),
        numbers=query.backup_ids,
    )


# ---------------------------------------------------------------------- answers
def start_date_time(moment: datetime) -> str:
    """``10/14/2014 09:32 am`` (UTC)."""
    return moment.astimezone(UTC).strftime("%m/%d/%Y %I:%M %p").lower()


def duration(start: datetime, end: datetime) -> str:
    """``hh:mm:ss`` (hours may exceed 99)."""
    seconds = max(0, int((end - start).total_seconds()))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def status_of(row: BackupRow) -> Status:
    if row.status == "SUCCESS":
        return "Warning" if row.error_calls > 0 else "Success"
    if row.status in UNSUCCESSFUL_STATUSES:
        return "Failure"
    return "None"


def verify_status_of(row: BackupRow) -> VerifyStatus:
    return {"SUCCESS": "Successful", "MISSING": "Failed"}.get(row.status, "Not Applicable")  # type: ignore[return-value]


def output_of(row: BackupRow, files: int) -> str:
    if row.failure_reason:
        return f"Failure: {row.failure_reason}"
    total = "?" if row.total is None else str(row.total)
    return (
        f"{row.status}: {files} of {total} entities stored; "
        f"{row.successful_calls} calls succeeded, {row.error_calls} failed"
    )


def unitrends_backup(
    row: BackupRow, backup_number: int, files: int, last: bool, now: datetime
) -> UnitrendsBackup:
    ended = row.status in ENDED
    return UnitrendsBackup(
        id=backup_number,
        client_id=client_number(row.host_id, row.tenant_id),
        client_name=row.tenant_id or row.host_id,
        instance_id=(
            None
            if row.group_id is None
            else instance_number(row.host_id, row.tenant_id, row.group_id)
        ),
        instance_name=row.group_id,
        type=PRETTY_TYPES.get(row.type, row.type),
        start_date_time=start_date_time(row.created_at),
        duration=duration(row.created_at, row.ended_at or now),
        complete=ended,
        status=status_of(row),
        size=math.ceil(row.size_on_disk / MB),
        files=files,
        verified=row.status in CONTENT_STATUSES,
        verify_status=verify_status_of(row),
        storage="artifacts" if row.content_path else "",
        output=output_of(row, files),
        purgeable=ended and not last,
        last=last,
    )


def query_backups(view: ViewsMixin, query: BackupsQuery) -> list[UnitrendsBackup]:
    """Run a seed 004 query against the backups view (blocking: call in a thread)."""
    now = datetime.now(UTC)
    try:
        filters = filters_for(query, view.backup_scopes(), now)
    except NoMatch:
        return []
    _total, rows = view.list_backups(filters)
    numbers = view.backup_numbers(filters)
    files = view.success_counts(filters)
    latest = set(view.latest_per_scope("SUCCESS").values())
    return [
        unitrends_backup(row, numbers[row.id], files.get(row.id, 0), row.id in latest, now)
        for row in rows
        if row.id in numbers
    ]


@unitrends_routes.post("/api/backups")
@documented(
    Operation(
        "backups matching the filters (seed 004, Unitrends)",
        {200: BackupsAnswer},
        body=BackupsQuery,
        tags=("Unitrends (seed 004)",),
    )
)
async def post_backups(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    query = BackupsQuery.model_validate(await read_json_object(request))
    backups = await services.query(query_backups, services.views.view, query)
    answer: dict[str, Any] = {"backups": [b.model_dump(exclude_none=True) for b in backups]}
    return web.json_response(answer)
