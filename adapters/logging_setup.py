"""structlog set up once per process (DESIGN.md, Configuration and running).

JSON lines when the output is not a terminal (collectors parse them), readable console lines
on one; ``REWIND_LOG_FORMAT`` forces either. Context bound with
``structlog.contextvars.bind_contextvars`` (a job id) and the request id in ``REQUEST_ID``
are merged into every line, and ``asyncio.to_thread`` copies both into the event-store
threads. The request id has a context variable of its own because every request sets it:
one ``ContextVar.set`` costs less than structlog's bind and reset (bench P1). Keys that could carry
a secret are masked before rendering, whatever the caller passed.
"""

from __future__ import annotations

import contextvars
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


REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "rewind_request_id", default=None
)
"""The id of the request being answered (api.request_context sets it), None outside one."""


def add_request_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


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
            add_request_id,
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
