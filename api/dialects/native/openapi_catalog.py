"""The OpenAPI declarations of the native backups, hosts, lifecycle and restores routes, and
the response models of the answers those handlers build as dicts (the backup report is
APIO's too).

To document a new route, either put ``@documented(Operation(...))`` under its route
decorator, or add a ``declare(...)`` to its dialect's declarations, called from the
dialect's ``install``; tests/unit/test_openapi.py fails for any route that has neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from adapters.restore_diff import Skipped, StateDiff
from api.core import schemas as native
from api.core.openapi import ModelType, Operation, Page, declare
from api.dialects.native.lifecycle import VerifyView
from api.dialects.native.openapi_operate import SSE, BackupEventsQuery, EventsHeaders
from domain.audit import AuditEntry

NATIVE = ("native",)
Responses = Mapping[int, ModelType | None]


class AuditItem(AuditEntry):
    """One event of a backup's audit trail, with its position in the log."""

    position: int


class EntityOutcomes(BaseModel):
    """Seed 000's per-entity report: items are ``{entity, digest, successful_calls,
    error_calls, config?}``, ``{entity, message, ...}`` and ``{entity, reason}`` (user
    entities' items add ``user_id``)."""

    success: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    ignored_entities: list[dict[str, Any]]


class ReportMain(BaseModel):
    """Seed 000's "Backup data info", plus ``status`` and ``failure_reason``."""

    tenant_id: str | None
    group_id: str | None
    user_id: str
    start_datetime: str | None
    end_datetime: str | None
    sw_version: str
    successful_calls: int
    error_calls: int
    has_errors: bool
    status: str
    failure_reason: str | None


class Report(BaseModel):
    main: ReportMain
    group: dict[str, EntityOutcomes]
    user: dict[str, EntityOutcomes]


class BackupDiff(BaseModel):
    a: str
    b: str
    diff: StateDiff
    skipped: list[Skipped]
    """Keys either backup could not read: left out of the diff, with the reason."""


class DryRun(BaseModel):
    backup_id: str
    target_host_id: str
    existing: Literal["update", "skip"]
    whole_group: bool
    diff: StateDiff
    skipped: list[Skipped]


class RestoreAccepted(BaseModel):
    id: str
    status: str
    safety_backup_id: str | None


def _native(method: str, path: str, summary: str, responses: Responses, **kw: Any) -> None:
    declare(method, path, Operation(summary, responses, tags=NATIVE, **kw))


def declare_native() -> None:
    b = "/api/v1/backups"
    _native("POST", b, "start a backup", {202: native.Accepted}, body=native.BackupRequest)
    _native(
        "GET",
        b,
        "list backups, newest first",
        {200: Page[native.BackupView]},
        query=native.ListQuery,
    )
    _native("GET", f"{b}/{{backup_id}}", "one backup", {200: native.BackupView})
    _native(
        "GET",
        f"{b}/{{backup_id}}/events",
        "a backup's audit trail (streamed as server-sent events on request)",
        {200: Page[AuditItem]},
        query=BackupEventsQuery,
        headers=EventsHeaders,
        also=(SSE,),
    )
    _native(
        "GET",
        f"{b}/{{backup_id}}/report",
        "a backup's report (seed 000)",
        {200: Report},
        query=native.ReportQuery,
    )
    _native("POST", f"{b}/{{backup_id}}/cancel", "cancel a backup", {202: native.Accepted})
    _native("DELETE", f"{b}/{{backup_id}}", "delete a backup", {202: native.Accepted})
    _native("POST", f"{b}/{{backup_id}}/verify", "re-hash a backup", {200: VerifyView})
    _native("GET", f"{b}/{{a}}/diff/{{b}}", "what changed from a to b", {200: BackupDiff})
    _native(
        "POST",
        "/api/v1/hosts",
        "register a PBX host",
        {201: native.HostView},
        body=native.HostRequest,
        body_required=True,
    )
    _native(
        "GET", "/api/v1/hosts", "list hosts", {200: Page[native.HostView]}, query=native.PageQuery
    )
    _native(
        "POST",
        "/api/v1/restores",
        "start a restore (a dry run answers 200 with the diff)",
        {202: RestoreAccepted, 200: DryRun},
        body=native.RestoreRequest,
        body_required=True,
    )
    _native(
        "GET",
        "/api/v1/restores",
        "list restores, newest first",
        {200: Page[native.RestoreView]},
        query=native.PageQuery,
    )
    _native("GET", "/api/v1/restores/{restore_id}", "one restore", {200: native.RestoreDetail})
    _native(
        "POST", "/api/v1/restores/{restore_id}/cancel", "cancel a restore", {202: native.Accepted}
    )
