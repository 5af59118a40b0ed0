"""The Unitrends dialect (seed 004): one query route over every tenant's backups."""

from __future__ import annotations

from aiohttp import web

from api.core.policy import register_rules
from api.dialects.unitrends.routes import unitrends_routes
from api.dialects.unitrends.rules import RULES


def install(app: web.Application) -> None:
    app.add_routes(unitrends_routes)
    register_rules(RULES)
