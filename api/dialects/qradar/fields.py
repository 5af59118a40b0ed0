"""QRadar's ``fields`` parameter: which fields of a response to keep.

Grammar: a comma-separated list of field names; a name may be followed by its subfields in
brackets, ``(...)`` as QRadar writes them or ``[...]``, nested as deep as the data is, e.g.
``id,name,owner(name,roles[id])``. Spaces around names are ignored. A name that appears
twice is merged (its subfield selections are united; a bare name keeps the whole value).
Names the resource does not have are refused, so a typo is not silently an empty answer.
"""

from __future__ import annotations

import re
from typing import Any

FieldTree = dict[str, "FieldTree | None"]
"""Each selected name, with its selected subfields (None: the whole value)."""

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[,()\[\]]))\s*")
_CLOSING = {"(": ")", "[": "]"}


class FieldsError(ValueError):
    """The ``fields`` text is malformed or names fields the resource does not have."""


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FieldsError(f"fields: unexpected {text[position : position + 10]!r}")
        tokens.append(match.group("name") or match.group("punct"))
        position = match.end()
    return tokens


def _merge(tree: FieldTree, name: str, sub: FieldTree | None) -> None:
    if name not in tree:
        tree[name] = sub
        return
    old = tree[name]
    if old is None or sub is None:
        tree[name] = None
        return
    for key, value in sub.items():
        _merge(old, key, value)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise FieldsError("fields: ends too early")
        self.at += 1
        return token

    def fields(self, closing: str | None) -> FieldTree:
        tree: FieldTree = {}
        while True:
            name = self.take()
            if not (name[0].isalpha() or name[0] == "_"):
                raise FieldsError(f"fields: a field name expected, found {name!r}")
            sub: FieldTree | None = None
            if self.peek() in _CLOSING:
                opening = self.take()
                sub = self.fields(_CLOSING[opening])
            _merge(tree, name, sub)
            token = self.peek()
            if token == ",":
                self.take()
                continue
            if token == closing:
                if closing is not None:
                    self.take()
                return tree
            raise FieldsError(f"fields: ',' or {closing or 'the end'!r} expected, found {token!r}")


def parse_fields(text: str) -> FieldTree:
    """The selection ``text`` describes; FieldsError when it is malformed or empty."""
    if not text.strip():
        raise FieldsError("fields: empty; name at least one field")
    return _Parser(_tokens(text)).fields(None)


def check_fields(tree: FieldTree, shape: FieldTree, path: str = "") -> None:
    """Refuse names that ``shape`` (the resource's fields, with their subfields) lacks, and
    subfields of a field that has none; checked before any data, so an empty list answers
    a typo with an error too."""
    unknown = [name for name in tree if name not in shape]
    if unknown:
        where = f" of {path}" if path else ""
        raise FieldsError(f"fields: unknown field(s){where}: {', '.join(unknown)}")
    for name, sub in tree.items():
        if sub is None:
            continue
        full_name = f"{path}.{name}" if path else name
        inner = shape[name]
        if inner is None:
            raise FieldsError(f"fields: {full_name} has no subfields")
        check_fields(sub, inner, full_name)


def select(value: Any, tree: FieldTree) -> Any:
    """``value`` with only the selected fields (applied to each item of a list; a null
    object stays null). Check the names first with ``check_fields``."""
    if isinstance(value, list):
        return [select(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: item if tree[key] is None else select(item, tree[key] or {})
        for key, item in value.items()
        if key in tree
    }
