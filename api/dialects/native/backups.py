"""The native dialect's backups and hosts: start, list, follow, report and diff backups;
register and list the PBX hosts they are taken from."""

from __future__ import annotations

import re
from uuid import UUID

import orjson
from aiohttp import web

from api.core.apio_report import backup_data, load_configs
from api.core.auth import PRINCIPAL, check_tenant_allowed, visible_tenants
from api.core.incremental_report import changes_section
from api.core.negotiation import read_json_object
from api.core.rendered import RenderedAnswers
from api.core.request_context import request_id_of
from api.core.schemas import (
    Accepted,
    BackupRequest,
    BackupView,
    FollowQuery,
    HostRequest,
    HostView,
    ListQuery,
    PageQuery,
    Progress,
    ReportQuery,
)
from api.core.services import SERVICES, Services
from api.dialects.native.events import stream_events, wants_stream
from domain.application import SW_VERSION
from domain.audit import without_user_info
from domain.backup import BackupSpec
from domain.errors import NotFound
from domain.host import Host, HostSettings
from domain.scope import Scope
from projections.rows import BackupRow

routes = web.RouteTableDef()


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _json(model: object, status: int = 200) -> web.Response:
    from pydantic import BaseModel

    assert isinstance(model, BaseModel)
    # pydantic's own serializer: the same JSON as model_dump(mode="json") + json.dumps,
    # several times faster on the polled routes (measured under polling load).
    # ``text=`` (not ``body=`` with a str, which aiohttp wraps in a payload) keeps the
    # answer as bytes on the response, where the command log reads its ids.
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


def backup_view(row: BackupRow) -> BackupView:
    # model_construct: a view row is validated data already (and this is the polled route).
    return BackupView.model_construct(
        id=row.id,
        reference_id=row.reference_id,
        name=row.name,
        description=row.description,
        status=row.status,
        tenant_id=row.tenant_id,
        group_id=row.group_id,
        host_id=row.host_id,
        type=row.type,
        kind=row.kind,
        progress=Progress.model_construct(done=row.done, total=row.total),
        successful_calls=row.successful_calls,
        error_calls=row.error_calls,
        has_errors=row.error_calls > 0,
        start_datetime=row.created_at,
        end_datetime=row.ended_at,
        failure_reason=row.failure_reason,
        is_valid=row.status == "SUCCESS",
        is_version_compatible=row.sw_version == SW_VERSION,
        size_on_disk=row.size_on_disk,
        initiated_by=row.principal,
        backup_type=row.backup_type or row.type,
        base_backup_id=row.base_backup_id,
        unchanged_entities=row.unchanged,
    )


async def find_backup_row(services: Services, backup_id: str) -> BackupRow:
    """A backup of the poll view by its id or its reference id; 404 when there is none
    (deleted backups have left the views)."""
    view = services.views.view
    row = view.cached_backup(backup_id) or await services.query(view.backup, backup_id)
    if row is None:
        row = await services.query(view.backup_by_reference, backup_id)
    if row is None:
        raise NotFound(f"backup {backup_id[:80]!r} not found")
    return row


@routes.post("/api/v1/backups")
async def start_backup(request: web.Request) -> web.Response:
    services = _services(request)
    body = BackupRequest.model_validate(await read_json_object(request))
    if body.group_id is not None and body.tenant_id is None:
        raise NotFound("tenant_id: a group_id needs its tenant_id")
    check_tenant_allowed(request, body.tenant_id)
    host = await services.query(services.app.get_host, body.host_id)
    await services.check_scope_exists(
        host.settings.base_url, body.tenant_id, body.group_id, host.settings
    )
    spec = BackupSpec(
        scope=Scope(host_id=body.host_id, tenant_id=body.tenant_id, group_id=body.group_id),
        group_entities=tuple(body.group),
        user_entities=tuple(body.user),
        formats=tuple(f.value for f in body.formats),
        download_files=body.download_announcement_files,
        name=body.name,
        description=body.description,
        kind=body.kind,
        backup_type=body.type,
        force=body.force_backup,
        request_id=request_id_of(request),
    )
    backup = await services.run(services.app.request_backup, spec, request[PRINCIPAL])
    accepted = Accepted(id=str(backup.id), reference_id=backup.reference_id, status=backup.status)
    return _json(accepted, status=202)


