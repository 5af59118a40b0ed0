"""QRadar's Long ids: a pure function of Rewind's UUIDs, below 2**53, and found again
through the views with a LIKE pattern (checked by SQLite itself)."""

from __future__ import annotations

import sqlite3
import uuid

from hypothesis import given
from hypothesis import strategies as st

from api.dialects.qradar.ids import MAX_LONG_ID, host_long_id, long_id, uuid_like_pattern


def _like(text: str, pattern: str) -> bool:
    with sqlite3.connect(":memory:") as conn:
        return bool(conn.execute("SELECT ? LIKE ?", (text, pattern)).fetchone()[0])


@given(st.uuids(version=4))
def test_a_uuid_is_found_again_from_its_long(value: uuid.UUID) -> None:
    number = long_id(value)
    assert 0 <= number <= MAX_LONG_ID < 2**53
    pattern = uuid_like_pattern(number)
    assert pattern is not None and _like(str(value), pattern)


@given(st.uuids(version=4), st.uuids(version=4))
def test_uuids_with_different_longs_do_not_match_each_other(a: uuid.UUID, b: uuid.UUID) -> None:
    pattern = uuid_like_pattern(long_id(a))
    assert pattern is not None
    assert _like(str(b), pattern) == (long_id(a) == long_id(b))


def test_the_mapping_is_stable_and_host_ids_differ() -> None:
    value = uuid.UUID("c8ddd54d-bf26-4cea-9dcc-43f3c0e1d6b2")
    assert long_id(value) == int("c8ddd54dbf26" + "c", 16)
    assert host_long_id("default") == host_long_id("default") != host_long_id("other")


def test_numbers_no_uuid_can_have_match_nothing() -> None:
    assert uuid_like_pattern(-1) is None
    assert uuid_like_pattern(MAX_LONG_ID + 1) is None
