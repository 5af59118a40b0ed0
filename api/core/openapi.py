"""OpenAPI 3.1, generated: every route of the running application, with the pydantic models
each one declares.

Routes declare their models in one of two ways, both looked up here:

* ``@documented(Operation(...))`` on the handler, under the route table's decorator (new
  route modules do this next to their routes, e.g. api.dialects.unitrends.routes);
* ``declare(method, path, Operation(...))``, a table entry (the native
dialect's openapi_catalog holds the
  entries of the route modules that predate this registry; a branch adding routes can append
  its own entries there or declare them next to its route table).

The generator walks ``app.router``, so a route that declares nothing still appears, with a
permissive schema and ``x-rewind-undeclared: true``; ``undeclared_routes(app)`` lists such
routes and a unit test fails on any, so routes added later are caught. Schemas come from
``pydantic.json_schema.models_json_schema`` (request models in validation mode, responses in
serialization mode), never written by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from copy import copy
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, RootModel, create_model
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from domain.application import SW_VERSION

T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])
ModelType = type[BaseModel]

OPENAPI_PATH = "/api/v1/openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"
XML = "application/xml"
ATTRIBUTE = "__rewind_openapi__"


class ErrorList(RootModel[list[str]]):
    """Seed 003's error shape: a JSON list of messages, even for a single one."""


class Page(BaseModel, Generic[T]):
    """Seed 003's list shape: ``total`` matches in all, ``items`` one page of them."""

    total: int
    items: list[T]


SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer"},
    "authToken": {
        "type": "apiKey",
        "in": "header",
        "name": "AuthToken",
        "description": "seed 004 (Unitrends)",
    },
    "sec": {"type": "apiKey", "in": "header", "name": "SEC", "description": "seed 001 (QRadar)"},
}
ANY_TOKEN: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]


@dataclass(frozen=True)
class ResponseHeader:
    """A header of the success answers (``Content-Range``, ``X-Total-Count``)."""

    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers.

    ``responses``: status -> model of the answer (None: no body). ``body``: the JSON request
    body's model. ``query`` / ``headers``: models whose fields (by alias) are the query / header
    parameters. ``path``: a model whose fields give the path parameters' schemas (absent: any
    non-empty string). ``errors``: the model of every other answer, documented as ``default``
    (seed 003's ErrorList unless a dialect has its own). ``media``: the success answers'
    media type (not JSON: documented as a string, the model is ignored). ``xml``: success
    answers may also be XML (the APIO dialect). ``public``: no token needed.
    ``response_headers``: headers of the success answers, by name. ``also``: other media
    types the success answers may come in (documented as strings, e.g. a JSON page that
    streams as ``text/event-stream`` on request).
    """

    summary: str
    responses: Mapping[int, ModelType | None]
    body: ModelType | None = None
    query: ModelType | None = None
    path: ModelType | None = None
    headers: ModelType | None = None
    errors: ModelType = ErrorList
    media: str = JSON
    tags: tuple[str, ...] = ()
    xml: bool = False
    public: bool = False
    body_required: bool = False
    description: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    response_headers: Mapping[str, ResponseHeader] = field(default_factory=dict)
    also: tuple[str, ...] = ()

    def models(self) -> Iterator[tuple[ModelType, JsonSchemaMode]]:
        for model in (self.body, self.query, self.path, self.headers):
            if model is not None:
                yield model, "validation"
        yield self.errors, "serialization"
        for answer in self.responses.values():
            if answer is not None:
                yield answer, "serialization"


OPERATIONS: dict[tuple[str, str], Operation] = {}
"""The declaration table: (METHOD, path template as aiohttp shows it) -> Operation."""


def declare(method: str, path: str, operation: Operation) -> None:
    OPERATIONS[(method.upper(), path)] = operation


def documented(operation: Operation) -> Callable[[H], H]:
    """Attach ``operation`` to a handler (place it under the route table's decorator)."""

    def attach(handler: H) -> H:
        setattr(handler, ATTRIBUTE, operation)
        return handler

    return attach


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    operation: Operation | None


def routes_of(app: web.Application) -> list[RouteInfo]:
    """Every (method, path) the application serves, HEAD (aiohttp's automatic twin of GET)
    left out, with its declared operation if any."""
    found: dict[tuple[str, str], RouteInfo] = {}
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if not isinstance(path, str):
            continue
        for route in resource:
            method = route.method.upper()
            if method in ("HEAD", "*"):
                continue
            declared = getattr(route.handler, ATTRIBUTE, None) or OPERATIONS.get((method, path))
            found.setdefault((method, path), RouteInfo(method, path, declared))
    return list(found.values())


def undeclared_routes(app: web.Application) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in routes_of(app) if r.operation is None]


# ---------------------------------------------------------------------- derived models
def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """``optional`` gives every field a default of null, which a field that cannot be null
    must not claim in the document: leave such defaults out of the schema."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None:
            del prop["default"]


def variant(
    name: str,
    doc: str,
    source: ModelType,
    *,
    exclude: Iterable[str] = (),
    optional: bool = False,
    forbid: bool = True,
    add: Mapping[str, tuple[Any, Any]] | None = None,
) -> ModelType:
    """A model for the document only, made from ``source``'s fields (same types, constraints
    and descriptions): some left out, the others all optional when ``optional`` (a partial
    update, a ``fields`` selection), plus ``add``'s. Handlers keep validating with their
    own models; this one says what they accept or answer."""
    skipped = set(exclude)
    fields: dict[str, Any] = {}
    for key, original in source.model_fields.items():
        if key in skipped:
            continue
        info = copy(original)
        if optional:
            info.default, info.default_factory = None, None
        fields[key] = (info.annotation, info)
    fields.update(add or {})
    config = ConfigDict(
        extra="forbid" if forbid else "ignore", json_schema_extra=_drop_null_defaults
    )
    model: ModelType = create_model(name, __config__=config, __doc__=doc, **fields)
    return model


# ---------------------------------------------------------------------- schema helpers
def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop ``null`` from an optional's
    ``anyOf`` (keeping default, title and description)."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [o for o in options if o != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
    if len(kept) == 1:
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}


def _path_parameters(path: str, declared: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    schemas = (declared or {}).get("properties", {})
    any_string = {"type": "string", "minLength": 1}
    return [
        {"name": name, "in": "path", "required": True, "schema": schemas.get(name, any_string)}
        for name in re.findall(r"{([^}:]+)(?::[^}]*)?}", path)
    ]


def _parameters(component: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Query or header parameters from a model's component schema."""
    required = set(component.get("required", []))
    parameters = []
    for name, schema in component.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": name in required,
            "schema": _without_null(schema),
        }
        if parameter["schema"].get("type") == "array":
            parameter["style"] = "form"
            parameter["explode"] = True
        parameters.append(parameter)
    return parameters


