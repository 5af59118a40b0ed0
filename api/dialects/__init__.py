"""The dialects Rewind speaks, one package each with an ``install(app)`` that adds its
routes, policy rules, OpenAPI declarations and error shape. The app factory installs every
entry of ``DIALECTS``: adding a dialect is one package and one entry here."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from api.dialects import apio, gbots, native, qradar, unitrends

Install = Callable[[web.Application], None]

DIALECTS: tuple[Install, ...] = (
    native.install,
    apio.install,
    qradar.install,
    gbots.install,
    unitrends.install,
)
