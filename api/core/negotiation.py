"""Seed 003's content rules: 406 when the client accepts nothing we produce, 415 when a body
comes in a type we do not read, 400 for a body that is not a JSON object. The APIO dialect's
routes (paths with ``/batch/``, seed 000's "Backup builds") also answer in XML."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from api.core.errors import BadRequest

JSON = "application/json"
XML_TYPES = ("application/xml", "text/xml")
XML_PATH_MARK = "/batch/"
MAX_BODY_BYTES = 1 << 20


def accepts_json(accept: str) -> bool:
    if not accept.strip():
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", JSON) or media.endswith("+json"):
            return True
    return False


def accepts_xml(accept: str) -> bool:
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in XML_TYPES:
            return True
    return False


OTHER_MEDIA: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"^/api/v1/(backups/[^/]+/)?events$"), frozenset({"text/event-stream"})),
    (re.compile(r"^/metrics$"), frozenset({"text/plain", "application/openmetrics-text"})),
    (re.compile(r"^/api/v1/backups/[^/]+/archive$"), frozenset({"application/x-tar"})),
]
"""Routes that also produce something other than JSON (event streams, metrics, archives)."""


def accepts_other(path: str, accept: str) -> bool:
    media = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return any(pattern.match(path) and media & types for pattern, types in OTHER_MEDIA)


def refuse_unacceptable(request: web.Request) -> None:
    """413 for a body over the limit, on every route whether or not its handler reads a
    body; 406 when the Accept header takes nothing this path produces."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    accept = request.headers.get("Accept", "")
    if accepts_json(accept) or accepts_other(request.path, accept):
        return
    if XML_PATH_MARK in request.path and accepts_xml(accept):
        return
    produced = f"{JSON} or {' or '.join(XML_TYPES)}" if XML_PATH_MARK in request.path else JSON
    raise BadRequest(406, f"Only {produced} can be produced; Accept was refused")


async def read_json_object(
    request: web.Request, accepted: frozenset[str] = frozenset({JSON})
) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object. A body whose
    Content-Type is not in ``accepted`` (nor ``+json``) is refused with 415."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    raw = await request.read()
    if not raw.strip():
        return {}
    content_type = request.content_type
    if content_type not in accepted and not content_type.endswith("+json"):
        raise BadRequest(415, f"Content-Type must be {JSON}, got {content_type}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(400, f"Malformed JSON body: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "The JSON body must be an object")
    return body
