"""The fast path for entity progress events, read straight from their stored JSON.

Progress events (one per entity a job stored, failed or ignored) are almost all of a log.
Replay and the live views decode them without building pydantic events. A stored event is
accepted only when it has exactly the class's fields with exactly the JSON types the model
would hold (str, int, bool), so validating it would return the same values:

- first by a compiled msgspec decoder built from the class's fields, which parses and checks
  types in one pass (an event of the class's current version, ints within 64 bits);
- when that refuses it, by the checked path: parsed by orjson, upcast like the mapper does,
  then the same field and type check in Python (an older version's event, say).

Anything else (unknown or missing fields, another type, a bad id or time) is left to the
mapper and the ordinary fold, which accepts or rejects it as before. The rows
written from a ``ProgressEvent`` are the ones ``projections.rows`` and ``domain.audit`` make from
the validated event, column for column; tests/integration/test_replay_fast.py compares views
built both ways.

The live projection reads progress events this way too (projections.batch_runner), and
applies them one batch at a time, exactly once, as before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

import msgspec
import orjson
from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic
from msgspec.structs import asdict

from adapters.serialization import upcast
from domain.audit import HIDDEN
from domain.job import Job
from domain.lifecycle import Move
from projections.rows import PROGRESS_EVENTS, BackupRow, RestoreRow, _move_status

_ENVELOPE_TYPES: dict[str, type] = {
    "originator_id": str,
    "originator_version": int,
    "timestamp": str,
}
_SIMPLE = (str, int, bool)


def _json_type(annotation: Any) -> type | None:
    """The one JSON type a field of this annotation holds, when there is one."""
    return annotation if annotation in _SIMPLE else None


def _fields(cls: type[Any]) -> tuple[tuple[str, ...], tuple[type, ...]] | None:
    """Every stored field of ``cls`` in the order ``model_dump`` writes them, and their
    JSON types, or None when one is not simple."""
    fields = dict(_ENVELOPE_TYPES)
    for name, info in cls.model_fields.items():
        if name in _ENVELOPE_TYPES:
            continue
        kind = _json_type(info.annotation)
        if kind is None or name in HIDDEN:
            return None
        fields[name] = kind
    if cls.__pydantic_decorators__.field_validators or cls.__pydantic_decorators__.model_validators:
        return None
    order = tuple(cls.model_fields)
    return order, tuple(fields[name] for name in order)


_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
"""An int orjson reads exactly, as this decoder does. Others go to the checked path, which
reads them as orjson (and so the mapper) does: up to 2**64 - 1 as ints, larger ones as
floats, which it refuses."""


def _decoder(
    cls: type[Any], fields: tuple[tuple[str, ...], tuple[type, ...]]
) -> msgspec.json.Decoder[Any]:
    """A msgspec decoder that accepts a stored event of ``cls`` only with exactly these
    fields, of exactly these JSON types (msgspec is strict: no bool for an int, no float,
    no number for a str), at the class's current version."""
    version = getattr(cls, "class_version", 1)
    spec: list[Any] = [
        (name, _INT64 if kind is int else kind) for name, kind in zip(*fields, strict=True)
    ]
    # a class without versions may leave it out; an older version needs upcasting
    unversioned_default = (1,) if version == 1 else ()
    spec.append(("class_version", Literal[version], *unversioned_default))
    shape = msgspec.defstruct(f"Stored{cls.__name__}", spec, forbid_unknown_fields=True)
    return msgspec.json.Decoder(shape)


FAST_TOPICS: dict[
    str, tuple[type[Any], tuple[tuple[str, ...], tuple[type, ...]], msgspec.json.Decoder[Any]]
] = {
    get_topic(cls): (cls, fields, _decoder(cls, fields))
    for cls in PROGRESS_EVENTS
    if (fields := _fields(cls)) is not None
}
"""Stored topic -> (event class, (fields, their JSON types), compiled decoder) of what the
fast path reads."""


@cache
def _as_dict(fields: tuple[tuple[str, ...], tuple[type, ...]]) -> dict[str, type]:
    return dict(zip(*fields, strict=True))


@cache
def _canonical_id(text: str) -> str:
    """The id as ``str(UUID)`` writes it (what the views store); raises on a bad id."""
    return str(uuid.UUID(text))