PERMISSIVE: dict[str, Any] = {}
"""The schema of what an undeclared route takes and answers: anything."""


class _Schemas:
    """One ``models_json_schema`` run over every declared model: refs and components."""

    def __init__(self, operations: list[Operation]) -> None:
        pairs = list(dict.fromkeys(pair for op in operations for pair in op.models()))
        refs, defs = models_json_schema(pairs, ref_template=REF_TEMPLATE)
        self.refs = refs
        self.components: dict[str, Any] = defs.get("$defs", {})

    def ref(self, model: ModelType, mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self.refs[(model, mode)])

    def component(self, model: ModelType) -> dict[str, Any]:
        name = self.ref(model, "validation")["$ref"].rsplit("/", 1)[-1]
        schema: dict[str, Any] = self.components[name]
        return schema


def _content(schema: dict[str, Any], xml: bool = False, media: str = JSON) -> dict[str, Any]:
    if media != JSON:
        return {media: {"schema": {"type": "string"}}}
    content: dict[str, Any] = {JSON: {"schema": schema}}
    if xml:
        content[XML] = {"schema": {"type": "string"}}
    return content


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{words or 'root'}"


def _undeclared(route: RouteInfo) -> dict[str, Any]:
    document: dict[str, Any] = {
        "summary": "undeclared route (no models yet)",
        "parameters": _path_parameters(route.path),
        "responses": {"default": {"description": "any", "content": _content(PERMISSIVE, True)}},
        "security": ANY_TOKEN,
        "x-rewind-undeclared": True,
    }
    if route.method in ("POST", "PUT", "PATCH"):
        document["requestBody"] = {"content": {JSON: {"schema": PERMISSIVE}}}
    return document


def _declared(route: RouteInfo, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    path = None if op.path is None else schemas.component(op.path)
    parameters = _path_parameters(route.path, path)
    if op.query is not None:
        parameters += _parameters(schemas.component(op.query), "query")
    if op.headers is not None:
        parameters += _parameters(schemas.component(op.headers), "header")
    responses: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        answer: dict[str, Any] = {"description": f"{status}"}
        if model is not None:
            answer["content"] = _content(schemas.ref(model, "serialization"), op.xml, op.media)
            for media in op.also if status < 300 else ():
                answer["content"][media] = {"schema": {"type": "string"}}
        if op.response_headers and status < 300:
            answer["headers"] = {
                name: {"description": h.description, "required": h.required, "schema": h.schema}
                for name, h in op.response_headers.items()
            }
        responses[str(status)] = answer
    responses["default"] = {
        "description": (op.errors.__doc__ or "errors").strip().splitlines()[0],
        "content": _content(schemas.ref(op.errors, "serialization")),
    }
    document: dict[str, Any] = {
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
        "security": [] if op.public else ANY_TOKEN,
    }
    if op.description:
        document["description"] = op.description
    if op.tags:
        document["tags"] = list(op.tags)
    if op.body is not None:
        document["requestBody"] = {
            "required": op.body_required,
            "content": {JSON: {"schema": schemas.ref(op.body, "validation")}},
        }
    return {**document, **op.extra}


def _operation_object(route: RouteInfo, schemas: _Schemas) -> dict[str, Any]:
    op = route.operation
    body = _undeclared(route) if op is None else _declared(route, op, schemas)
    return {"operationId": _operation_id(route.method, route.path), **body}


def build_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s routes."""
    routes = routes_of(app)
    schemas = _Schemas([r.operation for r in routes if r.operation is not None])
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: (r.path, r.method)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation_object(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rewind",
            "version": SW_VERSION,
            "description": "Backup and restore for multi-tenant PBX configuration and media. "
            "Dialects: native, APIO (seed 000), Unitrends (seed 004) and more.",
        },
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": SECURITY_SCHEMES},
        "security": ANY_TOKEN,
    }
