"""A library's typed columns as Graph gives them (graph-facts §18.4): every kind's value in
`fields`, on the item and through the list's delta, the columns' definitions
(`/lists/{id}/columns`), and the list view's limit of 12 lookup-type columns in a
collection."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ms365sync.emulator.msgraph.columns import BUILT_IN_COLUMNS
from ms365sync.emulator.tenant.base import MutationError
from ms365sync.emulator.tenant.columns import term_guid
from support.emulator_graph_world import World, make_world, walk_delta

PATH = "Reports/Q1 summary.txt"
TERM_GUID = "5b0c7c38-26f7-4b0b-9d4d-0a2b7ef51f3c"


@pytest.fixture
def world() -> World:
    world = make_world()
    define = world.tenant.define_column
    drive = world.drive
    define(drive, "Summary", "text", display_name="Short summary")
    define(drive, "Status", "choice", choices=["Draft", "Final"])
    define(drive, "Regions", "choice", choices=["EMEA", "APAC", "AMER"], multiple=True)
    define(drive, "Pages", "number")
    define(drive, "Due", "dateTime")
    define(drive, "Reviewed", "boolean")
    define(drive, "Owner", "personOrGroup")
    define(drive, "Reviewers", "personOrGroup", multiple=True)
    define(drive, "Customer", "lookup")
    define(drive, "Products", "lookup", multiple=True)
    define(drive, "Topic", "term")
    define(drive, "Keywords", "term", multiple=True)
    return world


VALUES: dict[str, Any] = {
    "Summary": "Q1 in short",
    "Status": "Final",
    "Regions": ["EMEA", "APAC"],
    "Pages": 12.5,
    "Due": "2025-03-31T17:30:00+02:00",
    "Reviewed": True,
    "Owner": "amy@contoso.onmicrosoft.com",
    "Reviewers": ["amy@contoso.onmicrosoft.com", "ben@contoso.onmicrosoft.com"],
    "Customer": {"LookupId": 7, "LookupValue": "Fabrikam"},
    "Products": [{"LookupId": 3, "LookupValue": "Widget"}, 9],
    "Topic": {"Label": "Finance", "TermGuid": TERM_GUID, "WssId": 4},
    "Keywords": ["Budget", "Forecast"],
}


def _expected(world: World) -> dict[str, Any]:
    """Each column as fields gives it (graph-facts §18.4)."""
    amy = world.tenant.user("amy@contoso.onmicrosoft.com")
    ben = world.tenant.user("ben@contoso.onmicrosoft.com")
    amy_id, ben_id = (world.tenant.site_principal_id(u.id) for u in (amy, ben))
    budget, forecast = (str(term_guid(label)) for label in ("Budget", "Forecast"))
    return {
        "Summary": "Q1 in short",
        "Status": "Final",
        "Regions": ["EMEA", "APAC"],
        "Pages": 12.5,
        "Due": "2025-03-31T15:30:00Z",
        "Reviewed": True,
        "OwnerLookupId": str(amy_id),
        "Reviewers": [
            {"LookupId": amy_id, "LookupValue": "Amy Adams", "Email": amy.email},
            {"LookupId": ben_id, "LookupValue": "Ben Brown", "Email": ben.email},
        ],
        "CustomerLookupId": "7",
        "Products": [
            {"LookupId": 3, "LookupValue": "Widget"},
            {"LookupId": 9, "LookupValue": ""},
        ],
        "Topic": {"Label": "Finance", "TermGuid": TERM_GUID, "WssId": 4},
        "Keywords": [
            {"Label": "Budget", "TermGuid": budget, "WssId": 1},
            {"Label": "Forecast", "TermGuid": forecast, "WssId": 2},
        ],
    }


def _fields(world: World, path: str = PATH, query: str = "$expand=fields") -> Any:
    return world.json(world.item_path(path, f"/listItem?{query}"))["fields"]


def _list_delta(world: World, query: str = "") -> str:
    return f"/sites/{world.site.id}/lists/{world.drive.list_guid}/items/delta{query}"


def test_every_kind_of_column_reads_in_the_shape_fields_gives_it(world: World) -> None:
    world.tenant.set_columns(world.drive, PATH, VALUES)
    fields = _fields(world)
    expected = _expected(world)
    assert {name: fields.get(name) for name in expected} == expected
    assert not {"Owner", "Customer"} & set(fields)  # a single person or lookup: its LookupId
    assert isinstance(fields["Pages"], float) and fields["Reviewed"] is True


def test_the_lists_delta_gives_the_same_shapes(world: World) -> None:
    world.tenant.set_columns(world.drive, PATH, VALUES)
    rows = walk_delta(world.get, _list_delta(world, "?$expand=fields")).by_id()
    fields = rows[str(world.item(PATH).list_item_id)]["fields"]
    expected = _expected(world)
    assert {name: fields.get(name) for name in expected} == expected


def test_a_person_or_lookup_column_is_selected_by_its_name_or_its_key(world: World) -> None:
    world.tenant.set_columns(world.drive, PATH, VALUES)
    by_name = _fields(world, query="$expand=fields($select=Owner,Products)")
    by_key = _fields(world, query="$expand=fields($select=OwnerLookupId,Products)")
    expected = _expected(world)
    for fields in (by_name, by_key):
        assert set(fields) == {"@odata.etag", "OwnerLookupId", "Products"}
        assert fields["OwnerLookupId"] == expected["OwnerLookupId"]


@pytest.mark.parametrize(
    ("column", "value", "expects"),
    [
        ("Summary", 5, "expects a string, not 5"),
        ("Status", "Lost", "expects one of 'Draft', 'Final', not 'Lost'"),
        ("Regions", "EMEA", "expects a list of one of 'EMEA', 'APAC', 'AMER', not 'EMEA'"),
        ("Regions", ["EMEA", "Mars"], "not 'Mars'"),
        ("Pages", "12", "expects a number, not '12'"),
        ("Pages", True, "expects a number, not True"),
        ("Due", "next Tuesday", "expects an ISO 8601 date and time string"),
        ("Reviewed", "yes", "expects true or false, not 'yes'"),
        ("Owner", "nobody@contoso.onmicrosoft.com", "unknown user"),
        ("Reviewers", "amy@contoso.onmicrosoft.com", "expects a list of a user"),
        ("Customer", 0, "expects a lookup id or"),
        ("Customer", {"Id": 3}, "expects a lookup id or"),
        ("Topic", {"Label": "X", "TermGuid": "not-a-guid"}, "expects a term label or"),
    ],
)
def test_a_value_that_does_not_fit_its_column_is_refused(
    world: World, column: str, value: Any, expects: str
) -> None:
    before = world.item(PATH).etag_v
    with pytest.raises(MutationError, match=re.escape(expects)):
        world.tenant.set_columns(world.drive, PATH, {column: value})
    assert world.item(PATH).etag_v == before and column not in world.item(PATH).columns


def test_an_error_names_the_column_and_what_it_expects(world: World) -> None:
    with pytest.raises(MutationError) as raised:
        world.tenant.set_columns(world.drive, PATH, {"Pages": "many"})
    assert str(raised.value) == ("Documents: column 'Pages' (number) expects a number, not 'many'")
    assert "\n" not in str(raised.value)


def test_an_undefined_column_keeps_any_value_as_given(world: World) -> None:
    odd = {"Anything": [{"nested": 1}], "Flag": "yes"}
    world.tenant.set_columns(world.drive, PATH, odd)
    fields = _fields(world)
    assert {name: fields[name] for name in odd} == odd


@pytest.mark.parametrize(
    ("name", "kind", "options", "problem"),
    [
        ("FileLeafRef", "text", {}, "is a built-in column"),
        ("_IpLabelId", "text", {}, "is a built-in column"),
        ("summary", "text", {}, "is already defined"),
        ("Size", "currency", {}, "kind must be one of text, choice"),
        ("Size", "number", {"multiple": True}, "a number column holds one value"),
        ("Phase", "choice", {}, "a choice column needs its choices"),
        ("Phase", "text", {"choices": ["A"]}, "a text column takes no choices"),
        ("Phase", "text", {"lookup_list": "abc"}, "only a lookup column reads from a list"),
    ],
)
def test_a_column_definition_graph_would_refuse_is_refused(
    world: World, name: str, kind: str, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(MutationError, match=problem):
        world.tenant.define_column(world.drive, name, kind, **options)


def test_defining_a_column_fits_the_values_already_set_or_is_refused(world: World) -> None:
    world.tenant.set_columns(world.drive, PATH, {"Start": "2025-01-02", "Level": "high"})
    world.tenant.define_column(world.drive, "Start", "dateTime")
    assert _fields(world)["Start"] == "2025-01-02T00:00:00Z"
    with pytest.raises(MutationError, match="'Level' \\(number\\) expects a number, not 'high'"):
        world.tenant.define_column(world.drive, "Level", "number")
    assert "Level" not in world.drive.columns


def test_the_lists_columns_are_column_definitions(world: World) -> None:
    body = world.json(f"/sites/{world.site.id}/lists/{world.drive.list_guid}/columns")
    by_name = {column["name"]: column for column in body["value"]}
    built_in = [name for name, _ in BUILT_IN_COLUMNS]
    # the built-in columns fields shows first, then the custom ones; hidden ones are not listed
    assert list(by_name) == [*built_in, *world.drive.columns]
    assert all(by_name[name]["readOnly"] for name in built_in)
    summary = by_name["Summary"]
    assert summary["displayName"] == "Short summary" and summary["hidden"] is False
    assert summary["text"]["maxLength"] == 255
    assert summary["id"] == str(world.drive.columns["Summary"].id)
    assert by_name["Status"]["choice"]["choices"] == ["Draft", "Final"]
    # a multi-choice column is described as a single one (corso #5108)
    assert by_name["Regions"]["choice"]["choices"] == ["EMEA", "APAC", "AMER"]
    assert by_name["Regions"]["choice"]["displayAs"] == by_name["Status"]["choice"]["displayAs"]
    assert "number" in by_name["Pages"] and by_name["Due"]["dateTime"]["format"] == "dateTime"
    assert by_name["Reviewed"]["boolean"] == {}
    assert by_name["Owner"]["personOrGroup"]["allowMultipleSelection"] is False
    assert by_name["Reviewers"]["personOrGroup"]["allowMultipleSelection"] is True
    assert by_name["Products"]["lookup"]["allowMultipleValues"] is True
    assert by_name["Customer"]["lookup"]["columnName"] == "Title"
    facets = {"text", "choice", "number", "dateTime", "boolean", "personOrGroup", "lookup", "term"}
    assert not facets & set(by_name["Topic"])  # managed metadata: no facet (corso #5084)
    drive_form = world.json(f"/drives/{world.drive.id}/list/columns")
    assert drive_form["value"] == body["value"]


def test_a_column_set_without_a_definition_is_listed_as_text(world: World) -> None:
    world.tenant.set_columns(world.drive, PATH, {"Undeclared": "x"})
    body = world.json(f"/sites/{world.site.id}/lists/{world.drive.list_guid}/columns")
    (column,) = [c for c in body["value"] if c["name"] == "Undeclared"]
    assert column["text"] and column["hidden"] is False


def test_hidden_columns_are_listed_when_hidden_is_selected(world: World) -> None:
    query = "?$select=name,hidden,readOnly"
    body = world.json(f"/sites/{world.site.id}/lists/{world.drive.list_guid}/columns{query}")
    hidden = {c["name"]: c for c in body["value"] if c["hidden"]}
    assert set(hidden) == {"_IpLabelId", "_DisplayName"}
    assert all(set(column) == {"name", "hidden", "readOnly"} for column in body["value"])
    missing = f"/sites/{world.site.id}/lists/00000000-0000-0000-0000-000000000000/columns"
    assert world.get(missing).status_code == 404


def test_a_collection_leaves_out_lookup_columns_past_the_twelfth(world: World) -> None:
    # Owner, Reviewers, Customer and Products are four; ten more make fourteen.
    for number in range(1, 11):
        world.tenant.define_column(world.drive, f"Extra{number:02d}", "lookup")
    extras = {f"Extra{number:02d}": number for number in range(1, 11)}
    world.tenant.set_columns(world.drive, PATH, {**VALUES, **extras})
    single = _fields(world)
    assert {"Extra09LookupId", "Extra10LookupId"} <= set(single)  # one item: all of them
    list_item_id = str(world.item(PATH).list_item_id)
    for query in ("?$expand=fields", "?$expand=fields($select=Extra10,Extra01)"):
        rows = walk_delta(world.get, _list_delta(world, query)).by_id()
        fields = rows[list_item_id]["fields"]
        assert "Extra10LookupId" not in fields and "Extra09LookupId" not in fields
        assert fields["Extra01LookupId"] == "1"
    all_rows = walk_delta(world.get, _list_delta(world, "?$expand=fields")).by_id()
    kept = all_rows[list_item_id]["fields"]
    assert kept["Topic"]["Label"] == "Finance"  # managed metadata is not counted [INFER]
    assert kept["Reviewers"] and kept["Products"] and "Extra08LookupId" in kept
