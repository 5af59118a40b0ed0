"""Native plan routes (``/api/v1/plans``): saved backup configurations with a schedule.

``POST`` creates and deploys a plan (201). ``PUT /{id}`` stages an edit (the deployed
version stays in force) and ``POST /{id}/deploy`` puts it in force. ``/pause`` and
``/resume`` stop and restart the schedule (and retention); ``/run`` starts a backup with the
deployed settings now (202, the backup's ``{id, reference_id, status}``). ``DELETE`` (204)
removes a plan from use (its backups stay); plan 1 cannot be deleted (409, 2022). Lists are
seed 003's ``{total, items}`` with ``_page`` and ``_pagesize``. An unknown or deleted plan
answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from adapters.cron import due_tick, next_tick
from adapters.scheduler import utc_now
from api.core.auth import PRINCIPAL
from api.core.negotiation import read_json_object
from api.core.schemas import Accepted, PageQuery
from api.core.services import SERVICES, Services
from api.dialects.native.plan_schemas import PlanFields, PlanView, staged_fields
from domain.errors import NotFound, UnknownPlan
from domain.plan import Plan, PlanSettings

plan_routes = web.RouteTableDef()


def _next_run(plan: Plan) -> datetime | None:
    """None when unscheduled, paused, or when the cron never fires (one stored by an older
    version that did not refuse it): such a plan still reads."""
    cron = plan.settings.cron
    if cron is None or plan.paused:
        return None
    now = utc_now()
    return due_tick(cron, plan.schedule_since, now) or next_tick(
        cron, max(now, plan.schedule_since)
    )


def plan_view(plan: Plan) -> PlanView:
    return PlanView(
        id=plan.plan_id,
        name=plan.settings.name,
        revision=plan.revision,
        paused=plan.paused,
        deployed=PlanFields.of(plan.settings),
        staged=PlanFields.of(plan.staged) if plan.has_staged_changes and plan.staged else None,
        has_staged_changes=plan.has_staged_changes,
        next_run=_next_run(plan),
        last_tick=plan.last_tick,
        last_backup_id=str(plan.last_backup_id) if plan.last_backup_id else None,
        last_skip_reason=plan.last_skip_reason,
    )


def _plan_id(request: web.Request) -> int:
    raw = request.match_info["plan_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"plan {raw[:40]!r} not found")
    return int(raw)


async def _command(services: Services, command: Callable[..., Any], *args: Any) -> Any:
    """Run a plan command; an unknown (or deleted) plan in the path is a 404 here."""
    try:
        return await services.run(command, *args)
    except UnknownPlan as error:
        raise NotFound(error.message) from None


async def _checked_settings(services: Services, fields: PlanFields) -> PlanSettings:
    """The host must be registered (422, 1009) and have the tenant and group (404)."""
    host = await services.query(services.app.get_host, fields.host_id)
    await services.check_scope_exists(host.settings.base_url, fields.tenant_id, fields.group_id)
    return fields.to_settings()


def _view(plan: Plan, status: int = 200) -> web.Response:
    return web.json_response(plan_view(plan).model_dump(mode="json"), status=status)


@plan_routes.post("/api/v1/plans")
async def create_plan(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    fields = PlanFields.model_validate(await read_json_object(request))
    settings = await _checked_settings(services, fields)
    plan = await services.run(services.app.create_plan, settings, request[PRINCIPAL])
    return _view(plan, status=201)


@plan_routes.get("/api/v1/plans")
async def list_plans(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    query = PageQuery.from_request(request)
    plans = await services.query(services.app.list_plans)
    page = query.slice(plans)
    items = [plan_view(p).model_dump(mode="json") for p in page]
    return web.json_response({"total": len(plans), "items": items})


@plan_routes.get("/api/v1/plans/{plan_id}")
async def get_plan(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        plan = await services.query(services.app.get_plan, _plan_id(request))
    except UnknownPlan as error:
        raise NotFound(error.message) from None
    return _view(plan)


@plan_routes.put("/api/v1/plans/{plan_id}")
async def stage_plan(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    plan_id = _plan_id(request)
    body = await read_json_object(request)
    try:
        current = await services.query(services.app.get_plan, plan_id)
    except UnknownPlan as error:
        raise NotFound(error.message) from None
    fields = staged_fields(current.staged or current.settings, body)
    settings = await _checked_settings(services, fields)
    plan = await _command(services, services.app.stage_plan, plan_id, settings, request[PRINCIPAL])
    return _view(plan)


def _action(name: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        command = getattr(services.app, f"{name}_plan")
        plan = await _command(services, command, _plan_id(request), request[PRINCIPAL])
        return _view(plan)

    handler.__name__ = f"{name}_plan"
    handler.__doc__ = f"POST /api/v1/plans/{{id}}/{name}."
    return handler


for _name in ("deploy", "pause", "resume"):
    plan_routes.post(f"/api/v1/plans/{{plan_id}}/{_name}")(_action(_name))


@plan_routes.post("/api/v1/plans/{plan_id}/run")
async def run_plan(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    app = services.app
    backup = await _command(services, app.run_plan, _plan_id(request), request[PRINCIPAL])
    accepted = Accepted(id=str(backup.id), reference_id=backup.reference_id, status=backup.status)
    return web.json_response(accepted.model_dump(mode="json"), status=202)


@plan_routes.delete("/api/v1/plans/{plan_id}")
async def delete_plan(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    await _command(services, services.app.delete_plan, _plan_id(request), request[PRINCIPAL])
    return web.Response(status=204)
