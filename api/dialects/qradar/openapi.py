"""OpenAPI declarations of the QRadar dialect (seed 001, api.dialects.qradar.routes): its headers
(``backup_type``, ``fields``, ``Range``), Long ids, and its own error object on every
refusal (api.dialects.qradar.errors)."""

from __future__ import annotations

from typing import Any

from api.core.openapi import Operation, ResponseHeader, declare
from api.dialects.qradar.errors import DOCUMENTED, QRadarErrorAnswer
from api.dialects.qradar.routes import BACKUPS, HOSTS
from api.dialects.qradar.schemas import (
    CreateBody,
    CreateHeaders,
    FieldsHeader,
    FieldsQuery,
    HostFieldsHeader,
    HostFieldsQuery,
    IdPath,
    ListHeaders,
    QRadarBackupAnswer,
    QRadarBackupList,
    QRadarHostList,
)

TAGS = ("QRadar (seed 001)",)
CREATE_CODES: tuple[int, ...] = (1005, 1011, 1015, 1016, 1002, 1003, 1004, 1006, 1007, 1008)
CREATE_CODES += (1009, 1010, 1012, 1013, 1014)


def _codes(codes: tuple[int, ...]) -> str:
    return "Refusals (unique code: message): " + "; ".join(f"{c}: {DOCUMENTED[c]}" for c in codes)


def _qradar(method: str, route: str, summary: str, status: int, answer: Any, **kw: Any) -> None:
    kw.setdefault("headers", FieldsHeader)
    kw.setdefault("query", FieldsQuery)
    operation = Operation(
        summary,
        {status: answer},
        errors=QRadarErrorAnswer,
        tags=TAGS,
        **kw,
    )
    declare(method, route, operation)


def declare_qradar() -> None:
    one = f"{BACKUPS}/{{id}}"
    _qradar(
        "POST",
        BACKUPS,
        "create a backup from a deployed configuration (plan)",
        201,
        QRadarBackupAnswer,
        headers=CreateHeaders,
        body=CreateBody,
        body_required=True,
        description=_codes(CREATE_CODES) + ". Malformed input: 400, 2007.",
    )
    content_range = ResponseHeader(
        {"type": "string", "pattern": r"^items ([0-9]+-[0-9]+|\*)/[0-9]+$"},
        "items FIRST-LAST/TOTAL (items */TOTAL past the end); only when Range was sent",
    )
    _qradar(
        "GET",
        BACKUPS,
        "list backups, newest first",
        200,
        QRadarBackupList,
        headers=ListHeaders,
        response_headers={"Content-Range": content_range},
    )
    _qradar("GET", one, "one backup", 200, QRadarBackupAnswer, path=IdPath)
    _qradar(
        "DELETE",
        one,
        "delete a backup (DELETING; CANCELLING while it runs)",
        202,
        QRadarBackupAnswer,
        path=IdPath,
        description=_codes((1001, 1017)),
    )
    _qradar(
        "GET",
        HOSTS,
        "the registered hosts with their Long ids",
        200,
        QRadarHostList,
        headers=HostFieldsHeader,
        query=HostFieldsQuery,
    )
