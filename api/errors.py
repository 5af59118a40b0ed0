"""One error middleware: every failure becomes seed 003's shape, a JSON list of messages,
with the right status; domain errors add their stable code in ``X-Rewind-Error-Code``.
No input can produce a traceback in a response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from pydantic import ValidationError

from domain.errors import DomainError

log = structlog.get_logger("rewind.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(Exception):
    """A request problem found outside pydantic (malformed JSON, a bad header)."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(messages[0] if messages else "bad request")
        self.status = status
        self.messages = list(messages)
        self.headers = headers or {}


def error_response(status: int, messages: list[str], code: int | None = None) -> web.Response:
    response = web.json_response(messages, status=status)
    if code is not None:
        response.headers["X-Rewind-Error-Code"] = str(code)
    return response


def validation_messages(error: ValidationError) -> list[str]:
    """Seed 003's wording first ("Incorrect parameters sent: a, b"), then one line each."""
    fields: list[str] = []
    details: list[str] = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "body"
        if name not in fields:
            fields.append(name)
        details.append(f"{name}: {item['msg']}")
    return [f"Incorrect parameters sent: {', '.join(fields)}", *details]


Shaper = Callable[[int, list[str], int | None], web.Response]
"""Builds a dialect's error body from a status, messages and an optional domain code."""

ERROR_SHAPES: list[tuple[str, Shaper]] = []
"""(path prefix, shaper) of dialects whose errors are not seed 003's list; the longest
matching prefix wins, the native list is the default. A dialect registers its shape with
``register_error_shape`` (e.g. QRadar's ``/api/backup_and_restore/``)."""


def register_error_shape(prefix: str, shaper: Shaper) -> None:
    ERROR_SHAPES.append((prefix, shaper))
    ERROR_SHAPES.sort(key=lambda item: len(item[0]), reverse=True)


def shaped_error(
    request: web.Request, status: int, messages: list[str], code: int | None = None
) -> web.Response:
    """The error response in the shape of the dialect ``request`` speaks."""
    path = request.path
    for prefix, shaper in ERROR_SHAPES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return shaper(status, messages, code)
    return error_response(status, messages, code)


def error_answer(request: web.Request, error: Exception) -> web.Response:
    """The answer to a request that raised ``error``, in its dialect's shape; an aiohttp
    redirect (an HTTPException below 400) is raised again, as aiohttp answers those."""
    if isinstance(error, DomainError):
        return shaped_error(request, error.status, [error.message], error.code)
    if isinstance(error, ValidationError):
        return shaped_error(request, 400, validation_messages(error))
    if isinstance(error, BadRequest):
        response = shaped_error(request, error.status, error.messages)
        response.headers.update(error.headers)
        return response
    if isinstance(error, web.HTTPException):
        if error.status < 400:
            raise error
        message = error.text if error.text and not error.text.startswith("{") else error.reason
        response = shaped_error(request, error.status, [message or error.reason])
        for header in ("Allow", "WWW-Authenticate"):
            if header in error.headers:
                response.headers[header] = error.headers[header]
        return response
    log.exception("unhandled error", path=request.path, method=request.method, exc_info=error)
    return shaped_error(request, 500, ["internal error; the server log has the details"])


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``error_answer`` as a middleware of its own (the server uses api.front_door)."""
    try:
        return await handler(request)
    except Exception as error:
        return error_answer(request, error)
