"""Path parameters are checked before anything looks them up: a charset and a length per
parameter name, so no odd byte reaches a query, a log line or a file name (400 naming it,
in seed 003's words)."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp import web

from api.core.errors import BadRequest
from domain.scope import check_name

RESOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$")
"""Backup, restore and token ids, reference ids and instance names: UUIDs and reference ids
(``backup_<tenant>_<group>_<hex>``) fit; at most 200 characters."""


def _resource_id(value: str, name: str) -> str:
    if not RESOURCE_ID.fullmatch(value):
        msg = (
            f"{name} must be 1-200 characters of letters, digits, '_', '.', ':', '-' "
            "(starting with a letter or digit)"
        )
        raise ValueError(msg)
    return value


def _qradar_id(value: str, name: str) -> str:
    """QRadar's ``{id}`` (a Long): any short value reaches the dialect's handler, which
    answers its own 404 1001 for what names no backup."""
    if not 1 <= len(value) <= 64:
        raise ValueError(f"{name} must be 1-64 characters")
    return value


Check = Callable[[str, str], str]

PATH_PARAMS: dict[str, Check] = {
    "tenant_id": check_name,
    "group_id": check_name,
    "host_id": check_name,
    "backup_id": _resource_id,
    "restore_id": _resource_id,
    "token_id": _resource_id,
    "instance_name": _resource_id,
    "a": _resource_id,
    "b": _resource_id,
    "id": _qradar_id,
}
"""Known parameter names; any other is held to ``_resource_id`` (never unchecked)."""


_ACCEPTED: set[tuple[str, str]] = set()
"""(method, path as routed) of requests whose path parameters were all found good: the route,
and so its parameters, follow from the method and the path the router matched (still
percent-encoded where a segment holds a slash, so two paths that decode alike stay apart),
and clients poll the same paths again and again (measured under polling load), so a known path
skips the patterns. Bounded by clearing."""
_ACCEPTED_MAX = 10_000


def validate_path(request: web.Request) -> None:
    """Raise 400 "Incorrect parameters sent: ..." naming every bad path parameter."""
    seen = (request.method, request.rel_url.path_safe)
    if seen in _ACCEPTED:
        return
    bad: list[str] = []
    details: list[str] = []
    for name, value in request.match_info.items():
        check = PATH_PARAMS.get(name, _resource_id)
        try:
            check(value, name)
        except ValueError as error:
            bad.append(name)
            details.append(f"{name}: {str(error).replace(repr(value), '(the value sent)')}")
    if bad:
        raise BadRequest(400, f"Incorrect parameters sent: {', '.join(bad)}", *details)
    if len(_ACCEPTED) >= _ACCEPTED_MAX:
        _ACCEPTED.clear()
    _ACCEPTED.add(seen)
