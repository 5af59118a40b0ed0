"""The General Bots dialect (seed 002): backups, restores and schedules under
``/api/v1/backup/``, over the same commands and views as the native API.

Routes (every one needs ``Authorization: Bearer TOKEN``; bodies are JSON objects):

* ``POST /api/v1/backup/create`` -> 201 the backup (``backup_id``, ``id``, ``status``, ...).
  Body: ``type`` (full | incremental | differential; full), ``include_files`` (media: the
  announcements' audio and the call recordings; true), ``include_database`` (configuration
  entities; true), ``host_id`` (``default``), ``tenant_id`` / ``group_id`` (whole host when
  absent), ``name``, ``description`` (api.dialects.gbots.schemas.GbotsBackupContent says how
  the switches
  map onto a backup). A backup of an overlapping scope already running: 409.
* ``GET /api/v1/backup/list`` -> a JSON list of backups, newest first (``id``, ``created_at``,
  ``size`` in bytes, ``status``, ``type``, ...); the native list's filters (``host_id``,
  ``tenant_id``, ``group_id``, ``status``, ``type``, ``kind``, time windows) and, when given,
  ``_page`` / ``_pagesize``; ``X-Total-Count`` says how many match.
* ``GET /api/v1/backup/{backup_id}`` -> the backup; ``DELETE`` -> 200 ``{backup_id, status}``:
  DELETING (a finished backup), or CANCELLING (a running one: it is stopped, then deleted);
  the backup then leaves the list and answers 404. Unknown: 404 "Backup not found".
* ``POST /api/v1/backup/restore/{backup_id}`` -> 202 ``{job_id, status, backup_id, target,
  safety_backup_id}``; body
  api.dialects.gbots.restore_schemas.RestoreOptions (``target`` host id, default the
  backup's host). ``dry_run: true`` -> 200 with the diff instead (nothing written). A restore
  already active on the target host: 409 "Restore already in progress".
* ``GET /api/v1/backup/restore/{job_id}/status`` ->
  api.dialects.gbots.restore_schemas.GbotsRestoreStatus.
* ``POST /api/v1/backup/schedule`` -> 201 the schedule (``schedule_id``, ``cron``, ``type``,
  ``retention_days``, ...); ``GET`` -> a JSON list of them; ``PUT .../schedule/{id}`` ->
  200, the fields it names changed and deployed at once (no staging here); ``DELETE`` ->
  200 ``{schedule_id, deleted: true}``. A schedule is a plan with a cron (domain.plan), body
  api.dialects.gbots.schemas.ScheduleRequest; a bad cron is 400 naming ``cron``; an unknown id 404
  "Schedule not found".

Errors in this dialect are one JSON object, ``{"error": "<message>", "code": <HTTP status>}``
(several messages, e.g. each invalid field, are joined with "; "); a domain error's stable
number stays in the ``X-Rewind-Error-Code`` header. The shared error middleware answers in
this shape (``_gbots_error``) whoever refused the request (a handler, 401, 406, 415, an
unknown path), so a client of this dialect meets one shape. Statuses are the seed's: 400
for bad input (naming the field; an unknown host or tenant or group is bad input here, not
404/422), 404 only for an unknown backup, restore job or schedule, 409 for a conflict, 500
for a bug. A dry run whose target cannot be read answers 502 (the native API's answer).
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web

from api.core.auth import PRINCIPAL
from api.core.errors import BadRequest, register_error_shape
from api.core.negotiation import read_json_object
from api.core.schemas import ListQuery, RestoreRequest
from api.core.services import SERVICES, Services
from api.dialects.gbots.restore_schemas import GbotsRestoreStatus, RestoreOptions
from api.dialects.gbots.schemas import (
    CreateBackupRequest,
    GbotsBackupContent,
    GbotsBackupView,
    ScheduleRequest,
    ScheduleView,
)
from api.dialects.native.backups import find_backup_row
from api.dialects.native.lifecycle import _delete
from api.dialects.native.restores import dry_run_answer, restore_spec, start_restore
from domain.application import RewindApplication
from domain.errors import NotFound, RestoreInProgress, UnknownPlan
from domain.plan import NothingStaged, Plan
from projections.rows import BackupRow

BASE = "/api/v1/backup"
BACKUP_NOT_FOUND = "Backup not found"
RESTORE_IN_PROGRESS = "Restore already in progress"
SCHEDULE_NOT_FOUND = "Schedule not found"

gbots_routes = web.RouteTableDef()


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _gbots_error(status: int, messages: list[str], code: int | None) -> web.Response:
    """This dialect's error shape, for every refusal under ``/api/v1/backup/`` whoever made
    it (a handler, authentication, negotiation, the router): ``{"error", "code": status}``;
    a domain error's stable number stays in ``X-Rewind-Error-Code``."""
    text = "; ".join(str(m) for m in messages) or HTTPStatus(status).phrase
    response = _json({"error": text, "code": status}, status=status)
    if code is not None:
        response.headers["X-Rewind-Error-Code"] = str(code)
    return response


