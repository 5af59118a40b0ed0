"""One error middleware: every failure becomes seed 003's shape, a JSON list of messages,
with the right status; domain errors add their stable code in ``X-Rewind-Error-Code``.
No input can produce a traceback in a response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from pydantic import ValidationError

from adapters.storage_faults import RETRY_AFTER_SECONDS, StorageFault, storage_fault
from adapters.store_health import StoreDamaged
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
``register_error_shape`` from its ``install`` (e.g. QRadar's ``/api/backup_and_restore/``)."""


def register_error_shape(prefix: str, shaper: Shaper) -> None:
    """Called from a dialect's ``install``; installing twice keeps one entry."""
    if (prefix, shaper) in ERROR_SHAPES:
        return
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
    if isinstance(error, ConnectionResetError) and client_gone(request):
        # The client went away (mid-body, or before reading the answer): its business.
        log.info("client disconnected", path=request.path, method=request.method)
        return web.Response(status=CLIENT_CLOSED)  # never sent: there is no one to send to
    fault = storage_fault(error)
    if fault is not None:
        return storage_fault_answer(request, fault)
    if isinstance(error, StoreDamaged):
        return shaped_error(request, 503, [str(error)])
    log.exception("unhandled error", path=request.path, method=request.method, exc_info=error)
    return shaped_error(request, 500, ["internal error; the server log has the details"])


CLIENT_CLOSED = 499
"""The status logged for a request whose client left before its answer (nothing is sent)."""


def answered_here(request: web.Request, error: Exception) -> bool:
    """Failures the front door answers the same way on every route, whatever a dialect's
    own error handling does with the rest: the storage refusing writes (503), a damaged
    event store (503), a client gone (nothing to answer)."""
    return (
        storage_fault(error) is not None
        or isinstance(error, StoreDamaged)
        or (isinstance(error, ConnectionResetError) and client_gone(request))
    )


def client_gone(request: web.Request) -> bool:
    """Whether the request's connection is closed or closing (the client left)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def storage_fault_answer(request: web.Request, fault: StorageFault) -> web.Response:
    """503 in the dialect's shape, the cause in one line and a Retry-After: the storage
    refused the write, so nothing was carried out and the same request can be sent again."""
    log.error("storage refused a write", cause=fault.cause, path=request.path)
    response = shaped_error(request, 503, [fault.message()])
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def answer_started(request: web.Request) -> bool:
    """Whether bytes of an answer already went out (a streamed one): no other can follow."""
    return request.writer.output_size > 0


def break_off(request: web.Request, error: Exception) -> web.StreamResponse:
    """Drop the connection of an answer already under way that cannot be finished: the
    client sees a failed transfer rather than an error answer written inside the body. The
    response returned is never sent (its first write meets the closed connection)."""
    if isinstance(error, ConnectionResetError) and client_gone(request):
        log.info("client disconnected", path=request.path, method=request.method)
    else:
        log.error("answer broken off", path=request.path, method=request.method, exc_info=error)
    if request.transport is not None:
        request.transport.close()
    return web.StreamResponse(status=500)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``error_answer`` as a middleware of its own (the server uses api.core.front_door)."""
    try:
        return await handler(request)
    except Exception as error:
        return error_answer(request, error)
