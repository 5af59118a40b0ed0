"""OpenAPI declarations of the APIO dialect (seed 000): its routes answer with and without
their trailing slash, in JSON or XML, and take their parameters from the query string (GET)
or a JSON body (POST)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel, StringConstraints

from api.core.openapi import Operation, declare
from api.dialects.apio.routes import BASE
from api.dialects.apio.schemas import EmptyRequest, ListRequest, ReadRequest, StartRequest
from api.dialects.native.openapi_catalog import Report, ReportMain
from domain.scope import NAME_PATTERN

APIO = ("APIO (seed 000)",)


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


def _apio(methods: tuple[str, ...], path: str, operation: Operation) -> None:
    """APIO routes answer with and without their trailing slash; parameters come in the
    query string (documented for GET) or a JSON body (documented for POST)."""
    for method in methods:
        op = replace(operation, tags=APIO, xml=True, path=GroupPath)
        if method == "POST":
            op = replace(op, body=op.query, query=None)
        for variant in (f"{BASE}/{path}/", f"{BASE}/{path}"):
            declare(method, variant, op)


def declare_apio() -> None:
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
