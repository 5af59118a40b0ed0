"""Read-your-writes without polling: the view announces each position it has applied, and
request handlers waiting for a position are woken at once (not after the library's 100 ms+
``wait()`` poll)."""

from __future__ import annotations

import asyncio
import threading


class PositionWaiter:
    """Tracks the highest applied position; lets coroutines wait until it reaches theirs."""

    def __init__(self) -> None:
        self.position = 0
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def advance(self, position: int) -> None:
        """Called from the projection's thread after a position is committed."""
        with self._lock:
            if position <= self.position:
                return
            self.position = position
            ready = [w for w in self._waiting if w[0] <= position]
            self._waiting = [w for w in self._waiting if w[0] > position]
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, future in ready:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():  # one wake-up of each loop, not one per waiter
            loop.call_soon_threadsafe(_resolve_all, futures)

    def reset(self) -> None:
        """Start again from nothing (the views are rebuilt from the start of the log); a
        caller already waiting keeps waiting for its position to be applied again."""
        with self._lock:
            self.position = 0

    async def wait(self, position: int, timeout: float) -> bool:
        """True once ``position`` is applied; False after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.position >= position:
                return True
            self._waiting.append((position, loop, future))
        try:
            async with asyncio.timeout(timeout):
                await future
            return True
        except TimeoutError:
            with self._lock:
                self._waiting = [w for w in self._waiting if w[2] is not future]
            return False


def _resolve_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
