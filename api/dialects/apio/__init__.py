"""The APIO dialect (seed 000): a group's backups under its tenant, in JSON or XML."""

from __future__ import annotations

from aiohttp import web

from api.core.policy import register_rules
from api.dialects.apio.openapi import declare_apio
from api.dialects.apio.routes import apio_routes
from api.dialects.apio.rules import RULES


def install(app: web.Application) -> None:
    app.add_routes(apio_routes)
    register_rules(RULES)
    declare_apio()
