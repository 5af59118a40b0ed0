"""The OpenAPI document is generated from the application's router and the declared pydantic
models: every route appears, every route declares its models (routes added later by other
modules are caught here), and the response checker used by the e2e tests does reject
non-conforming answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import jsonschema_rs
import pytest
from aiohttp import web
from pydantic import BaseModel

from adapters.settings import Settings
from api.core.app import ServeOptions, create_app
from api.core.openapi import (
    OPERATIONS,
    Operation,
    Page,
    build_document,
    declare,
    routes_of,
    undeclared_routes,
)
from tests.support.openapi import conformance_errors

JSON = "application/json"


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    return create_app(ServeOptions(settings=Settings(data_dir=tmp_path), admin_token_hash="x"))


def test_every_route_declares_its_models(app: web.Application) -> None:
    missing = undeclared_routes(app)
    assert missing == [], (
        "routes without OpenAPI models: declare them with @documented(Operation(...)) "
        f"under the route decorator, or declare(...) in the dialect's openapi module: {missing}"
    )


def test_every_route_of_every_dialect_is_in_the_document(app: web.Application) -> None:
    document = build_document(app)
    served = {(r.method.lower(), r.path) for r in routes_of(app)}
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert served == documented
    for path in (
        "/api/v1/backups",
        "/api/v1/restores",
        "/api/v1/hosts",
        "/api/backups",
        "/api/v1/openapi.json",
        "/api/v1/tenants/{tenant_id}/groups/{group_id}/batch/backup/start/",
    ):
        assert path in document["paths"], path


def test_security_schemes_and_open_routes(app: web.Application) -> None:
    document = build_document(app)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert (schemes["authToken"]["in"], schemes["authToken"]["name"]) == ("header", "AuthToken")
    assert (schemes["sec"]["in"], schemes["sec"]["name"]) == ("header", "SEC")
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert {"authToken": []} in document["paths"]["/api/backups"]["post"]["security"]


def test_request_and_response_schemas_come_from_the_models(app: web.Application) -> None:
    document = build_document(app)
    schemas = document["components"]["schemas"]
    post = document["paths"]["/api/v1/backups"]["post"]
    ref = post["requestBody"]["content"][JSON]["schema"]["$ref"]
    request = schemas[ref.rsplit("/", 1)[-1]]
    assert request["additionalProperties"] is False
    assert {"tenant_id", "group_id", "force_backup", "formats"} <= set(request["properties"])
    listing = document["paths"]["/api/v1/backups"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"_page", "_pagesize", "tenant_id", "status", "started_after"} <= names
    # Each component is a valid JSON Schema (2020-12).
    for name, schema in schemas.items():
        assert jsonschema_rs.validator_for({**schema, "components": {"schemas": schemas}}), name


def test_an_undeclared_route_still_appears_permissively_and_is_reported(
    app: web.Application,
) -> None:
    async def extra(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_post("/api/v1/someone-elses/{thing}", extra)
    assert undeclared_routes(app) == [("POST", "/api/v1/someone-elses/{thing}")]
    operation = build_document(app)["paths"]["/api/v1/someone-elses/{thing}"]["post"]
    assert operation["x-rewind-undeclared"] is True
    assert operation["parameters"][0]["name"] == "thing"


def test_the_response_checker_rejects_what_the_document_does_not_allow(
    app: web.Application,
) -> None:
    document: dict[str, Any] = build_document(app)
    ok = {"total": 0, "items": []}
    assert conformance_errors(document, "GET", "/api/v1/hosts", 200, ok, JSON) == []
    wrong = {"total": "none", "items": [{"id": 1}]}
    assert conformance_errors(document, "GET", "/api/v1/hosts", 200, wrong, JSON)
    one = "/api/v1/backups/x"
    assert conformance_errors(document, "GET", one, 404, ["no such backup"], JSON) == []
    assert conformance_errors(document, "GET", one, 404, {"e": 1}, JSON)
    assert conformance_errors(document, "GET", "/api/v1/hosts", 200, ok, "text/html")


class QradarHeaders(BaseModel):
    backup_type: Literal["CONFIG", "DATA"] = "CONFIG"
    fields: str | None = None


class QradarError(BaseModel):
    """QRadar's own error object."""

    http_response: dict[str, Any]
    code: int
    message: str