async def _backup_row(services: Services, backup_id: str) -> BackupRow:
    try:
        return await find_backup_row(services, backup_id)
    except NotFound:
        raise NotFound(BACKUP_NOT_FOUND) from None


async def _check_host(services: Services, host_id: str, field: str) -> None:
    """An unknown host is bad input in this dialect (400 naming the field)."""
    if not await services.query(services.app.has_host, host_id):
        raise BadRequest(400, f"{field}: no registered host {host_id!r}")


async def _check_scope(services: Services, body: GbotsBackupContent) -> None:
    """The host is registered and has the tenant and group (400 naming the field)."""
    await _check_host(services, body.host_id, "host_id")
    host = await services.query(services.app.get_host, body.host_id)
    try:
        await services.check_scope_exists(host.settings.base_url, body.tenant_id, body.group_id)
    except NotFound as error:
        raise BadRequest(400, error.message) from None


# ---------------------------------------------------------------------- backups
# Static paths first: aiohttp tries resources in the order they were added, and
# ``{backup_id}`` would otherwise take ``list`` and ``schedule`` for ids.


@gbots_routes.post(f"{BASE}/create")
async def create_backup(request: web.Request) -> web.Response:
    services = _services(request)
    body = CreateBackupRequest.model_validate(await read_json_object(request))
    await _check_scope(services, body)
    backup = await services.run(services.app.request_backup, body.spec(), request[PRINCIPAL])
    row = await _backup_row(services, str(backup.id))
    return _json(GbotsBackupView.of(row).model_dump(mode="json"), status=201)


@gbots_routes.get(f"{BASE}/list")
async def list_backups(request: web.Request) -> web.Response:
    services = _services(request)
    query = ListQuery.from_request(request)
    paged = "_page" in request.query or "_pagesize" in request.query
    total, rows = await services.query(
        services.views.view.list_backups,
        query.filters(),
        query.offset() if paged else 0,
        query.pagesize if paged else None,
    )
    response = _json([GbotsBackupView.of(r).model_dump(mode="json") for r in rows])
    response.headers["X-Total-Count"] = str(total)
    return response


# ---------------------------------------------------------------------- schedules
# A schedule is a plan with a cron (domain.plan). This dialect has no staging: a PUT stages
# the new version and deploys it at once.


def _schedule(app: RewindApplication, schedule_id: str) -> Plan:
    """The plan behind a schedule id; 404 for anything else (not a number, no such plan,
    deleted, or a plan without a cron, which is not a schedule)."""
    try:
        plan = app.get_plan(int(schedule_id)) if schedule_id.isdigit() else None
    except UnknownPlan:
        plan = None
    if plan is None or plan.settings.cron is None:
        raise NotFound(SCHEDULE_NOT_FOUND)
    return plan


def _set_enabled(app: RewindApplication, plan: Plan, enabled: bool, principal: str) -> Plan:
    if enabled == (not plan.paused):
        return plan
    if enabled:
        return app.resume_plan(plan.plan_id, principal)
    return app.pause_plan(plan.plan_id, principal)


def _create_schedule(app: RewindApplication, body: ScheduleRequest, principal: str) -> Plan:
    plan = app.create_plan(body.settings(), principal)
    return _set_enabled(app, plan, body.enabled, principal)


def _update_schedule(
    app: RewindApplication, schedule_id: str, changes: dict[str, Any], principal: str
) -> Plan:
    """Merge ``changes`` over the deployed version, stage it and deploy it."""
    plan = _schedule(app, schedule_id)
    body = ScheduleRequest.model_validate({**ScheduleRequest.current(plan), **changes})
    app.stage_plan(plan.plan_id, body.settings(), principal)
    try:
        plan = app.deploy_plan(plan.plan_id, principal)
    except NothingStaged:
        plan = app.get_plan(plan.plan_id)  # the same settings again: nothing to deploy
    return _set_enabled(app, plan, body.enabled, principal)


def _delete_schedule(app: RewindApplication, schedule_id: str, principal: str) -> Plan:
    plan = _schedule(app, schedule_id)
    return app.delete_plan(plan.plan_id, principal)


def _schedule_view(plan: Plan) -> dict[str, Any]:
    return ScheduleView.of(plan, datetime.now(UTC)).model_dump(mode="json")


