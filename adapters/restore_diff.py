"""Differences between two states of PBX configuration (pure: no I/O).

A *state* is what one side holds: entity key (``t01/t01-g01/group/ivr``,
``t01/t01-g01/user/u0001/voice_mail``) -> JSON document, plus media key
(``t01/t01-g01/media/{file_id}``) -> sha256. :func:`diff_states` compares an ``old`` state
with a ``new`` one:

- ``added``: entity keys only ``new`` has; ``removed``: only ``old`` has;
- ``changed``: keys both have with different documents, each with its field-level changes:
  JSON pointers (RFC 6901: ``/ivrs/0/name``, ``~1`` for '/', ``~0`` for '~'; the empty
  pointer is the whole document) with ``op`` add / remove / replace and ``old`` / ``new``;
  lists are compared item by item (index by index);
- ``media_added`` / ``media_removed`` / ``media_changed`` likewise for media digests.

Everything is sorted (keys, then paths in document order of sorted keys), so equal inputs give
equal output. Values are equal only when their JSON types are equal too (``1`` is not
``true``, ``1`` is not ``1.0``).

Orientation used by the API: a backup-to-backup diff is ``old = a``, ``new = b``; a dry run
is ``old = the backup``, ``new = the target now``, so it lists what changed on the target
since the backup, which is what the restore would undo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel


class FieldChange(BaseModel):
    path: str
    op: Literal["add", "remove", "replace"]
    old: Any = None
    new: Any = None


class EntityChange(BaseModel):
    key: str
    fields: list[FieldChange]


class MediaChange(BaseModel):
    key: str
    old: str
    new: str


class StateDiff(BaseModel):
    added: list[str] = []
    removed: list[str] = []
    changed: list[EntityChange] = []
    media_added: list[str] = []
    media_removed: list[str] = []
    media_changed: list[MediaChange] = []

    @property
    def is_empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.changed
            or self.media_added
            or self.media_removed
            or self.media_changed
        )


class Skipped(BaseModel):
    """Something a restore (or a diff) leaves out because a backup could not read it: it is
    unknown there, not absent, so nothing may be concluded about it."""

    key: str
    """An entity key, or a media key (``t/g/media/{file_id}``)."""
    reason: str


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def same(old: Any, new: Any) -> bool:
    """JSON equality that also compares types (so ``1``, ``1.0`` and ``true`` differ)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(same(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(same(a, b) for a, b in zip(old, new, strict=True))
    return type(old) is type(new) and old == new


def field_diff(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """Field-level changes from ``old`` to ``new`` (an empty list when they are the same)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[FieldChange] = []
        for key in sorted(old.keys() | new.keys()):
            sub = f"{path}/{_escape(str(key))}"
            if key not in new:
                changes.append(FieldChange(path=sub, op="remove", old=old[key]))
            elif key not in old:
                changes.append(FieldChange(path=sub, op="add", new=new[key]))
            else:
                changes.extend(field_diff(old[key], new[key], sub))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index in range(max(len(old), len(new))):
            sub = f"{path}/{index}"
            if index >= len(new):
                changes.append(FieldChange(path=sub, op="remove", old=old[index]))
            elif index >= len(old):
                changes.append(FieldChange(path=sub, op="add", new=new[index]))
            else:
                changes.extend(field_diff(old[index], new[index], sub))
        return changes
    if same(old, new):
        return []
    return [FieldChange(path=path, op="replace", old=old, new=new)]


def diff_states(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_media: Mapping[str, str] | None = None,
    new_media: Mapping[str, str] | None = None,
) -> StateDiff:
    """The entity-level (and field-level) diff from ``old`` to ``new``; see the module doc."""
    old_media = old_media or {}
    new_media = new_media or {}
    changed = []
    for key in sorted(old.keys() & new.keys()):
        fields = field_diff(old[key], new[key])
        if fields:
            changed.append(EntityChange(key=key, fields=fields))
    media_changed = [
        MediaChange(key=key, old=old_media[key], new=new_media[key])
        for key in sorted(old_media.keys() & new_media.keys())
        if old_media[key] != new_media[key]
    ]
    return StateDiff(
        added=sorted(new.keys() - old.keys()),
        removed=sorted(old.keys() - new.keys()),
        changed=changed,
        media_added=sorted(new_media.keys() - old_media.keys()),
        media_removed=sorted(old_media.keys() - new_media.keys()),
        media_changed=media_changed,
    )


__all__ = [
    "EntityChange",
    "FieldChange",
    "MediaChange",
    "Skipped",
    "StateDiff",
    "diff_states",
    "field_diff",
]