def test_header_parameters_own_error_shapes_and_other_media(app: web.Application) -> None:
    """What routes of other dialects need: header parameters (QRadar's ``backup_type``,
    ``fields``), their own error body, and non-JSON answers (``/metrics``)."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/api/backup_and_restore/backups", handler)
    app.router.add_get("/metrics", handler)
    keys = [("GET", "/api/backup_and_restore/backups"), ("GET", "/metrics")]
    kept = {key: OPERATIONS[key] for key in keys}
    declare(
        "GET",
        "/api/backup_and_restore/backups",
        Operation("list", {200: Page[QradarError]}, headers=QradarHeaders, errors=QradarError),
    )
    declare("GET", "/metrics", Operation("metrics", {200: None}, media="text/plain", public=True))
    try:
        document = build_document(app)
    finally:
        OPERATIONS.update(kept)  # the real declarations, for the tests that follow
    qradar = document["paths"]["/api/backup_and_restore/backups"]["get"]
    headers = {p["name"]: p for p in qradar["parameters"] if p["in"] == "header"}
    assert headers["backup_type"]["schema"]["enum"] == ["CONFIG", "DATA"]
    assert headers["fields"]["schema"] == {"type": "string", "title": "Fields"}
    error = qradar["responses"]["default"]["content"][JSON]["schema"]["$ref"]
    assert error.endswith("/QradarError")
    assert "QRadar" in qradar["responses"]["default"]["description"]
    metrics = document["paths"]["/metrics"]["get"]
    assert metrics["security"] == [] and metrics["responses"]["200"] == {"description": "200"}


def test_every_dialect_documents_its_own_parameters_headers_and_media(
    app: web.Application,
) -> None:
    """QRadar's headers and error object, General Bots' error object and total count, a
    partial update that requires nothing, and the event feed's second media type."""
    document = build_document(app)
    paths, schemas = document["paths"], document["components"]["schemas"]

    create = paths["/api/backup_and_restore/backups"]["post"]
    headers = {p["name"]: p for p in create["parameters"] if p["in"] == "header"}
    assert headers["backup_type"]["required"] is True
    assert headers["backup_type"]["schema"]["enum"] == ["CONFIG", "DATA"]
    assert create["responses"]["default"]["content"][JSON]["schema"]["$ref"].endswith(
        "/QRadarErrorAnswer"
    )
    listing = paths["/api/backup_and_restore/backups"]["get"]
    assert "Range" in {p["name"] for p in listing["parameters"] if p["in"] == "header"}
    assert "Content-Range" in listing["responses"]["200"]["headers"]
    fields = next(p for p in listing["parameters"] if p["name"] == "fields")
    assert re.fullmatch(fields["schema"]["pattern"], "id, name,status")
    assert not re.fullmatch(fields["schema"]["pattern"], "id,nmae")

    gbots = paths["/api/v1/backup/list"]["get"]
    assert gbots["responses"]["200"]["headers"]["X-Total-Count"]["required"] is True
    error = gbots["responses"]["default"]["content"][JSON]["schema"]["$ref"]
    assert set(schemas[error.rsplit("/", 1)[-1]]["required"]) == {"error", "code"}

    changes = paths["/api/v1/plans/{plan_id}"]["put"]["requestBody"]["content"][JSON]["schema"]
    partial = schemas[changes["$ref"].rsplit("/", 1)[-1]]
    assert "required" not in partial and partial["additionalProperties"] is False
    assert {"cron", "keep_last", "name"} <= set(partial["properties"])
    assert partial["properties"]["name"]["maxLength"] == 100  # constraints kept

    feed = paths["/api/v1/events"]["get"]["responses"]["200"]["content"]
    assert set(feed) == {JSON, "text/event-stream"}
    assert paths["/metrics"]["get"]["responses"]["200"] == {"description": "200"}
