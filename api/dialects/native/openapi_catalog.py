"""The OpenAPI declarations of the route modules that predate api.core.openapi's registry
(native, lifecycle, restores, APIO, health), and the response models of the answers those
handlers build as dicts.

To document a new route, either put ``@documented(Operation(...))`` under its route
decorator, or append a ``declare(...)`` here; tests/unit/test_openapi.py fails for any
route that has neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel, StringConstraints

from adapters.restore_diff import Skipped, StateDiff
from api.core import schemas as native
from api.core.openapi import ModelType, Operation, Page, declare
from api.dialects.apio.routes import BASE
from api.dialects.apio.schemas import EmptyRequest, ListRequest, ReadRequest, StartRequest
from api.dialects.native.lifecycle import VerifyView
from api.dialects.native.openapi_operate import SSE, BackupEventsQuery, EventsHeaders
from domain.audit import AuditEntry
from domain.scope import NAME_PATTERN

NATIVE = ("native",)
APIO = ("APIO (seed 000)",)
OPS = ("operations",)
Responses = Mapping[int, ModelType | None]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    """``/readyz``: 200 when every check is ``ok``, 503 otherwise (same shape)."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    projection_lag: int | None = None
    """Events the views are behind the store (null when the store cannot be read)."""
    view_restarts: int
    views_error: str | None = None


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


class ApioStarted(BaseModel):
    status: Literal["started"]
    reference_id: str


class ApioPolling(BaseModel):
    """``pending`` (no data) while running, ``finished`` with the data after."""

    status: Literal["pending", "finished"]
    reference_id: str
    data: Report | None = None


class ApioListItem(ReportMain):
    id: str


class ApioList(BaseModel):
    backups: list[ApioListItem]


class ApioRetrieved(BaseModel):
    reference_id: str
    data: Report


class ApioStopping(BaseModel):
    status: Literal["stopping"]
    reference_id: str


ScopeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN.pattern)]


class GroupPath(BaseModel):
    """The APIO routes' path parameters: the group's ids (domain.scope's charset) and a
    backup's reference id or UUID."""

    tenant_id: ScopeName
    group_id: ScopeName
    instance_name: str = Field(min_length=1)


class ApioListAnswer(RootModel[ApioList | ApioRetrieved]):
    """``backups/``: the list, or with ``latest=true`` the latest finished backup's data."""


def _native(method: str, path: str, summary: str, responses: Responses, **kw: Any) -> None:
    declare(method, path, Operation(summary, responses, tags=NATIVE, **kw))


def _native_all() -> None:
    b = "/api/v1/backups"
    declare("GET", "/healthz", Operation("liveness", {200: Health}, tags=OPS, public=True))
    readiness = Operation("readiness", {200: Readiness, 503: Readiness}, tags=OPS, public=True)
    declare("GET", "/readyz", readiness)
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


def _apio(methods: tuple[str, ...], path: str, operation: Operation) -> None:
    """APIO routes answer with and without their trailing slash; parameters come in the
    query string (documented for GET) or a JSON body (documented for POST)."""
    for method in methods:
        op = replace(operation, tags=APIO, xml=True, path=GroupPath)
        if method == "POST":
            op = replace(op, body=op.query, query=None)
        for variant in (f"{BASE}/{path}/", f"{BASE}/{path}"):
            declare(method, variant, op)


def _apio_all() -> None:
    _apio(
        ("GET", "POST"), "backup/start", Operation("start", {202: ApioStarted}, query=StartRequest)
    )
    polling = Operation("poll", {200: ApioPolling}, query=ReadRequest)
    _apio(("GET", "POST"), "backup/polling/{instance_name}", polling)
    listing = Operation("list the group's backups", {200: ApioListAnswer}, query=ListRequest)
    _apio(("GET",), "backups", listing)
    latest = Operation("the latest finished backup", {200: ApioRetrieved}, query=ReadRequest)
    _apio(("GET",), "backup", latest)
    one = Operation("one backup's data", {200: ApioRetrieved}, query=ReadRequest)
    _apio(("GET",), "backups/{instance_name}", one)
    stop = Operation("stop", {200: ApioStopping}, query=EmptyRequest)
    _apio(("GET", "POST"), "backup/stop/{instance_name}", stop)


_native_all()
_apio_all()

# The dialects and routes added after this registry declare themselves in their own modules.
import api.dialects.gbots.openapi  # noqa: E402
import api.dialects.native.openapi_admin  # noqa: E402
import api.dialects.qradar.openapi  # noqa: E402, F401
