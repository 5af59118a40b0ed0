"""The native dialect (DESIGN.md, pinned interfaces): backups, hosts, health."""

from __future__ import annotations

import re
from uuid import UUID

from aiohttp import web

from api.auth import PRINCIPAL
from api.context import SERVICES, Services
from api.negotiation import read_json_object
from api.schemas import Accepted, BackupRequest, BackupView, HostRequest, HostView, Progress
from domain.backup import Backup, BackupSpec
from domain.errors import NotFound
from domain.host import Host, HostSettings
from domain.scope import Scope

routes = web.RouteTableDef()


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _json(model: object, status: int = 200) -> web.Response:
    from pydantic import BaseModel

    assert isinstance(model, BaseModel)
    return web.json_response(model.model_dump(mode="json"), status=status)


def _backup_id(request: web.Request) -> UUID:
    raw = request.match_info["backup_id"]
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"backup {raw[:80]!r} not found") from None


def backup_view(backup: Backup) -> BackupView:
    scope = backup.scope
    return BackupView(
        id=str(backup.id),
        reference_id=backup.reference_id,
        name=backup.name,
        description=backup.spec.description,
        status=backup.status,
        tenant_id=scope.tenant_id,
        group_id=scope.group_id,
        host_id=scope.host_id,
        type=backup.spec.backup_type.value,
        kind=backup.spec.kind.value,
        progress=Progress(done=backup.done, total=backup.total),
        successful_calls=backup.successful_calls,
        error_calls=backup.error_calls,
        has_errors=backup.has_errors,
        start_datetime=backup.started_at,
        end_datetime=backup.ended_at,
        failure_reason=backup.failure_reason,
        is_valid=backup.is_valid,
        size_on_disk=backup.size_on_disk,
        initiated_by=backup.principal,
    )


async def _get_backup(request: web.Request) -> Backup:
    backup = await _services(request).query(_services(request).app.get_backup, _backup_id(request))
    if backup.purged:
        raise NotFound(f"backup {backup.id} not found (it was deleted)")
    return backup


@routes.post("/api/v1/backups")
async def start_backup(request: web.Request) -> web.Response:
    services = _services(request)
    body = BackupRequest.model_validate(await read_json_object(request))
    if body.group_id is not None and body.tenant_id is None:
        raise NotFound("tenant_id: a group_id needs its tenant_id")
    host = await services.query(services.app.get_host, body.host_id)
    await services.check_scope_exists(host.settings.base_url, body.tenant_id, body.group_id)
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
    )
    backup = await services.run(services.app.request_backup, spec, request[PRINCIPAL])
    accepted = Accepted(id=str(backup.id), reference_id=backup.reference_id, status=backup.status)
    return _json(accepted, status=202)


@routes.get("/api/v1/backups/{backup_id}")
async def get_backup(request: web.Request) -> web.Response:
    return _json(backup_view(await _get_backup(request)))


@routes.post("/api/v1/backups/{backup_id}/cancel")
async def cancel_backup(request: web.Request) -> web.Response:
    services = _services(request)
    backup = await _get_backup(request)
    job = await services.run(services.app.cancel, backup.id, request[PRINCIPAL])
    return _json(Accepted(id=str(job.id), status=job.status), status=202)


def host_view(host: Host) -> HostView:
    s = host.settings
    return HostView(
        id=host.host_id,
        name=s.name,
        base_url=s.base_url,
        has_credentials=s.sealed_credentials is not None,
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
    services = _services(request)
    hosts = await services.query(services.app.list_hosts)
    items = [host_view(h).model_dump(mode="json") for h in hosts]
    return web.json_response({"total": len(items), "items": items})


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = _services(request)
    if not services.ready:
        return web.json_response({"status": "starting"}, status=503)
    return web.json_response({"status": "ready"})
