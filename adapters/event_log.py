"""Reading the stored event log's envelopes without building events.

A worker follows the whole log, one progress event per entity of every backup; validating
each as a pydantic event was a sizeable share of a backup's CPU. What a follower needs (see
domain.audit.LogHead) sits in the stored record's envelope plus the payload's timestamp, so
this module undoes the store's encryption and compression and reads that field alone. That
is storage work, hence here rather than in the domain's application service.
"""

from __future__ import annotations

import functools
from datetime import datetime
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import resolve_topic

from domain.audit import LogHead


@functools.cache
def _type_name(topic: str) -> str:
    """An event topic's class name as the audit trail spells it (renamed topics resolve)."""
    name: str = resolve_topic(topic).__qualname__
    return name


def read_log_heads(app: Application[UUID], after: int = 0, limit: int = 100) -> list[LogHead]:
    """``app.read_log`` without building events: type, aggregate, version and time of each
    entry from position ``after`` (exclusive), at most ``limit`` of them."""
    mapper = app.mapper
    heads: list[LogHead] = []
    for note in app.recorder.select_notifications(start=after + 1, limit=limit):
        state = note.state
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        stamp = mapper.transcoder.decode(state)["timestamp"]
        heads.append(
            LogHead(
                position=note.id,
                type=_type_name(note.topic),
                aggregate_id=UUID(str(note.originator_id)),
                version=note.originator_version,
                time=stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp),
            )
        )
    return heads
