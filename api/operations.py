"""What issue 7 adds to the aiohttp application, installed by one call in create_app: the
request id on every answer (the id itself and the command log are the front door's first
and last steps, api.front_door), ``/metrics``, the live event feed and backup archives."""

from __future__ import annotations

from aiohttp import web

from api.metrics import metrics_routes
from api.request_context import add_request_id_header
from api.routes_archive import archive_routes
from api.routes_events import events_routes


def install_operations(app: web.Application) -> None:
    app.on_response_prepare.append(add_request_id_header)
    app.add_routes(metrics_routes)
    app.add_routes(events_routes)
    app.add_routes(archive_routes)