def _schedule_json(plan: Plan, status: int = 200) -> web.Response:
    return _json(_schedule_view(plan), status=status)


@gbots_routes.post(f"{BASE}/schedule")
async def create_schedule(request: web.Request) -> web.Response:
    services = _services(request)
    body = ScheduleRequest.model_validate(await read_json_object(request))
    await _check_scope(services, body)
    plan = await services.run(_create_schedule, services.app, body, request[PRINCIPAL])
    return _schedule_json(plan, status=201)


@gbots_routes.get(f"{BASE}/schedule")
async def list_schedules(request: web.Request) -> web.Response:
    services = _services(request)
    plans = await services.query(services.app.list_plans)
    schedules = [_schedule_view(p) for p in plans if p.settings.cron]
    return _json(schedules)


@gbots_routes.put(f"{BASE}/schedule/{{schedule_id}}")
async def update_schedule(request: web.Request) -> web.Response:
    services = _services(request)
    schedule_id = request.match_info["schedule_id"]
    changes = await read_json_object(request)
    current = await services.query(_schedule, services.app, schedule_id)
    merged = ScheduleRequest.model_validate({**ScheduleRequest.current(current), **changes})
    await _check_scope(services, merged)
    plan = await services.run(
        _update_schedule, services.app, schedule_id, changes, request[PRINCIPAL]
    )
    return _schedule_json(plan)


@gbots_routes.delete(f"{BASE}/schedule/{{schedule_id}}")
async def delete_schedule(request: web.Request) -> web.Response:
    services = _services(request)
    schedule_id = request.match_info["schedule_id"]
    plan = await services.run(_delete_schedule, services.app, schedule_id, request[PRINCIPAL])
    return _json({"schedule_id": plan.plan_id, "deleted": True})


# ---------------------------------------------------------------------- restores


@gbots_routes.post(f"{BASE}/restore/{{backup_id}}")
async def restore_backup(request: web.Request) -> web.Response:
    services = _services(request)
    options = RestoreOptions.model_validate(await read_json_object(request))
    row = await _backup_row(services, request.match_info["backup_id"])
    body = RestoreRequest.model_validate(options.native(row.id))
    backup = await services.query(services.app.get_backup, UUID(row.id))
    spec = restore_spec(backup, body)
    await _check_host(services, spec.target.host_id, "target")
    if body.dry_run:
        answer = await dry_run_answer(services, spec)
        answer["target"] = answer.pop("target_host_id")
        return _json({**answer, "dry_run": True})
    try:
        restore = await services.run(
            start_restore, services.app, spec, request[PRINCIPAL], body.safety_backup
        )
    except RestoreInProgress:
        raise RestoreInProgress(RESTORE_IN_PROGRESS) from None
    safety = restore.spec.safety_backup_id
    accepted = {
        "job_id": str(restore.id),
        "status": restore.status,
        "backup_id": row.id,
        "target": spec.target.host_id,
        "safety_backup_id": None if safety is None else str(safety),
    }
    return _json(accepted, status=202)


@gbots_routes.get(f"{BASE}/restore/{{job_id}}/status")
async def restore_status(request: web.Request) -> web.Response:
    services = _services(request)
    job_id = request.match_info["job_id"]
    row = await services.query(services.views.view.restore, job_id)
    if row is None:
        raise NotFound("Restore job not found")
    outcomes = await services.query(services.views.view.outcomes, row.id)
    return _json(GbotsRestoreStatus.of(row, outcomes).model_dump(mode="json"))


# ---------------------------------------------------------------------- one backup


@gbots_routes.get(f"{BASE}/{{backup_id}}")
async def get_backup(request: web.Request) -> web.Response:
    services = _services(request)
    row = await _backup_row(services, request.match_info["backup_id"])
    return _json(GbotsBackupView.of(row).model_dump(mode="json"))


@gbots_routes.delete(f"{BASE}/{{backup_id}}")
async def delete_backup(request: web.Request) -> web.Response:
    """The native delete (api.dialects.native.lifecycle): a
    running backup is cancelled, then deleted
    once the worker has stopped it; a finished one is purged by the worker at once."""
    services = _services(request)
    row = await _backup_row(services, request.match_info["backup_id"])
    try:
        backup = await services.run(_delete, services.app, UUID(row.id), request[PRINCIPAL])
    except NotFound:
        raise NotFound(BACKUP_NOT_FOUND) from None
    return _json({"backup_id": str(backup.id), "status": backup.status})


def install_gbots(app: web.Application) -> None:
    """Add this dialect's routes to ``app`` and register its error shape with the shared
    error middleware (no middleware of its own on every request)."""
    register_error_shape(f"{BASE}/", _gbots_error)
    app.add_routes(gbots_routes)
