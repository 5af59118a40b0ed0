"""The QRadar dialect (seed 001): whole-host backups addressed by Long ids, with QRadar's
error shape and ``fields`` selection."""

from __future__ import annotations

from aiohttp import web

from api.core.policy import register_rules
from api.dialects.qradar.errors import install_error_shape
from api.dialects.qradar.openapi import declare_qradar
from api.dialects.qradar.routes import qradar_routes
from api.dialects.qradar.rules import RULES


def install(app: web.Application) -> None:
    install_error_shape()
    app.add_routes(qradar_routes)
    register_rules(RULES)
    declare_qradar()
