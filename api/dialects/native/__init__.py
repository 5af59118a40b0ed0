"""Rewind's own dialect: backups and hosts, their lifecycle (cancel, delete, verify),
restores, plans, tokens, the event feed and backup archives, with seed 003's error list."""

from __future__ import annotations

from aiohttp import web

from api.core.policy import register_rules
from api.dialects.native.archive import archive_routes
from api.dialects.native.backups import routes
from api.dialects.native.events import events_routes
from api.dialects.native.lifecycle import lifecycle_routes
from api.dialects.native.openapi_admin import declare_plans, declare_tokens
from api.dialects.native.openapi_catalog import declare_native
from api.dialects.native.openapi_operate import declare_operations
from api.dialects.native.plans import plan_routes
from api.dialects.native.restores import restore_routes
from api.dialects.native.rules import RULES
from api.dialects.native.tokens import token_routes


def install(app: web.Application) -> None:
    for table in (
        routes,
        lifecycle_routes,
        restore_routes,
        plan_routes,
        token_routes,
        events_routes,
        archive_routes,
    ):
        app.add_routes(table)
    register_rules(RULES)
    declare_native()
    declare_operations()
    declare_plans()
    declare_tokens()
