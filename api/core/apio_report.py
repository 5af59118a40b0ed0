"""The APIO dialect's answers (seed 000, "Backup data"): built from the views' rows.

``data`` (polling and retrieve)::

    {
      "main": {                         # the seed's "Backup data info" (its table calls it info)
        "tenant_id": str, "group_id": str,
        "user_id": str,                 # the principal who started the backup
        "start_datetime": str,          # UTC, "2019-05-10 15:31:59.262488"
        "end_datetime": str | null,     # null while the backup runs
        "sw_version": str,
        "successful_calls": int, "error_calls": int,
        "has_errors": bool,             # error_calls > 0
        "status": str,                  # Rewind extension: SUCCESS, FAILED, MISSING, ...
        "failure_reason": str | null    # Rewind extension: "cancelled" for a stopped backup
      },
      "group": {<entity>: ENTITY, ...}, # one per requested group entity, in request order
      "user":  {<entity>: ENTITY, ...}  # one per requested user entity, users merged
    }

ENTITY is the seed's "Backup data entity", ``{"success": [...], "errors": [...],
"ignored_entities": [...]}``, with these items (user entities' items also carry ``user_id``,
and are sorted by it)::

    success:           {"entity", "digest", "successful_calls", "error_calls"}
                       + "config" (the entity's JSON document) when type is "full";
                         null if the stored copy is gone or damaged (a MISSING backup)
    errors:            {"entity", "message", "successful_calls", "error_calls"}
    ignored_entities:  {"entity", "reason"}      # e.g. a name the host cannot serve

``type: "report"`` is exactly that without ``config``. A backup stopped before it reached an
entity simply has no item for it. The list's items are ``main`` plus ``id`` (the reference id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from adapters.artifacts import ArtifactError, ArtifactStore, ManifestCorruptError
from domain.catalogue import parse_entity_key
from domain.lifecycle import ACTIVE_STATUSES, SETTLED_STATUSES
from projections.rows import BackupRow, OutcomeRow

PENDING = ACTIVE_STATUSES
"""Polling answers "pending" for these."""

FINISHED = SETTLED_STATUSES
"""Polling answers "finished" (with the data) for these; DELETING backups are not shown."""

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_KIND = {"success": "success", "error": "errors", "ignored": "ignored_entities"}


def apio_datetime(value: datetime | None) -> str | None:
    """The seed's timestamp shape, in UTC with microseconds."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(DATETIME_FORMAT)


def info(row: BackupRow) -> dict[str, Any]:
    """The seed's "Backup data info" (``main``) of one backup."""
    return {
        "tenant_id": row.tenant_id,
        "group_id": row.group_id,
        "user_id": row.principal,
        "start_datetime": apio_datetime(row.created_at),
        "end_datetime": apio_datetime(row.ended_at),
        "sw_version": row.sw_version,
        "successful_calls": row.successful_calls,
        "error_calls": row.error_calls,
        "has_errors": row.error_calls > 0,
        "status": row.status,
        "failure_reason": row.failure_reason,
    }


def list_item(row: BackupRow) -> dict[str, Any]:
    return {"id": row.reference_id, **info(row)}


def _names(joined: str) -> list[str]:
    return [name for name in joined.split(",") if name]


def _empty() -> dict[str, list[dict[str, Any]]]:
    return {"success": [], "errors": [], "ignored_entities": []}


def _item(outcome: OutcomeRow, entity: str, configs: Mapping[str, Any] | None) -> dict[str, Any]:
    if outcome.outcome == "success":
        item: dict[str, Any] = {
            "entity": entity,
            "digest": outcome.digest,
            "successful_calls": outcome.successful_calls,
            "error_calls": outcome.error_calls,
        }
        if configs is not None:
            item["config"] = configs.get(outcome.key)
        return item
    if outcome.outcome == "error":
        return {
            "entity": entity,
            "message": outcome.message,
            "successful_calls": outcome.successful_calls,
            "error_calls": outcome.error_calls,
        }
    return {"entity": entity, "reason": outcome.message}


def backup_data(
    row: BackupRow, outcomes: Iterable[OutcomeRow], configs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The seed's "Backup data"; ``configs`` (entity key -> document) makes it "full"."""
    group = {name: _empty() for name in _names(row.group_entities)}
    user = {name: _empty() for name in _names(row.user_entities)}
    user_items: list[tuple[str, str, dict[str, Any]]] = []
    for outcome in outcomes:
        try:
            _tenant, _group, user_id, entity = parse_entity_key(outcome.key)
        except ValueError:
            continue
        kind = _KIND.get(outcome.outcome)
        if kind is None:
            continue
        item = _item(outcome, entity, configs)
        if user_id is None:
            group.setdefault(entity, _empty())[kind].append(item)
        else:
            user_items.append((user_id, kind, {"user_id": user_id, **item}))
    for _user_id, kind, item in sorted(user_items, key=lambda t: t[0]):
        user.setdefault(item["entity"], _empty())[kind].append(item)
    return {"main": info(row), "group": group, "user": user}


def load_configs(
    artifacts: ArtifactStore, row: BackupRow, outcomes: Iterable[OutcomeRow]
) -> dict[str, Any]:
    """Each successful entity's JSON document (blocking: run it in a thread).

    The digest is the manifest's when the backup has one (SUCCESS), else the outcome's (a
    stopped backup keeps what it stored). A blob that is gone or damaged gives None.
    """
    digests = {o.key: o.digest for o in outcomes if o.outcome == "success" and o.digest}
    try:
        manifest = artifacts.read_manifest(row.id)
    except (ManifestCorruptError, ValueError):
        manifest = None
    if manifest is not None:
        digests.update({k: d for k, d in manifest.entities.items() if k in digests})
    configs: dict[str, Any] = {}
    for key, digest in digests.items():
        try:
            configs[key] = orjson.loads(artifacts.read_bytes(digest))
        except (ArtifactError, OSError, orjson.JSONDecodeError, ValueError):
            configs[key] = None
    return configs
