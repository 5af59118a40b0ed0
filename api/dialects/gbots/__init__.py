"""The General Bots dialect (seed 002): backups, restores and schedules with its own error
shape."""

from __future__ import annotations

from aiohttp import web

from api.core.policy import register_rules
from api.dialects.gbots.openapi import declare_gbots
from api.dialects.gbots.routes import install_gbots
from api.dialects.gbots.rules import RULES


def install(app: web.Application) -> None:
    install_gbots(app)
    register_rules(RULES)
    declare_gbots()
