"""The routes every Rewind answers whatever dialects it speaks: liveness, readiness and the
Prometheus metrics, with their OpenAPI declarations (their policy entries are the core's,
in api.core.policy). Open probes need no token, so an orchestrator can ask before any token
exists."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from api.core.metrics import metrics_routes
from api.core.openapi import Operation, declare
from api.core.services import SERVICES

OPS = ("operations",)
operation_routes = web.RouteTableDef()


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """``/readyz``: 200 when every check is ``ok``, 503 otherwise (same shape)."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    projection_lag: int | None = None
    """Events the views are behind the store (null when the store cannot be read)."""
    view_restarts: int
    views_error: str | None = None


@operation_routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@operation_routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The checks of api.core.readiness: event store, projection (running, lag), artifacts."""
    from api.core.readiness import check_readiness

    services = request.app[SERVICES]
    result = await services.query(check_readiness, services)
    return web.json_response(result.body(), status=200 if result.ready else 503)


def install_operations(app: web.Application) -> None:
    app.add_routes(operation_routes)
    app.add_routes(metrics_routes)
    declare("GET", "/healthz", Operation("liveness", {200: Health}, tags=OPS, public=True))
    readiness = Operation("readiness", {200: Readiness, 503: Readiness}, tags=OPS, public=True)
    declare("GET", "/readyz", readiness)
    metrics = Operation("Prometheus metrics", {200: None}, media="text/plain", tags=OPS)
    declare("GET", "/metrics", metrics)
