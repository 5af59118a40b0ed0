"""Latency and fault injection, and the ``/1.0/_stats`` counters that let a test check them.

Every request except the observation routes (``/1.0/_stats``, ``/1.0/_stats/reset`` and
``.../_export``) is counted, delayed by ``latency_ms``, then rolls one die from a
``random.Random(seed)``: below ``error_rate`` it answers 500, below ``error_rate +
timeout_rate`` it hangs ``hang_seconds`` (the client's timeout fires first) and then answers
504. Either way the attempt fails, so a logical call failed for good exactly when every request
counted under its path was injected. The dice are rolled in arrival order, so a run is
reproducible in aggregate (same rates, same counts for a sequential client), not per request
under concurrency.

``paths`` is keyed by the request's path with its query string as sent (``request.path_qs``),
so each page of a paged list is its own entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

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

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)

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
        return path in ("/1.0/_stats", "/1.0/_stats/reset") or path.endswith("/_export")

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
