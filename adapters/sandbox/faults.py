"""Latency and fault injection, and the ``/1.0/_stats`` counters that let a test check them.

Every request except the observation and control routes (``/1.0/_stats``,
``/1.0/_stats/reset``, ``/1.0/_faults`` and ``.../_export``) is counted, delayed by
``latency_ms``, then rolls one die from a
``random.Random(seed)``: below ``error_rate`` it answers 500, below ``error_rate +
timeout_rate`` it hangs ``hang_seconds`` (the client's timeout fires first) and then answers
504. Either way the attempt fails, so a logical call failed for good exactly when every request
counted under its path was injected. The dice are rolled in arrival order, so a run is
reproducible in aggregate (same rates, same counts for a sequential client), not per request
under concurrency.

``paths`` is keyed by the request's path with its query string as sent (``request.path_qs``),
so each page of a paged list is its own entry.

Chosen failures (``PUT /1.0/_faults``, ``{"rules": [{"path", "method"?, "status"?}]}``) make
every request to one path (its query string and trailing slash ignored; one method, or any)
answer ``status`` (500 by default) until they are replaced or cleared (``DELETE
/1.0/_faults``): a test decides exactly which entities a backup cannot read, or which write
of a restore fails, over real HTTP. They are counted as injected errors and roll no die.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from .config import SandboxConfig
from .protocol import Handler, error_response


@dataclass
class PathStats:
    """The counters of one path."""

    requests: int = 0
    injected_errors: int = 0
    injected_timeouts: int = 0

    def as_dict(self) -> dict[str, int]:
        """The JSON shape of these counters."""
        return {
            "requests": self.requests,
            "injected_errors": self.injected_errors,
            "injected_timeouts": self.injected_timeouts,
        }


class FailRule(BaseModel):
    """One chosen failure: requests to ``path`` (and ``method``, when given) answer
    ``status``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, pattern=r"^/")
    method: str | None = Field(default=None, pattern=r"^[A-Z]+$")
    status: int = Field(default=500, ge=400, le=599)

    @property
    def key(self) -> tuple[str, str | None]:
        return self.path.rstrip("/") or "/", self.method


class FailRules(BaseModel):
    """The body of ``PUT /1.0/_faults``: the rules that replace the current ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: list[FailRule]


@dataclass
class FaultInjector:
    """Holds the dice, the counters and the event that releases hung requests on shutdown."""

    config: SandboxConfig
    totals: PathStats = field(default_factory=PathStats)
    paths: dict[str, PathStats] = field(default_factory=dict)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    most_in_flight: int = 0
    """The most counted requests being answered at once since the last reset: what a test
    checks a client's concurrency bound against."""
    last_started_at: float | None = None
    """When the latest counted request arrived (seconds since the epoch, this machine's
    clock), None when none has since the last reset: a test that stops a client at a known
    moment checks that the client started nothing after it."""

    rules: dict[tuple[str, str | None], FailRule] = field(default_factory=dict)
    """Chosen failures by (path without trailing slash, method or None for any)."""

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)

    def set_rules(self, rules: list[FailRule]) -> None:
        """Replace the chosen failures (an empty list clears them)."""
        self.rules = {rule.key: rule for rule in rules}

    def rules_snapshot(self) -> dict[str, Any]:
        """The body of ``GET /1.0/_faults``."""
        return {"rules": [rule.model_dump() for _, rule in sorted(self.rules.items(), key=_order)]}

    def _chosen(self, request: web.Request) -> FailRule | None:
        path = request.path.rstrip("/") or "/"
        return self.rules.get((path, request.method)) or self.rules.get((path, None))

    def reset(self) -> None:
        """Zero every counter (the dice keep rolling where they were)."""
        self.totals = PathStats()
        self.paths = {}
        self.most_in_flight = self.in_flight
        self.last_started_at = None

    def snapshot(self) -> dict[str, Any]:
        """The body of ``GET /1.0/_stats``."""
        return {
            **self.totals.as_dict(),
            "in_flight": self.in_flight,
            "most_in_flight": self.most_in_flight,
            "last_started_at": self.last_started_at,
            "paths": {path: stats.as_dict() for path, stats in sorted(self.paths.items())},
        }

    def release(self) -> None:
        """End every injected hang now (called on shutdown so that the server stops at once)."""
        self.released.set()

    @staticmethod
    def observes(request: web.Request) -> bool:
        """Whether the request only observes the sandbox (never delayed, faulted or counted)."""
        path = request.path.rstrip("/")
        return path in ("/1.0/_stats", "/1.0/_stats/reset", "/1.0/_faults") or path.endswith(
            "/_export"
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count, delay and maybe fault one request before its handler runs."""
        if self.observes(request):
            return await handler(request)
        self.last_started_at = time.time()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._answer(request, handler)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        stats = self.paths.setdefault(request.path_qs, PathStats())
        stats.requests += 1
        self.totals.requests += 1
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        chosen = self._chosen(request) if self.rules else None
        if chosen is not None:
            stats.injected_errors += 1
            self.totals.injected_errors += 1
            return error_response(chosen.status, [f"Failure chosen by a test ({chosen.status})"])
        roll = self._rng.random()
        if roll < self.config.error_rate:
            stats.injected_errors += 1
            self.totals.injected_errors += 1
            return error_response(500, ["Internal server error (injected by the sandbox)"])
        if roll < self.config.error_rate + self.config.timeout_rate:
            stats.injected_timeouts += 1
            self.totals.injected_timeouts += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.released.wait(), self.config.hang_seconds)
            return error_response(504, ["Gateway timeout (injected by the sandbox)"])
        return await handler(request)


def _order(item: tuple[tuple[str, str | None], FailRule]) -> tuple[str, str]:
    (path, method), _ = item
    return path, method or ""
