"""Seed 003's HTTP conventions, shared by every sandbox route.

- Errors are a JSON list of messages, whatever the status (even 404 and 406, whose seed 003
  message is "empty": an empty list would tell a tester nothing, so the sandbox says why).
- 406 when an ``Accept`` header is present and excludes the media type the route answers with.
  A missing ``Accept`` means "anything" (RFC 9110), which seed 003 does not say but every HTTP
  client relies on.
- 415 when a JSON write carries no ``Content-Type`` or another one than ``application/json``.
- 400 "Incorrect parameters sent: a, b" names what is wrong in a body or a query parameter.
- Lists are ``{"total", "items"}``; ``_page`` is 1-based and ``_pagesize`` bounds a page. Without
  ``_pagesize`` the whole list is one page (``_page`` alone uses pages of 100).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

DEFAULT_PAGE_SIZE = 100
JSON = "application/json"


class PbxHttpError(Exception):
    """Raised by a handler to answer ``status`` with a JSON list of ``messages``."""

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(status, messages)
        self.status = status
        self.messages = list(messages)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response encoded by orjson (fast, and stable for identical content)."""
    return web.Response(
        body=orjson.dumps(data), status=status, content_type=JSON, charset="utf-8", headers=headers
    )


def canonical_json(data: Any) -> bytes:
    """The canonical encoding ``_export`` uses: keys sorted at every level, no whitespace."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def error_response(status: int, messages: list[str]) -> web.Response:
    """Seed 003's error body: a JSON list of messages."""
    return json_response(messages, status=status)


def incorrect(*names: str) -> PbxHttpError:
    """Seed 003's 400 naming the incorrect parameters."""
    return PbxHttpError(400, f"Incorrect parameters sent: {', '.join(names)}")


def not_found(what: str) -> PbxHttpError:
    """A 404 that says what was not found."""
    return PbxHttpError(404, f"{what} not found")


def _accepted_types(header: str) -> list[tuple[str, float]]:
    accepted = []
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            accepted.append((media.lower(), quality))
    return accepted


def require_accept(request: web.Request, media_type: str = JSON) -> None:
    """406 unless the request's ``Accept`` admits ``media_type`` (a missing header admits it)."""
    header = request.headers.get("Accept")
    if header is None or not header.strip():
        return
    major = media_type.split("/", 1)[0]
    for media, quality in _accepted_types(header):
        if quality > 0 and media in (media_type, f"{major}/*", "*/*"):
            return
    raise PbxHttpError(406, f"Accept header must admit {media_type}")


def require_content_type(request: web.Request, *allowed: str) -> None:
    """415 unless the body's ``Content-Type`` is one of ``allowed`` (``audio/*`` patterns too)."""
    content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    for pattern in allowed:
        if content_type == pattern or (
            pattern.endswith("/*") and content_type.startswith(pattern[:-1])
        ):
            return
    raise PbxHttpError(415, f"Content-Type must be {' or '.join(allowed)}")


async def read_json(request: web.Request) -> Any:
    """The JSON body of a write: 415 for another Content-Type, 400 when it does not parse."""
    require_content_type(request, JSON)
    raw = await request.read()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PbxHttpError(400, "Incorrect syntax: the body is not valid JSON") from None


def _positive_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise incorrect(name) from None
    if value < 1:
        raise incorrect(name)
    return value


def paged(request: web.Request, items: list[Any]) -> dict[str, Any]:
    """Seed 003's ``{"total", "items"}`` for the page the query asks for."""
    if "_pagesize" not in request.query and "_page" not in request.query:
        return {"total": len(items), "items": items}
    size = _positive_int(request, "_pagesize", DEFAULT_PAGE_SIZE)
    page = _positive_int(request, "_page", 1)
    start = (page - 1) * size
    return {"total": len(items), "items": items[start : start + size]}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn :class:`PbxHttpError` and aiohttp's own 404 / 405 into seed 003 error lists."""
    try:
        return await handler(request)
    except PbxHttpError as error:
        return error_response(error.status, error.messages)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, [f"{error.reason}: {request.method} {request.path}"])
