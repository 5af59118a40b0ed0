"""Renderers: exact round trips, order independence and a pinned XML layout.

The artifact store dedups by hash of the rendering, so any nondeterminism here would turn
every incremental backup into a full one; the property tests guard exactly that.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.renderers import (
    parse,
    parse_json,
    parse_xml,
    render,
    render_json,
    render_xml,
)
from domain.catalogue import OutputFormat

# orjson holds integers in 64 bits; XML has no limit, so it gets a wider range.
_scalars_json = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_scalars_xml = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
) | st.text()


def _json_like(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=12), children, max_size=5)
        ),
        max_leaves=30,
    )


json_values = _json_like(_scalars_json)
xml_values = _json_like(_scalars_xml)


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every dict rebuilt in a random insertion order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(json_values)
@settings(max_examples=300)
def test_json_round_trip(value: Any) -> None:
    assert parse_json(render_json(value)) == value


@given(xml_values)
@settings(max_examples=300)
def test_xml_round_trip(value: Any) -> None:
    assert parse_xml(render_xml(value)) == value


@given(st.dictionaries(st.text(), st.text() | st.integers(), max_size=8))
def test_xml_round_trip_awkward_keys(value: dict[str, Any]) -> None:
    """Keys that are not XML names (spaces, control chars, ``xml...``, empty) survive."""
    assert parse_xml(render_xml(value, root="group")) == value


@given(xml_values, st.randoms(use_true_random=False))
def test_rendering_ignores_dict_order(value: Any, rng: random.Random) -> None:
    other = _shuffled(value, rng)
    assert render_xml(other) == render_xml(value)
    try:
        expected = render_json(value)
    except TypeError:  # integer beyond 64 bits: JSON cannot hold it, nothing to compare
        return
    assert render_json(other) == expected


@given(json_values)
def test_render_dispatches_by_format(value: Any) -> None:
    for fmt in OutputFormat:
        assert parse(fmt, render(fmt, value)) == value
    assert render("json", value) == render_json(value)
    assert render("xml", value) == render_xml(value)


def test_types_are_preserved() -> None:
    value = {"a": 1, "b": 1.0, "c": "1", "d": True, "e": None, "f": [], "g": {}}
    back = parse_xml(render_xml(value))
    assert isinstance(back, dict)
    assert back == value
    assert [type(back[k]) for k in "abcdefg"] == [int, float, str, bool, type(None), list, dict]


def test_xml_sample_is_stable() -> None:
    sample = {
        "name": "Main IVR",
        "extension": 1000,
        "enabled": True,
        "timeout": 2.5,
        "menu": ["1", None, {"digit": 0}],
        "a key": "x & <y>",
        "xmlish": "",
        "ctl": "bell\x07",
    }
    expected = (
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b'<entity type="dict">\n'
        b'  <entry key="a key" type="str">x &amp; &lt;y&gt;</entry>\n'
        b'  <ctl type="str" encoding="base64">YmVsbAc=</ctl>\n'
        b'  <enabled type="bool">true</enabled>\n'
        b'  <extension type="int">1000</extension>\n'
        b'  <menu type="list">\n'
        b'    <item type="str">1</item>\n'
        b'    <item type="null" />\n'
        b'    <item type="dict">\n'
        b'      <digit type="int">0</digit>\n'
        b"    </item>\n"
        b"  </menu>\n"
        b'  <name type="str">Main IVR</name>\n'
        b'  <timeout type="float">2.5</timeout>\n'
        b'  <entry key="xmlish" type="str" />\n'
        b"</entity>\n"
    )
    assert render_xml(sample) == expected
    assert parse_xml(expected) == sample


def test_json_is_compact_and_sorted() -> None:
    assert render_json({"b": [1, 2], "a": {"d": None, "c": "é"}}) == (
        '{"a":{"c":"é","d":null},"b":[1,2]}'.encode()
    )


def test_unknown_format_is_named() -> None:
    with pytest.raises(ValueError, match="'yaml'"):
        render("yaml", {})
    with pytest.raises(ValueError, match="'csv'"):
        parse("csv", b"")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [float("-inf")]])
def test_non_finite_floats_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        render_json(bad)
    with pytest.raises(ValueError):
        render_xml(bad)


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(TypeError):
        render_xml({1: "x"})
    with pytest.raises(TypeError):
        render_xml({"x": object()})
    with pytest.raises(ValueError):
        render_xml({}, root="not a name")


@pytest.mark.parametrize(
    "data",
    [
        b"<entity",
        b'<entity type="weird" />',
        b'<entity type="bool">yes</entity>',
        b'<entity type="list">text<item type="null" /></entity>',
        b'<!DOCTYPE x [<!ENTITY a "b">]><entity type="str">&a;</entity>',
        b'<entity type="str" encoding="base64">!!!</entity>',
    ],
)
def test_malformed_xml_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_xml(data)


def test_malformed_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_json(b"{")
