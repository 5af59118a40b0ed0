"""OpenAPI declarations of the General Bots dialect (seed 002, the routes module):
JSON lists
(with ``X-Total-Count``), restore jobs, schedules, and its own error object
``{"error", "code"}`` on every refusal."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.core.openapi import ModelType, Operation, ResponseHeader, declare
from api.core.paths import RESOURCE_ID
from api.core.schemas import ListQuery
from api.dialects.gbots import restore_schemas as gr
from api.dialects.gbots import schemas as gb
from api.dialects.gbots.routes import BASE

TAGS = ("General Bots (seed 002)",)
ResourceId = Field(pattern=RESOURCE_ID.pattern)


class BackupPath(BaseModel):
    backup_id: str = ResourceId


class JobPath(BaseModel):
    job_id: str = ResourceId


class SchedulePath(BaseModel):
    """A schedule is a plan: its id is the plan's number."""

    schedule_id: int = Field(ge=1)


def _gbots(
    method: str, route: str, summary: str, responses: dict[int, ModelType | None], **kw: Any
) -> None:
    declare(method, route, Operation(summary, responses, errors=gb.GbotsError, tags=TAGS, **kw))


def declare_gbots() -> None:
    _gbots(
        "POST",
        f"{BASE}/create",
        "create a backup (full, incremental or differential)",
        {201: gb.GbotsBackupView},
        body=gb.CreateBackupRequest,
    )
    total = ResponseHeader({"type": "string", "pattern": "^[0-9]+$"}, "how many match", True)
    _gbots(
        "GET",
        f"{BASE}/list",
        "list backups, newest first",
        {200: gb.BackupList},
        query=ListQuery,
        response_headers={"X-Total-Count": total},
    )
    one = f"{BASE}/{{backup_id}}"
    _gbots("GET", one, "one backup", {200: gb.GbotsBackupView}, path=BackupPath)
    _gbots(
        "DELETE",
        one,
        "delete a backup (a running one is cancelled first)",
        {200: gb.BackupDeleted},
        path=BackupPath,
    )
    _gbots(
        "POST",
        f"{BASE}/restore/{{backup_id}}",
        "restore a backup (202, the job); with dry_run, 200 with the diff",
        {202: gr.GbotsRestoreAccepted, 200: gr.RestoreDryRun},
        path=BackupPath,
        body=gr.RestoreBody,
    )
    _gbots(
        "GET",
        f"{BASE}/restore/{{job_id}}/status",
        "a restore job's status",
        {200: gr.GbotsRestoreStatus},
        path=JobPath,
    )
    schedules = f"{BASE}/schedule"
    _gbots(
        "POST",
        schedules,
        "create a schedule",
        {201: gb.ScheduleView},
        body=gb.ScheduleRequest,
        body_required=True,
    )
    _gbots("GET", schedules, "list schedules", {200: gb.ScheduleList})
    _gbots(
        "PUT",
        f"{schedules}/{{schedule_id}}",
        "change a schedule (deployed at once)",
        {200: gb.ScheduleView},
        path=SchedulePath,
        body=gb.ScheduleChanges,
    )
    _gbots(
        "DELETE",
        f"{schedules}/{{schedule_id}}",
        "delete a schedule",
        {200: gb.ScheduleDeleted},
        path=SchedulePath,
    )
