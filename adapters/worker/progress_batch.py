"""Group commit of a run's progress: the outcomes that concurrent entity fetches finish
while a save is under way are saved together by the next one.

Each entity is still one event and each lane still learns whether its own outcome was
recorded (or the error that refused it) before it moves on; only the transactions are
shared. With 16 fetches in flight and one fsynced commit per entity, the commits were the
bound of a backup (measured on large backups); now a commit carries whatever finished meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from domain.application import JobHandle
from domain.progress import ProgressRecord


class ProgressBatcher:
    """Saves handed-in outcomes through ``handle.record_outcomes``, one batch at a time."""

    def __init__(self, handle: JobHandle, before_save: Callable[[], object] | None = None) -> None:
        self.handle = handle
        self.before_save = before_save
        """Run in the saving thread before each batch is saved (the run commits the batch's
        deferred blobs there, so no digest is recorded before its blob is durable); what it
        raises refuses the batch."""
        self._pending: list[tuple[ProgressRecord, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, record: ProgressRecord) -> None:
        """Return once ``record`` is saved; raise what refused its batch."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._pending.append((record, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(future)

    async def drain(self) -> None:
        """Return once every handed-in outcome has been saved or refused."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._save, [r for r, _ in batch])
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _save(self, records: list[ProgressRecord]) -> None:
        if self.before_save is not None:
            self.before_save()
        self.handle.record_outcomes(records)


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a refusal as seen: a lane cancelled by a stop no longer awaits its future."""
    if not future.cancelled():
        future.exception()
