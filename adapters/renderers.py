"""Canonical builds of an entity's configuration: JSON and XML (seed 000, "Backup builds").

The artifact store names content by its hash, so a rendering must be a pure function of the
value: the same configuration gives the same bytes whatever the dict insertion order, and an
unchanged entity costs nothing in an incremental backup. Each build also parses back to the
exact value, because restores read these artifacts.

XML layout (stdlib ``xml.etree`` only)::

    <?xml version='1.0' encoding='utf-8'?>
    <entity type="dict">
      <name type="str">Main IVR</name>
      <entry key="not a name" type="int">3</entry>
      <menu type="list">
        <item type="bool">true</item>
        <item type="null" />
      </menu>
    </entity>

Every element carries ``type`` (str, int, float, bool, null, list, dict). Dict members are
sorted by key and named after the key when it is a plain XML name; other keys use an
``entry`` element with the key in ``key`` (or base64 UTF-8 in ``key-b64`` when the key holds
characters an attribute cannot carry faithfully). Strings XML cannot carry faithfully
(control characters, carriage returns) are base64 UTF-8 with ``encoding="base64"``.
"""

from __future__ import annotations

import base64
import math
import re
import xml.etree.ElementTree as ET
from typing import TypeAlias

import orjson
from pydantic import BaseModel

from domain.catalogue import OutputFormat

JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
"""What the renderers accept and give back."""

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
"""Keys used as element names: ASCII XML names without colons (namespaces)."""

_XML_UNSAFE_TEXT = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters that XML 1.0 forbids, plus \\r (parsers turn it into \\n)."""

_XML_UNSAFE_ATTR = re.compile("[^\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Attribute values additionally lose tabs and newlines to attribute normalisation."""

_TYPE = "type"
_KEY = "key"
_KEY_B64 = "key-b64"
_ENCODING = "encoding"
_ENTRY = "entry"
_ITEM = "item"


def _plain(obj: object) -> object:
    """Accept pydantic models too, rendered through their JSON-mode dump."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    return obj


def render_json(obj: object) -> bytes:
    """Compact JSON with sorted keys; TypeError for values JSON cannot hold faithfully.

    NaN and infinities are refused (orjson would write them as null, breaking the round trip).
    """
    obj = _plain(obj)
    _check_finite(obj)
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def _check_finite(obj: object) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"cannot render non-finite float {obj!r}")
    if isinstance(obj, dict):
        for value in obj.values():
            _check_finite(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _check_finite(value)


def parse_json(data: bytes) -> JSONValue:
    """Invert :func:`render_json`; ValueError on malformed input."""
    try:
        value: JSONValue = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from exc
    return value


def _b64(text: str) -> str:
    # surrogatepass keeps the encoding total even for lone surrogates
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8", "surrogatepass")


def _element(tag: str, value: object) -> ET.Element:
    elem = ET.Element(tag)
    _fill(elem, value)
    return elem


def _fill(elem: ET.Element, value: object) -> None:
    """Set ``type`` and content of ``elem`` for ``value`` (recursively)."""
    if value is None:
        elem.set(_TYPE, "null")
    elif isinstance(value, bool):
        elem.set(_TYPE, "bool")
        elem.text = "true" if value else "false"
    elif isinstance(value, int):
        elem.set(_TYPE, "int")
        elem.text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot render non-finite float {value!r}")
        elem.set(_TYPE, "float")
        elem.text = repr(value)
    elif isinstance(value, str):
        elem.set(_TYPE, "str")
        if _XML_UNSAFE_TEXT.search(value):
            elem.set(_ENCODING, "base64")
            elem.text = _b64(value)
        elif value:
            elem.text = value
    elif isinstance(value, list | tuple):
        elem.set(_TYPE, "list")
        for item in value:
            elem.append(_element(_ITEM, item))
    elif isinstance(value, dict):
        elem.set(_TYPE, "dict")
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"dict keys must be str, got {type(key).__name__}")
        for key in sorted(value):
            elem.append(_member(key, value[key]))
    else:
        raise TypeError(f"cannot render {type(value).__name__} as XML")


def _member(key: str, value: object) -> ET.Element:
    """A dict member: named after ``key`` when that is a safe XML name, else an ``entry``."""
    if _NAME_RE.fullmatch(key) and not key.lower().startswith("xml"):
        return _element(key, value)
    entry = ET.Element(_ENTRY)
    if _XML_UNSAFE_ATTR.search(key):
        entry.set(_KEY_B64, _b64(key))
    else:
        entry.set(_KEY, key)
    _fill(entry, value)
    return entry


def render_xml(obj: object, root: str = "entity") -> bytes:
    """Deterministic, typed, indented UTF-8 XML of ``obj`` under a ``root`` element."""
    if not _NAME_RE.fullmatch(root) or root.lower().startswith("xml"):
        raise ValueError(f"invalid XML root element name {root!r}")
    tree = _element(root, _plain(obj))
    ET.indent(tree, space="  ")
    out: bytes = ET.tostring(tree, encoding="utf-8", xml_declaration=True)
    return out + b"\n"


def _no_content(elem: ET.Element) -> None:
    """Containers may only hold indentation between their children."""
    if elem.text and elem.text.strip():
        raise ValueError(f"unexpected text in <{elem.tag}>")
    for child in elem:
        if child.tail and child.tail.strip():
            raise ValueError(f"unexpected text after <{child.tag}>")


def _key_of(elem: ET.Element) -> str:
    if elem.tag == _ENTRY:
        if _KEY in elem.attrib:
            return elem.attrib[_KEY]
        if _KEY_B64 in elem.attrib:
            return _unb64(elem.attrib[_KEY_B64])
    return elem.tag


def _value(elem: ET.Element) -> JSONValue:
    kind = elem.get(_TYPE)
    text = elem.text or ""
    if kind in ("list", "dict"):
        _no_content(elem)
    elif len(elem):
        raise ValueError(f"<{elem.tag}> of type {kind} has children")
    if kind == "null":
        return None
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError(f"invalid bool {text!r}")
        return text == "true"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "str":
        return _unb64(text) if elem.get(_ENCODING) == "base64" else text
    if kind == "list":
        return [_value(child) for child in elem]
    if kind == "dict":
        result: dict[str, JSONValue] = {}
        for child in elem:
            key = _key_of(child)
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = _value(child)
        return result
    raise ValueError(f"<{elem.tag}> has unknown type {kind!r}")


def parse_xml(data: bytes) -> JSONValue:
    """Invert :func:`render_xml` (whatever the root name); ValueError on malformed input.

    Documents with a DOCTYPE are refused outright, which rules out entity-expansion tricks.
    """
    if b"<!DOCTYPE" in data.upper():
        raise ValueError("XML with a DOCTYPE is not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"invalid XML: {exc}") from exc
    try:
        return _value(root)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"invalid rendering: {exc}") from exc


def _format(fmt: str) -> OutputFormat:
    try:
        return OutputFormat(fmt)
    except ValueError:
        known = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"unknown output format {fmt!r} (known: {known})") from None


def render(fmt: str, obj: object) -> bytes:
    """Render ``obj`` as the build ``fmt`` ("json" or "xml")."""
    if _format(fmt) is OutputFormat.XML:
        return render_xml(obj)
    return render_json(obj)


def parse(fmt: str, data: bytes) -> JSONValue:
    """Parse a build of format ``fmt`` back into its value."""
    if _format(fmt) is OutputFormat.XML:
        return parse_xml(data)
    return parse_json(data)
