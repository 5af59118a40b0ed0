"""The APIO dialect (seed 000): group backups under
``/api/v1/tenants/{tenant_id}/groups/{group_id}/batch/``, on the host ``default``.

Routes (each with or without its trailing slash; parameters as query or JSON body, see
api.dialects.apio.schemas):

* ``GET|POST backup/start/`` -> 202 ``{"status": "started", "reference_id"}``. Fields
  ``group``, ``user`` (default: the whole catalogue), ``formats`` (default ``["json"]``),
  ``download_announcement_files`` (or the seed's ``dowload_announcement_files``) and
  ``force_backup``. A backup of the group already running: 409 (code 1015) unless
  ``force_backup``, which stops it (it ends FAILED "cancelled") and starts the new one.
* ``GET|POST backup/polling/{instance_name}/`` -> ``{"status": "pending", "reference_id"}``
  while INITIALIZING / IN_PROGRESS / CANCELLING, then ``{"status": "finished",
  "reference_id", "data"}`` once SUCCESS, FAILED (a stopped backup too: its ``main`` says
  ``failure_reason: "cancelled"`` and it holds what it had recorded) or MISSING.
* ``GET backups/`` -> ``{"backups": [...]}``, this group's backups, newest first.
* ``GET backups/{instance_name}/`` -> ``{"reference_id", "data"}`` of that backup (finished
  or not: a running one shows what it has recorded so far, ``end_datetime`` null).
* The seed's retrieve *without* a name ("the latest backup of the current group") cannot be
  ``backups/``, which is the list; it is ``GET backup/``, ``GET backups/latest/`` or
  ``GET backups/?latest=true``: the newest finished backup of the group, 404 if none.
* ``GET|POST backup/stop/{instance_name}/`` -> 200 ``{"status": "stopping", "reference_id"}``;
  the backup goes CANCELLING, then FAILED "cancelled". Asking again while it stops is 200
  again; stopping a finished backup is 409 (code 2001, the lifecycle has no such move).

``instance_name`` is the reference id the start answered (or the backup's UUID). A name
unknown, of another group, or of a backup being deleted is 404. Polling and retrieve take
``type`` (``full``, the default, adds each entity's configuration; ``report`` does not;
see api.core.apio_report for the shapes) and ``formats``. Answers are XML
(``render_xml(..., root="backup")``, ``application/xml``) when ``formats`` asks for xml
alone or the Accept header prefers ``application/xml`` / ``text/xml`` over JSON; JSON
otherwise. Errors stay JSON lists of messages (api.core.errors).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web

from adapters.renderers import render_xml
from api.core.apio_report import FINISHED, backup_data, list_item, load_configs
from api.core.auth import PRINCIPAL
from api.core.errors import BadRequest
from api.core.rendered import RenderedAnswers
from api.core.request_context import request_id_of
from api.core.services import SERVICES, Services
from api.dialects.apio.schemas import (
    EmptyRequest,
    ListRequest,
    ReadRequest,
    StartRequest,
    read_request,
)
from domain.backup import BackupSpec
from domain.errors import NotFound
from domain.plan import DEFAULT_HOST_ID
from domain.scope import Scope, check_name
from projections.rows import BackupRow
from projections.views import BackupFilters

BASE = "/api/v1/tenants/{tenant_id}/groups/{group_id}/batch"
XML_TYPES = frozenset({"application/xml", "text/xml"})
JSON_TYPES = frozenset({"application/json"})

apio_routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route(methods: tuple[str, ...], path: str) -> Callable[[Handler], Handler]:
    """Register ``path`` with and without its trailing slash, for each method."""

    def register(handler: Handler) -> Handler:
        # Methods of one path in a row: aiohttp then keeps them on one resource, so the
        # router tries half as many patterns when it first resolves a path (api.core.routing
        # remembers the route after that).
        for variant in (f"{BASE}/{path}/", f"{BASE}/{path}"):
            for method in methods:
                apio_routes.route(method, variant)(handler)
        return handler

    return register


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


# ---------------------------------------------------------------------- negotiation
def _quality(part: str) -> float:
    for param in part.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def prefers_xml(accept: str) -> bool:
    """Whether the Accept header names XML with a higher quality than JSON (or equal, but
    first). Wildcards express no preference."""
    if "xml" not in accept:
        return False  # most clients: no XML named at all
    best: dict[str, tuple[float, int]] = {}
    for index, part in enumerate(accept.split(",")):
        media = part.split(";")[0].strip().lower()
        if media in XML_TYPES:
            kind = "xml"
        elif media in JSON_TYPES or media.endswith("+json"):
            kind = "json"
        else:
            continue
        quality = _quality(part)
        if quality > best.get(kind, (0.0, 0))[0]:
            best[kind] = (quality, -index)
    xml = best.get("xml", (0.0, 0))
    return xml[0] > 0 and xml > best.get("json", (0.0, 1))


def _answer(
    request: web.Request, body: dict[str, Any], status: int = 200, xml: bool = False
) -> web.Response:
    if xml or prefers_xml(request.headers.get("Accept", "")):
        return web.Response(
            body=render_xml(body, root="backup"),
            status=status,
            content_type="application/xml",
            charset="utf-8",
        )
    # orjson bytes straight into the response: the polling route is what clients hammer
    # (measured under polling load).
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


# ---------------------------------------------------------------------- lookups
def _group(request: web.Request) -> tuple[str, str]:
    tenant_id = request.match_info["tenant_id"]
    group_id = request.match_info["group_id"]
    try:
        return check_name(tenant_id, "tenant_id"), check_name(group_id, "group_id")
    except ValueError as error:
        raise BadRequest(400, f"Incorrect parameters sent: {error}") from None


async def _check_group(services: Services, tenant_id: str, group_id: str) -> None:
    """404 naming tenant_id or group_id when the default host does not have them."""
    host = await services.query(services.app.get_host, DEFAULT_HOST_ID)
    await services.check_scope_exists(host.settings.base_url, tenant_id, group_id, host.settings)


def _visible(row: BackupRow | None, tenant_id: str, group_id: str) -> BackupRow | None:
    if row is None or row.status == "DELETING" or row.host_id != DEFAULT_HOST_ID:
        return None
    if (row.tenant_id, row.group_id) != (tenant_id, group_id):
        return None
    return row


async def _instance(request: web.Request) -> BackupRow:
    """The backup named in the path (reference id or UUID), of this group; 404 otherwise."""
    tenant_id, group_id = _group(request)
    name = request.match_info["instance_name"]
    services = _services(request)

    def find() -> BackupRow | None:
        view = services.views.view
        row = view.backup_by_reference(name)
        if row is None:
            try:
                row = view.backup(str(UUID(name)))
            except ValueError:
                row = None
        return row

    row = services.views.view.cached_backup(name) or await services.query(find)
    row = _visible(row, tenant_id, group_id)
    if row is None:
        raise NotFound(f"instance_name: no backup {name[:80]!r} in group {group_id!r}")
    return row


async def _latest_finished(request: web.Request) -> BackupRow:
    tenant_id, group_id = _group(request)
    services = _services(request)
    filters = BackupFilters(
        tenant_id=tenant_id, group_id=group_id, host_id=DEFAULT_HOST_ID, status=sorted(FINISHED)
    )
    _total, rows = await services.query(lambda: services.views.view.list_backups(filters, 0, 1))
    if not rows:
        await _check_group(services, tenant_id, group_id)
        raise NotFound(f"group {group_id!r} of tenant {tenant_id!r} has no finished backup")
    return rows[0]


async def _data(services: Services, row: BackupRow, full: bool) -> dict[str, Any]:
    def build() -> dict[str, Any]:
        outcomes = services.views.view.outcomes(row.id)
        configs = load_configs(services.artifacts, row, outcomes) if full else None
        return backup_data(row, outcomes, configs)

    return await services.query(build)


# ---------------------------------------------------------------------- routes
_PENDING: RenderedAnswers[BackupRow] = RenderedAnswers(
    lambda row: orjson.dumps({"status": "pending", "reference_id": row.reference_id})
)
"""The JSON answer of a poll while the backup runs, per backup id: what a polling client asks
again and again (api.core.rendered: reused while the row is the same object)."""


# Polling first: aiohttp tries the resources that share a static prefix in the order they
# were added, and this is the route clients hammer, so a new poll path is found after one
# pattern (api.core.routing remembers it after that). The paths differ in a literal segment, so
# the order changes no match.
@_route(("GET", "POST"), "backup/polling/{instance_name}")
async def polling(request: web.Request) -> web.Response:
    body = await read_request(request, ReadRequest)
    row = await _instance(request)
    if row.status not in FINISHED:
        if prefers_xml(request.headers.get("Accept", "")):
            pending = {"status": "pending", "reference_id": row.reference_id}
            return _answer(request, pending, xml=True)
        return web.Response(body=_PENDING.of(row.id, row), content_type="application/json")
    data = await _data(_services(request), row, body.full)
    answer = {"status": "finished", "reference_id": row.reference_id, "data": data}
    return _answer(request, answer, xml=body.only_xml)


@_route(("GET", "POST"), "backup/start")
async def start(request: web.Request) -> web.Response:
    tenant_id, group_id = _group(request)
    body = await read_request(request, StartRequest)
    services = _services(request)
    await _check_group(services, tenant_id, group_id)
    spec = BackupSpec(
        scope=Scope(host_id=DEFAULT_HOST_ID, tenant_id=tenant_id, group_id=group_id),
        group_entities=body.group_entities,
        user_entities=body.user_entities,
        formats=body.build_formats,
        download_files=body.download_files,
        force=body.force_backup,
        request_id=request_id_of(request),
    )
    backup = await services.run(services.app.request_backup, spec, request[PRINCIPAL])
    return _answer(request, {"status": "started", "reference_id": backup.reference_id}, 202)


async def _retrieve(request: web.Request, row: BackupRow, body: ReadRequest) -> web.Response:
    data = await _data(_services(request), row, body.full)
    return _answer(request, {"reference_id": row.reference_id, "data": data}, xml=body.only_xml)


@_route(("GET",), "backups")
async def list_backups(request: web.Request) -> web.Response:
    body = await read_request(request, ListRequest)
    if body.latest:
        return await _retrieve(request, await _latest_finished(request), body)
    tenant_id, group_id = _group(request)
    services = _services(request)
    filters = BackupFilters(tenant_id=tenant_id, group_id=group_id, host_id=DEFAULT_HOST_ID)
    _total, rows = await services.query(lambda: services.views.view.list_backups(filters))
    if not rows:
        await _check_group(services, tenant_id, group_id)
    items = [list_item(row) for row in rows if row.status != "DELETING"]
    return _answer(request, {"backups": items})


@_route(("GET",), "backup")
async def retrieve_latest(request: web.Request) -> web.Response:
    body = await read_request(request, ReadRequest)
    return await _retrieve(request, await _latest_finished(request), body)


@_route(("GET",), "backups/{instance_name}")
async def retrieve(request: web.Request) -> web.Response:
    body = await read_request(request, ReadRequest)
    if request.match_info["instance_name"] == "latest":
        return await _retrieve(request, await _latest_finished(request), body)
    return await _retrieve(request, await _instance(request), body)


@_route(("GET", "POST"), "backup/stop/{instance_name}")
async def stop(request: web.Request) -> web.Response:
    await read_request(request, EmptyRequest)
    row = await _instance(request)
    services = _services(request)
    await services.run(services.app.cancel, UUID(row.id), request[PRINCIPAL])
    return _answer(request, {"status": "stopping", "reference_id": row.reference_id})
