"""Checking real responses against the server's own OpenAPI document
(``/api/v1/openapi.json``): the status must be documented (or fall under ``default``), the
Content-Type one the operation declares, and the JSON body valid against the declared schema
(JSON Schema 2020-12, ``$ref`` into the document's components).

Use ``register_document(base, token)`` once per server, then ``checked_call`` wherever
``tests.support.http.call`` would do: same arguments, same answer, plus the check.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs

from tests.support.http import call

_DOCUMENTS: dict[str, dict[str, Any]] = {}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def register_document(base: str, token: str) -> dict[str, Any]:
    """Fetch the server's document (it must itself be served as documented)."""
    status, document, _ = call("GET", f"{base}/api/v1/openapi.json", token)
    assert status == 200, document
    assert document["openapi"].startswith("3.1")
    _DOCUMENTS[_origin(base)] = document
    found: dict[str, Any] = document
    return found


def _template_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
    return re.compile(f"^{pattern}$")


def find_operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The operation serving ``method path``: a literal path beats a templated one."""
    paths: dict[str, Any] = document["paths"]
    candidates = [t for t in paths if method.lower() in paths[t] and _template_regex(t).match(path)]
    if not candidates:
        return None
    best = min(candidates, key=lambda t: (t.count("{"), -len(t)))
    operation: dict[str, Any] = paths[best][method.lower()]
    return operation


def conformance_errors(
    document: dict[str, Any],
    method: str,
    path: str,
    status: int,
    body: Any,
    content_type: str | None,
) -> list[str]:
    """Why a response does not conform to the document (empty: it conforms)."""
    operation = find_operation(document, method, path)
    if operation is None:
        routed = status in (404, 405)
        return [] if routed else [f"{method} {path} is not in the document ({status})"]
    responses = operation["responses"]
    declared = responses.get(str(status)) or responses.get("default")
    if declared is None:
        return [f"{method} {path}: status {status} is not documented"]
    content = declared.get("content")
    if not content:
        return [] if body is None else [f"{method} {path} {status}: a body none is declared"]
    media = (content_type or "").split(";")[0].strip()
    if media not in content:
        return [f"{method} {path} {status}: Content-Type {media!r} not in {list(content)}"]
    if not media.endswith("json"):
        return []
    schema = {**content[media]["schema"], "components": document["components"]}
    validator = jsonschema_rs.Draft202012Validator(schema)
    return [f"{method} {path} {status}: {e.message}" for e in validator.iter_errors(body)]


def checked_call(
    method: str, url: str, *args: Any, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    """``call`` (same arguments) whose response must conform to the registered document."""
    status, payload, head = call(method, url, *args, **kwargs)
    document = _DOCUMENTS.get(_origin(url))
    assert document is not None, f"register_document({_origin(url)!r}, token) first"
    content_type = next((v for k, v in head.items() if k.lower() == "content-type"), None)
    errors = conformance_errors(document, method, urlsplit(url).path, status, payload, content_type)
    assert not errors, errors
    return status, payload, head
