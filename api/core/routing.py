"""The router, with a memory of the paths it has just resolved.

A polling client asks for the same path again and again (measured under polling load). aiohttp's
router finds a route by walking the path's prefixes and trying each pattern filed under the one that
matches: for the APIO polling path that is nine lookups and a long regular expression on
every poll, ~4 µs more than a short static path. Which route a (method, path) pair reaches
cannot change once the routes are frozen, so the answer found the first time is remembered
and handed out again as a new match (the handler gets its own copy of the parameters).

Only plain matches of this application's own routes are remembered; not-found and
method-not-allowed answers are not (any path can produce them, and they are cheap to find).
The memory is bounded in entries and in the length of the paths it keeps, so a client
sweeping random paths costs it nothing but misses."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_urldispatcher import (
    AbstractRoute,
    DynamicResource,
    MatchInfoError,
    PlainResource,
    UrlMappingMatchInfo,
)

MEMO_ENTRIES = 1024
"""Paths remembered at most; when full, the memory starts again (polled paths come back
within one poll interval)."""
MEMO_PATH_CHARS = 256
"""Longer paths are resolved every time: no route of ours needs more."""


class RememberingRouter(web.UrlDispatcher):
    """aiohttp's router, remembering which route a (method, path) pair reached."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[tuple[str, str], tuple[dict[str, str], AbstractRoute]] = {}

    @property
    def remembered(self) -> int:
        """How many (method, path) pairs the router remembers now."""
        return len(self._memo)

    async def resolve(self, request: web.Request) -> UrlMappingMatchInfo:
        key = (request.method, request.rel_url.path_safe)
        known = self._memo.get(key)
        if known is not None:
            return UrlMappingMatchInfo(known[0], known[1])
        match = await super().resolve(request)
        if _rememberable(match) and len(key[1]) <= MEMO_PATH_CHARS:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = (dict(match), match.route)
        return match


def _rememberable(match: UrlMappingMatchInfo) -> bool:
    """A route of this application (not a sub-application's, whose match carries its app
    stack; not a static directory, which looks at the file system), found, not refused."""
    if isinstance(match, MatchInfoError) or match.apps:
        return False
    resource = match.route.resource
    return type(resource) in (PlainResource, DynamicResource)


def application(middlewares: Sequence[Middleware], client_max_size: int) -> web.Application:
    """``web.Application`` with the remembering router. aiohttp marks its ``router``
    argument deprecated (it has been since 3.0 and is still there in 3.14) but gives no
    other way in; the warning is about that argument alone."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "router argument is deprecated", DeprecationWarning)
        return web.Application(
            router=RememberingRouter(), middlewares=middlewares, client_max_size=client_max_size
        )