@dataclass(slots=True)
class ProgressEvent:
    """One progress event as the fast path read it."""

    cls: type[Any]
    job_id: str
    version: int
    timestamp: datetime
    time: str
    """``timestamp.isoformat()``, as the audit row stores it."""
    payload: dict[str, Any]
    """The event's own fields (no envelope): its audit payload."""

    def audit_params(self, position: int) -> tuple[Any, ...]:
        """The audit row, in AUDIT_COLUMNS' order (as ViewsMixin._apply builds it)."""
        return (
            position,
            self.job_id,
            self.cls.__qualname__,
            self.version,
            self.time,
            self.payload["principal"],
            orjson.dumps(self.payload, option=orjson.OPT_SORT_KEYS).decode(),
        )

    def outcome_params(self, position: int) -> tuple[Any, ...]:
        """The outcome row, in OUTCOME_COLUMNS' order (as rows.outcome_row makes it)."""
        p = self.payload
        if self.cls is Job.EntitySucceeded:
            return (
                self.job_id, p["key"], "success", p["digest"], None,
                p["successful_calls"], p["error_calls"], position, int(p["unchanged"]),
            )  # fmt: skip
        if self.cls is Job.EntityFailed:
            return (
                self.job_id, p["key"], "error", None, p["message"],
                p["successful_calls"], p["error_calls"], position, 0,
            )  # fmt: skip
        return (self.job_id, p["key"], "ignored", None, p["reason"], 0, 0, position, 0)


def read_progress(mapper: Mapper[Any], topic: str, stored: bytes) -> ProgressEvent | None:
    """A stored event (its topic and state) as a ProgressEvent, or None when the mapper must
    decode it."""
    found = FAST_TOPICS.get(topic)
    if found is None or mapper.cipher is not None or mapper.compressor is not None:
        return None
    cls, fields, decoder = found
    try:
        state = asdict(decoder.decode(stored))
    except msgspec.DecodeError:  # refused (or malformed): the checked path decides
        return _read_checked(cls, fields, stored)
    del state["class_version"]
    return _progress(cls, state)


def _read_checked(
    cls: type[Any], fields: tuple[tuple[str, ...], tuple[type, ...]], stored: bytes
) -> ProgressEvent | None:
    """The fast path for what the compiled decoder refuses: parsed, upcast, checked."""
    state = orjson.loads(stored)
    if not isinstance(state, dict):
        return None
    upcast(cls, state)  # an older version's payload, brought up to date as the mapper does
    names, kinds = fields
    in_order = tuple(state) == names and tuple(map(type, state.values())) == kinds
    # an upcast may reorder fields; otherwise a field is missing, unknown or of another type
    if not in_order and {k: type(v) for k, v in state.items()} != _as_dict(fields):
        return None
    return _progress(cls, state)


def _progress(cls: type[Any], state: dict[str, Any]) -> ProgressEvent | None:
    """A checked state as a ProgressEvent (its envelope taken out, leaving the payload), or None
    when its id or time would not validate."""
    try:
        job_id = _canonical_id(state.pop("originator_id"))
        stamp = state.pop("timestamp")
        timestamp = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return ProgressEvent(
        cls, job_id, state.pop("originator_version"), timestamp, _iso(stamp, timestamp), state
    )


def _iso(stamp: str, parsed: datetime) -> str:
    """``parsed.isoformat()``, what the views store, without formatting it again in the
    usual case: pydantic writes UTC times with microseconds as ``...:SS.ffffffZ``, whose
    isoformat is the same text ending ``+00:00`` (a zero fraction isoformat would drop)."""
    if len(stamp) == 27 and stamp[-1] == "Z" and stamp[19] == "." and stamp[20:26] != "000000":
        return stamp[:-1] + "+00:00"
    return parsed.isoformat()


@cache
def _progress_status(kind: str, status: str) -> str:
    return _move_status(kind, status, Move.RECORD_PROGRESS)


@dataclass(slots=True)
class ProgressTotals:
    """What a run of progress events did to one job's row, folded without copying the row
    per event; ``settle`` makes the row ``evolve_job`` would have made event by event."""

    row: BackupRow | RestoreRow
    kind: str
    status: str
    done: int
    successful_calls: int
    error_calls: int
    unchanged: int
    updated_at: datetime
    version: int

    @classmethod
    def start(cls, row: BackupRow | RestoreRow) -> ProgressTotals:
        is_backup = isinstance(row, BackupRow)
        return cls(
            row,
            "backup" if is_backup else "restore",
            row.status,
            row.done,
            row.successful_calls,
            row.error_calls,
            row.unchanged if isinstance(row, BackupRow) else 0,
            row.updated_at,
            row.version,
        )

    def add(self, event: ProgressEvent) -> None:
        self.status = _progress_status(self.kind, self.status)
        self.done += 1
        if event.cls is not Job.EntityIgnored:
            self.successful_calls += event.payload["successful_calls"]
            self.error_calls += event.payload["error_calls"]
        if event.cls is Job.EntitySucceeded and event.payload["unchanged"]:
            self.unchanged += 1
        self.updated_at = event.timestamp
        self.version = event.version

    def settle(self) -> BackupRow | RestoreRow:
        changes: dict[str, Any] = {
            "status": self.status,
            "done": self.done,
            "successful_calls": self.successful_calls,
            "error_calls": self.error_calls,
            "updated_at": self.updated_at,
            "version": self.version,
        }
        if isinstance(self.row, BackupRow):
            changes["unchanged"] = self.unchanged
        return self.row.model_copy(update=changes)
