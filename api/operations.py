"""What issue 7 adds to the aiohttp application, installed by one call in create_app:
request ids and the command log (outermost middleware, so even refusals carry an id),
``/metrics``, the live event feed and backup archives."""

from __future__ import annotations

from aiohttp import web

from api.metrics import metrics_routes
from api.request_context import add_request_id_header, request_context_middleware
from api.routes_archive import archive_routes
from api.routes_events import events_routes


def install_operations(app: web.Application) -> None:
    app.middlewares.insert(0, request_context_middleware)
    app.on_response_prepare.append(add_request_id_header)
    app.add_routes(metrics_routes)
    app.add_routes(events_routes)
    app.add_routes(archive_routes)
