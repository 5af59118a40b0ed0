"""The pure diff of two configuration states (adapters.restore_diff)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.restore_diff import FieldChange, diff_states, field_diff, same

IVR = "t01/t01-g01/group/ivr"
VM = "t01/t01-g01/user/u0001/voice_mail"
PROFILE = "t01/t01-g01/group/profile"


def test_entities_added_removed_and_changed_with_field_paths() -> None:
    old = {IVR: {"name": "Main", "menu": [1, 2], "a/b": {"x~": 1}}, PROFILE: {"id": "g"}}
    new = {IVR: {"name": "Night", "menu": [1], "a/b": {"x~": 2}, "extra": True}, VM: {"on": 1}}
    diff = diff_states(old, new)
    assert diff.added == [VM]
    assert diff.removed == [PROFILE]
    assert [c.key for c in diff.changed] == [IVR]
    assert diff.changed[0].fields == [
        FieldChange(path="/a~1b/x~0", op="replace", old=1, new=2),
        FieldChange(path="/extra", op="add", new=True),
        FieldChange(path="/menu/1", op="remove", old=2),
        FieldChange(path="/name", op="replace", old="Main", new="Night"),
    ]
    assert not diff.is_empty


def test_identical_states_give_an_empty_diff_and_types_matter() -> None:
    state = {IVR: {"n": 1, "l": [{"a": None}]}}
    assert diff_states(state, {IVR: {"l": [{"a": None}], "n": 1}}).is_empty
    assert field_diff({"n": 1}, {"n": True}) == [
        FieldChange(path="/n", op="replace", old=1, new=True)
    ]
    assert field_diff({"n": 1}, {"n": 1.0})[0].op == "replace"
    assert field_diff([1], {"0": 1}) == [FieldChange(path="", op="replace", old=[1], new={"0": 1})]


def test_media_digests_are_compared_by_key() -> None:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    diff = diff_states(
        {}, {}, {"t/g/media/x": a, "t/g/media/y": b}, {"t/g/media/y": c, "t/g/media/z": a}
    )
    assert diff.media_removed == ["t/g/media/x"]
    assert diff.media_added == ["t/g/media/z"]
    assert [(m.key, m.old, m.new) for m in diff.media_changed] == [("t/g/media/y", b, c)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


def _apply(value: Any, changes: list[FieldChange]) -> Any:
    """Apply field changes (a test oracle: the diff must carry old into new)."""
    import copy

    value = copy.deepcopy(value)
    # Removals of list items go from the highest index down, so indices stay valid.
    removals = sorted((c for c in changes if c.op == "remove"), key=lambda c: _neg_index(c.path))
    ordered = [*removals, *(c for c in changes if c.op != "remove")]
    for change in ordered:
        if change.path == "":
            value = change.new
            continue
        parts = [p.replace("~1", "/").replace("~0", "~") for p in change.path.split("/")[1:]]
        parent = value
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
        if change.op == "remove":
            del parent[last]
        elif isinstance(parent, list) and change.op == "add":
            parent.append(change.new)
        else:
            parent[last] = change.new
    return value


def _neg_index(path: str) -> int:
    tail = path.rsplit("/", 1)[-1]
    return -int(tail) if tail.isascii() and tail.isdigit() else 0


@given(json_values, json_values)
def test_field_diff_carries_old_into_new_and_is_deterministic(old: Any, new: Any) -> None:
    changes = field_diff(old, new)
    assert changes == field_diff(old, new)
    assert (changes == []) == same(old, new)
    assert same(_apply(old, changes), new)
