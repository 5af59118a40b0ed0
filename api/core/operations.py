"""What issue 7 adds to the aiohttp application, installed by one call in create_app:
``/metrics``, the live event feed and backup archives. (The request id on every answer and
the command log are the front door's steps, api.core.front_door.)"""

from __future__ import annotations

from aiohttp import web

from api.core.metrics import metrics_routes
from api.dialects.native.archive import archive_routes
from api.dialects.native.events import events_routes


def install_operations(app: web.Application) -> None:
    app.add_routes(metrics_routes)
    app.add_routes(events_routes)
    app.add_routes(archive_routes)