@routes.get("/api/v1/backups")
async def list_backups(request: web.Request) -> web.Response:
    """Seed 003's list: ``{total, items}``, ``_page`` (from 1) and ``_pagesize``; newest
    first; filters by tenant, group, host, status, type, kind and time windows."""
    services = _services(request)
    query = ListQuery.from_request(request)
    filters = query.filters().model_copy(update={"tenant_ids": visible_tenants(request)})
    total, rows = await services.query(
        services.views.view.list_backups, filters, query.offset(), query.pagesize
    )
    items = [backup_view(r).model_dump(mode="json") for r in rows]
    return web.json_response({"total": total, "items": items})


_BACKUP_ANSWERS: RenderedAnswers[BackupRow] = RenderedAnswers(
    lambda row: backup_view(row).model_dump_json().encode()
)
"""The polled route's answers, per backup id (api.core.rendered: reused while the row is)."""


@routes.get("/api/v1/backups/{backup_id}")
async def get_backup(request: web.Request) -> web.Response:
    row = await find_backup_row(_services(request), request.match_info["backup_id"])
    body = _BACKUP_ANSWERS.of(row.id, row)
    return web.Response(body=body, content_type="application/json")


@routes.get("/api/v1/backups/{backup_id}/events")
async def backup_events(request: web.Request) -> web.StreamResponse:
    """The backup's audit trail: every event, in order, with its principal; streamed as
    server-sent events with ``follow=1`` or ``Accept: text/event-stream`` (routes_events)."""
    services = _services(request)
    row = await find_backup_row(services, request.match_info["backup_id"])
    if wants_stream(request):
        return await stream_events(request, job_id=row.id)
    query = FollowQuery.from_request(request)
    entries = await services.query(services.views.view.audit, row.id)
    page = query.slice(entries)
    items = [
        {**e.model_dump(mode="json", exclude={"payload"}), "payload": orjson.loads(e.payload)}
        for e in page
    ]
    return web.json_response({"total": len(entries), "items": items})


@routes.get("/api/v1/backups/{backup_id}/report")
async def backup_report(request: web.Request) -> web.Response:
    """Seed 000's report: ``main`` plus per-entity success / errors / ignored_entities;
    ``type=full`` adds each entity's configuration (the same builder as the APIO dialect)."""
    services = _services(request)
    row = await find_backup_row(services, request.match_info["backup_id"])
    query = ReportQuery.from_request(request)
    outcomes = await services.query(services.views.view.outcomes, row.id)
    configs = None
    if query.type == "full":
        configs = await services.query(load_configs, services.artifacts, row, outcomes)
    data = backup_data(row, outcomes, configs)
    changes = changes_section(row, outcomes)
    if changes is not None:
        data["changes"] = changes
    return web.json_response(data)


@routes.post("/api/v1/backups/{backup_id}/cancel")
async def cancel_backup(request: web.Request) -> web.Response:
    services = _services(request)
    row = await find_backup_row(services, request.match_info["backup_id"])
    job = await services.run(services.app.cancel, UUID(row.id), request[PRINCIPAL])
    return _json(Accepted(id=str(job.id), status=job.status), status=202)


def host_view(host: Host) -> HostView:
    """The host as the API shows it. A host an older version registered may hold its
    credentials in its URL's user info: it still signs in with them, they are not shown."""
    s = host.settings
    base_url = without_user_info(s.base_url)
    return HostView(
        id=host.host_id,
        name=s.name,
        base_url=base_url,
        has_credentials=s.sealed_credentials is not None or base_url != s.base_url,
        active=s.active,
        is_console=s.is_console,
        stores_data=s.stores_data,
        data_backups_configured=s.data_backups_configured,
    )


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-._").lower()[:64]
    return slug or "host"


@routes.post("/api/v1/hosts")
async def register_host(request: web.Request) -> web.Response:
    services = _services(request)
    body = HostRequest.model_validate(await read_json_object(request))
    sealed = services.sealer.seal(body.credentials) if body.credentials else None
    settings = HostSettings(
        name=body.name,
        base_url=body.base_url,
        sealed_credentials=sealed,
        active=body.active,
        is_console=body.is_console,
        stores_data=body.stores_data,
        data_backups_configured=body.data_backups_configured,
    )
    host_id = body.id or _slug(body.name)
    host = await services.run(services.app.register_host, host_id, settings, request[PRINCIPAL])
    return _json(host_view(host), status=201)


@routes.get("/api/v1/hosts")
async def list_hosts(request: web.Request) -> web.Response:
    """Seed 003's list: ``{total, items}`` in registration order, ``_page`` / ``_pagesize``."""
    services = _services(request)
    query = PageQuery.from_request(request)
    hosts = await services.query(services.app.list_hosts)
    page = query.slice(hosts)
    items = [host_view(h).model_dump(mode="json") for h in page]
    return web.json_response({"total": len(hosts), "items": items})
