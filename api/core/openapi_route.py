"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document of this very application (every
route the router holds; see api.core.openapi), built on first request and kept."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import RootModel

from api.core.openapi import OPENAPI_PATH, Operation, build_document, documented

OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict[str, Any])

openapi_routes = web.RouteTableDef()


class OpenApiObject(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document."""


@openapi_routes.get(OPENAPI_PATH)
@documented(Operation("this document (OpenAPI 3.1)", {200: OpenApiObject}, tags=("operations",)))
async def openapi_document(request: web.Request) -> web.Response:
    cache = request.app[OPENAPI_DOCUMENT]
    if not cache:
        cache.update(build_document(request.app))
    return web.json_response(cache)


def install_openapi(app: web.Application) -> None:
    """Serve the document (call from create_app, after or before the other route tables:
    the document is built from the router on first request, when every route is in)."""
    app[OPENAPI_DOCUMENT] = {}
    app.add_routes(openapi_routes)
