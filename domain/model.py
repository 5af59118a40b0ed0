"""Base classes for Rewind's aggregates and their events.

Events are frozen pydantic models (the eventsourcing library's pydantic examples: a
``BaseAggregate`` whose ``Event`` and ``Created`` classes are pydantic models), so that every
payload is validated when it is made and when it is read back, and serialises to JSON without
custom code. Aggregates use the library's ``@event`` decorator: a command method checks the
rules, then calls an ``@event``-decorated method that records the fact and applies it.

Versioning: an event class may set ``class_version``; its ``upcast_vN_vN+1`` static methods
turn an older stored payload (a dict) into the current shape. The mapper in adapters applies
them when it reads events, so stored history never has to be rewritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    datetime_now_with_tzinfo,
)
from pydantic import BaseModel, ConfigDict, Field


class Immutable(BaseModel):
    """A frozen value with no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainEvent(Immutable):
    """What every stored event carries: which aggregate, which version, when."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime = Field(default_factory=datetime_now_with_tzinfo)


class Aggregate(BaseAggregate[UUID]):
    """An event-sourced aggregate whose events are pydantic models."""

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:
        """A fresh random id; guard aggregates override this with a key-derived uuid5."""
        return uuid4()

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        """Base of events that change an existing aggregate."""

        class_version: ClassVar[int] = 1

    class Created(Event, CanInitAggregate[UUID]):
        """Base of events that create an aggregate."""

        originator_topic: str
