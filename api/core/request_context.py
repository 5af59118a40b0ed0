"""Request ids and the command log.

Every request gets an id: the caller's ``X-Request-ID`` when it sent a sane one (so a trace
spans the client, a proxy and Rewind), a fresh one otherwise. It is in the log context
(adapters.logging_setup.REQUEST_ID) for the whole request (``asyncio.to_thread`` copies it
into event-store threads), returned in the ``X-Request-ID`` response header, and stored in
the spec of a backup or restore the request asks for, so the worker that runs the job logs
the same id.

Every command (any method but GET, HEAD and OPTIONS) is logged exactly once, after it was
answered: method, path, status, principal, and the ids in its path and in its answer. Bodies
and headers are never logged, so neither tokens nor PBX credentials can leak.
"""

from __future__ import annotations

import contextvars
import itertools
import re
import uuid
from typing import Any

import orjson
import structlog
from aiohttp import web

from adapters.logging_setup import REQUEST_ID as LOGGED_REQUEST_ID
from api.core.auth import PRINCIPAL

REQUEST_ID = web.RequestKey("request_id", str)
HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = structlog.get_logger("rewind.api")


def request_id_of(request: web.Request) -> str | None:
    """The id bound to this request (None outside the middleware, e.g. in unit tests)."""
    return request.get(REQUEST_ID)


_PROCESS_PREFIX = uuid.uuid4().hex[:16]
_SEQUENCE = itertools.count()


def _fresh_id() -> str:
    """32 hex digits, unique: a random prefix per process and a counter. Cheaper than a
    uuid4 per request (a getrandom call each, on the polled routes); a request id
    only has to tell requests apart, not be unguessable."""
    return f"{_PROCESS_PREFIX}{next(_SEQUENCE) & 0xFFFFFFFFFFFFFFFF:016x}"


def _incoming_id(request: web.Request) -> str:
    given = request.headers.get(HEADER)
    if given is None:
        return _fresh_id()
    given = given.strip()
    return given if _SANE.match(given) else _fresh_id()


def _answer_ids(response: web.StreamResponse) -> dict[str, Any]:
    """``id`` / ``reference_id`` / ``safety_backup_id`` of a JSON answer, when present."""
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return {}
    body = response.body
    if not isinstance(body, bytes | bytearray) or len(body) > 65536:
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    keys = ("id", "reference_id", "safety_backup_id", "status")
    return {f"answer_{k}": data[k] for k in keys if data.get(k) is not None}


def begin(request: web.Request) -> contextvars.Token[str | None]:
    """Give the request its id and put it in the log context (adapters.logging_setup's
    ``REQUEST_ID``, which every log line of the request then carries); the token returned
    undoes that (``end``)."""
    request_id = _incoming_id(request)
    request[REQUEST_ID] = request_id
    return LOGGED_REQUEST_ID.set(request_id)


def end(
    request: web.Request,
    response: web.StreamResponse | None,
    status: int,
    seconds: float,
    token: contextvars.Token[str | None],
) -> None:
    """Log a command (once, after it was answered) and take the request's id out of the
    log context."""
    if request.method not in READ_METHODS:
        _log_command(request, response, status, seconds)
    LOGGED_REQUEST_ID.reset(token)


def _log_command(
    request: web.Request, response: web.StreamResponse | None, status: int, seconds: float
) -> None:
    answer = _answer_ids(response) if response is not None else {}
    log.info(
        "command",
        method=request.method,
        path=request.path,
        status=status,
        principal=request.get(PRINCIPAL),
        duration_ms=round(seconds * 1000, 1),
        **dict(request.match_info),
        **answer,
    )


def name_request(request: web.Request, response: web.StreamResponse) -> None:
    """Name the request's id in the answer's ``X-Request-ID``: every answer, streamed or
    not, error or not. The front door does it for what handlers return (and for a raised
    redirect); a handler that streams calls it before ``prepare``, after which headers are
    sent. A plain call rather than an ``on_response_prepare`` signal: one coroutine less on
    every answer (measured under polling load)."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None and not response.prepared:
        response.headers[HEADER] = request_id
