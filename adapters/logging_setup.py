"""structlog set up once per process (DESIGN.md, Configuration and running).

JSON lines when the output is not a terminal (collectors parse them), readable console lines
on one; ``REWIND_LOG_FORMAT`` forces either. Context bound with
``structlog.contextvars.bind_contextvars`` (the request id, a job id) is merged into every
line, and ``asyncio.to_thread`` copies it into the event-store threads. Keys that could carry
a secret are masked before rendering, whatever the caller passed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from adapters.settings import Settings

SECRET_KEYS = frozenset(
    {"token", "admin_token", "password", "credentials", "authorization", "secret", "api_key"}
)
"""Log keys whose values are never written (a hint of a token is a leak)."""


def mask_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in event_dict:
        if key.lower() in SECRET_KEYS:
            event_dict[key] = "***"
    return event_dict


def wants_json(settings: Settings, stream: TextIO) -> bool:
    if settings.log_format is not None:
        return settings.log_format == "json"
    return not stream.isatty()


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route structlog (and the standard library's warnings and errors) to ``stream``
    (stderr by default), as JSON lines or console lines."""
    out = stream or sys.stderr
    renderer: Any
    if wants_json(settings, out):
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=out, format="%(name)s %(message)s")
