"""The QRadar dialect's ``fields`` parameter: parsing (with subfields in brackets), checking
against a resource's fields, and selecting from the data."""

from __future__ import annotations

import pytest

from api.dialects.qradar.fields import FieldsError, FieldTree, check_fields, parse_fields, select

SHAPE: FieldTree = {
    "id": None,
    "name": None,
    "owner": {"name": None, "roles": {"id": None, "x": None}},
}
DATA = {
    "id": 7,
    "name": "nightly",
    "owner": {"name": "ann", "roles": [{"id": 1, "x": 2}, {"id": 3, "x": 4}]},
}


def test_flat_list_of_names() -> None:
    assert parse_fields("id,name,status") == {"id": None, "name": None, "status": None}


def test_spaces_around_names_are_ignored() -> None:
    assert parse_fields(" id , name ") == {"id": None, "name": None}


@pytest.mark.parametrize("text", ["id,owner(name,roles(id))", "id,owner[name,roles[id]]"])
def test_subfields_in_round_or_square_brackets(text: str) -> None:
    assert parse_fields(text) == {"id": None, "owner": {"name": None, "roles": {"id": None}}}


def test_a_repeated_name_merges_its_selections() -> None:
    assert parse_fields("owner(name),owner(roles(id))") == {
        "owner": {"name": None, "roles": {"id": None}}
    }
    assert parse_fields("owner(name),owner") == {"owner": None}


@pytest.mark.parametrize(
    "text",
    ["", "  ", "id,", ",id", "id,,name", "owner(", "owner()", "owner(name", "owner(name]",
     "id)", "na-me", "id name", "1id"],
)  # fmt: skip
def test_malformed_selections_are_refused(text: str) -> None:
    with pytest.raises(FieldsError):
        parse_fields(text)


def test_select_keeps_only_named_fields_in_every_list_item() -> None:
    tree = parse_fields("name,owner(roles(id))")
    check_fields(tree, SHAPE)
    assert select(DATA, tree) == {"name": "nightly", "owner": {"roles": [{"id": 1}, {"id": 3}]}}
    assert select([DATA, DATA], parse_fields("id")) == [{"id": 7}, {"id": 7}]


def test_a_null_object_stays_null() -> None:
    assert select({"owner": None}, parse_fields("owner(name)")) == {"owner": None}


def test_unknown_names_and_subfields_of_scalars_are_refused_before_any_data() -> None:
    with pytest.raises(FieldsError, match=r"unknown field\(s\): colour"):
        check_fields(parse_fields("id,colour"), SHAPE)
    with pytest.raises(FieldsError, match=r"unknown field\(s\) of owner: age"):
        check_fields(parse_fields("owner(age)"), SHAPE)
    with pytest.raises(FieldsError, match="id has no subfields"):
        check_fields(parse_fields("id(x)"), SHAPE)
    with pytest.raises(FieldsError, match=r"owner\.name has no subfields"):
        check_fields(parse_fields("owner(name(first))"), SHAPE)
