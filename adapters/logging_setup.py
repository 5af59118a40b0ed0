"""structlog set up once per process.

JSON lines when the output is not a terminal (collectors parse them), readable console lines
on one; ``REWIND_LOG_FORMAT`` forces either. Context bound with
``structlog.contextvars.bind_contextvars`` (a job id) and the request id in ``REQUEST_ID``
are merged into every line, and ``asyncio.to_thread`` copies both into the event-store
threads. The request id has a context variable of its own because every request sets it:
one ``ContextVar.set`` costs less than structlog's bind and reset (measured under polling load).
Keys that could carry a secret are masked before rendering, whatever the caller passed. The
standard library's records (aiohttp's, other libraries') go through the same processors and
renderer.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from aiohttp.http_exceptions import HttpProcessingError

from adapters.settings import Settings

SECRET_KEYS = frozenset(
    {"token", "admin_token", "password", "credentials", "authorization", "secret", "api_key"}
)
"""Log keys whose values are never written (a hint of a token is a leak)."""


REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "rewind_request_id", default=None
)
"""The id of the request being answered (api.core.request_context sets it), None outside one."""


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


class ClientFaultFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a line too long, a bad status line) as an
    error with a traceback; it is the client's fault and answered 400, so it becomes one
    info line naming the problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            detail = str(error.message).splitlines()[0][:200] if error.message else ""
            record.msg = f"bad request from a client: {type(error).__name__}: {detail}"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route structlog, and the standard library's logging (aiohttp's own errors, warnings
    of libraries), to ``stream`` (stderr by default) in one format: JSON lines or console
    lines, so a collector never meets a bare multi-line traceback."""
    out = stream or sys.stderr
    renderer: Any
    if wants_json(settings, out):
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_secrets,
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    aiohttp_server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientFaultFilter) for f in aiohttp_server.filters):
        aiohttp_server.addFilter(ClientFaultFilter())
