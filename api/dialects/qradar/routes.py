"""The QRadar dialect (seed 001) at ``/api/backup_and_restore/backups``.

- ``POST`` with the ``backup_type`` header (CONFIG | DATA) and a body ``{name,
  configuration_id, description?, host_id?}`` -> 201 with the backup resource; every
  documented refusal answers its status and unique code (api.dialects.qradar.errors).
- ``GET`` the list (QRadar's ``Range: items=0-49`` pages it, answered with
  ``Content-Range``), ``GET /{id}`` one backup (404, 1001), ``DELETE /{id}`` -> 202 with the
  backup DELETING, or CANCELLING while it runs (422, 1017 when a stop or delete is already
  under way).
- ``GET /api/config/deployment/hosts``: the registered hosts with their Long ids, enough of
  QRadar's hosts API for a client to fill ``host_id``.

Every route takes ``fields`` (header or query parameter) to keep only the named fields.
Ids are Longs derived from Rewind's UUIDs (api.dialects.qradar.ids), the same in every process.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from api.core.auth import PRINCIPAL
from api.core.negotiation import read_json_object
from api.core.services import SERVICES, Services
from api.dialects.native.lifecycle import _delete
from api.dialects.qradar.errors import QRadarError, qradar_errors
from api.dialects.qradar.fields import FieldTree, check_fields, parse_fields, select
from api.dialects.qradar.ids import host_long_id, uuid_like_pattern
from api.dialects.qradar.schemas import (
    BACKUP_SHAPE,
    HOST_SHAPE,
    CreateBackup,
    QRadarBackup,
    QRadarHost,
    is_long,
    parse_backup_type,
    parse_create,
    parse_range,
)
from domain.admission import PlanBackupRequest, console_host_id
from domain.application import RewindApplication
from domain.backup import Backup
from domain.catalogue import BackupKind
from domain.errors import IllegalMove, NotFound, UnknownHost
from domain.lifecycle import STOPPING_STATUSES
from projections.rows import BackupRow
from projections.views import BackupFilters

BACKUPS = "/api/backup_and_restore/backups"
HOSTS = "/api/config/deployment/hosts"
STOPPING = STOPPING_STATUSES

qradar_routes = web.RouteTableDef()


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _fields(request: web.Request, shape: FieldTree) -> FieldTree | None:
    """The ``fields`` selection (query parameter, else header), checked against the
    resource before anything runs, so a typo never follows a write."""
    text = request.query.get("fields", request.headers.get("fields"))
    if text is None:
        return None
    tree = parse_fields(text)
    check_fields(tree, shape)
    return tree


def _answer(
    data: Any, tree: FieldTree | None, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        data if tree is None else select(data, tree), status=status, headers=headers
    )


def _dump(models: list[QRadarBackup] | list[QRadarHost]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in models]


def _host_by_long(app: RewindApplication, number: int) -> str:
    for host in app.list_hosts():
        if host_long_id(host.host_id) == number:
            return host.host_id
    raise UnknownHost(f"no registered host has id {number}")


def _create(app: RewindApplication, body: CreateBackup, kind: BackupKind, principal: str) -> Backup:
    """Checks in the document's order: the configuration (1007), then the host (1009)."""
    app.get_plan(body.configuration_id)
    if body.host_id is None:
        host_id = console_host_id(app.list_hosts())
    else:
        host_id = _host_by_long(app, body.host_id)
    request = PlanBackupRequest(
        plan_id=body.configuration_id,
        host_id=host_id,
        kind=kind,
        name=body.name,
        description=body.description,
    )
    return app.request_plan_backup(request, principal)


def _not_found(raw: str) -> QRadarError:
    return QRadarError(404, 1001, f"no backup has id {raw[:40]!r}", {"field": "id"})


async def _row_by_long(services: Services, raw: str) -> BackupRow:
    """The backup whose Long id is ``raw``; on the (improbable) collision of two ids, the
    older one (see api.dialects.qradar.ids)."""
    pattern = uuid_like_pattern(int(raw)) if is_long(raw) else None
    if pattern is None:
        raise _not_found(raw)
    rows = await services.query(services.views.view.backups_by_id_pattern, pattern)
    if not rows:
        raise _not_found(raw)
    return min(rows, key=lambda row: (row.created_at, row.id))


@qradar_routes.post(BACKUPS)
@qradar_errors("create")
async def create_backup(request: web.Request) -> web.Response:
    services = _services(request)
    kind = parse_backup_type(request.headers.get("backup_type"))
    tree = _fields(request, BACKUP_SHAPE)
    body = parse_create(await read_json_object(request))
    backup = await services.run(_create, services.app, body, kind, request[PRINCIPAL])
    row = await services.query(services.views.view.backup, str(backup.id))
    if row is None:
        raise RuntimeError(f"backup {backup.id} is not in the views after its creation")
    return _answer(QRadarBackup.from_row(row).model_dump(mode="json"), tree, status=201)


@qradar_routes.get(BACKUPS)
@qradar_errors("list")
async def list_backups(request: web.Request) -> web.Response:
    """Newest first; ``Range: items=FIRST-LAST`` answers that window with
    ``Content-Range: items FIRST-LAST/TOTAL`` (``items */TOTAL`` when it is past the end)."""
    services = _services(request)
    tree = _fields(request, BACKUP_SHAPE)
    window = parse_range(request.headers.get("Range"))
    offset, limit = (0, None) if window is None else (window[0], window[1] - window[0] + 1)
    total, rows = await services.query(
        services.views.view.list_backups, BackupFilters(), offset, limit
    )
    items = _dump([QRadarBackup.from_row(row) for row in rows])
    headers: dict[str, str] = {}
    if window is not None:
        shown = f"{offset}-{offset + len(items) - 1}" if items else "*"
        headers["Content-Range"] = f"items {shown}/{total}"
    return _answer(items, tree, headers=headers)


@qradar_routes.get(BACKUPS + "/{id}")
@qradar_errors("retrieve")
async def get_backup(request: web.Request) -> web.Response:
    services = _services(request)
    tree = _fields(request, BACKUP_SHAPE)
    row = await _row_by_long(services, request.match_info["id"])
    return _answer(QRadarBackup.from_row(row).model_dump(mode="json"), tree)


@qradar_routes.delete(BACKUPS + "/{id}")
@qradar_errors("delete")
async def delete_backup(request: web.Request) -> web.Response:
    """202 with the backup as the delete left it: DELETING when it had ended, CANCELLING
    while the worker stops it (then DELETING, then gone: GET answers 404)."""
    services = _services(request)
    raw = request.match_info["id"]
    tree = _fields(request, BACKUP_SHAPE)
    row = await _row_by_long(services, raw)
    if row.status in STOPPING:
        raise QRadarError(422, 1017, f"backup {raw} is already {row.status}", {"field": "id"})
    try:
        backup = await services.run(_delete, services.app, UUID(row.id), request[PRINCIPAL])
    except NotFound:
        raise _not_found(raw) from None
    except IllegalMove as error:
        raise QRadarError(422, 1017, error.message, {"field": "id"}) from None
    view = QRadarBackup.from_row(row).model_copy(update={"status": backup.status})
    return _answer(view.model_dump(mode="json"), tree, status=202)


@qradar_routes.get(HOSTS)
@qradar_errors("hosts")
async def list_hosts(request: web.Request) -> web.Response:
    services = _services(request)
    tree = _fields(request, HOST_SHAPE)
    hosts = await services.query(services.app.list_hosts)
    return _answer(_dump([QRadarHost.from_host(h) for h in hosts]), tree)


__all__ = ["qradar_routes"]
