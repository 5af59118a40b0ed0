"""How events are stored: pydantic models dumped to JSON-able dicts, encoded by orjson.

This is the mapper + transcoder pattern of the eventsourcing library's pydantic examples,
extended with versioning: a payload stored by an older ``class_version`` of an event class
is brought up to date by that class's ``upcast_vN_vN+1`` static methods before validation.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel


class OrjsonTranscoder(Transcoder):
    """JSON bytes via orjson: fast, and strict about what it accepts."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class PydanticMapper(Mapper[UUID]):
    """Maps pydantic domain events to stored events and back, upcasting old payloads."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if not isinstance(domain_event, BaseModel):
            msg = f"not a pydantic event: {type(domain_event).__name__}"
            raise TypeError(msg)
        state: dict[str, Any] = domain_event.model_dump(mode="json")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        stored = self.transcoder.encode(state)
        if self.compressor:
            stored = self.compressor.compress(stored)
        if self.cipher:
            stored = self.cipher.encrypt(stored)
        return StoredEvent(
            originator_id=domain_event.originator_id,  # type: ignore[attr-defined]
            originator_version=domain_event.originator_version,  # type: ignore[attr-defined]
            topic=get_topic(type(domain_event)),
            state=stored,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        stored = stored_event.state
        if self.cipher:
            stored = self.cipher.decrypt(stored)
        if self.compressor:
            stored = self.compressor.decompress(stored)
        state: dict[str, Any] = self.transcoder.decode(stored)
        cls = resolve_topic(stored_event.topic)
        upcast(cls, state)
        return cls.model_validate(state)


def upcast(cls: type[Any], state: dict[str, Any]) -> None:
    """Bring a stored payload from its recorded class_version to the class's current one."""
    version = state.pop("class_version", 1)
    current = getattr(cls, "class_version", 1)
    while version < current:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
