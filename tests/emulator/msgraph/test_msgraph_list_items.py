"""A document's list item and its columns (graph-facts §18): the listItem of a file or
folder (`/items/{id}/listItem`, and expanded on the driveItem and its folder's children),
its built-in and custom `fields` with `$select`, and a column edit as the service makes it:
the eTag changes, the cTag does not, and the drive's delta reports the item again."""

from __future__ import annotations

from typing import Any

import pytest

from support.emulator_graph_world import World, make_world, walk_delta

DEPARTMENT = {"Department": "Finance", "Tags": ["budget", "2025"], "Reviewed": True}


@pytest.fixture
def world() -> World:
    return make_world()


def test_a_files_list_item_is_the_driveitem_seen_as_a_row(world: World) -> None:
    item = world.json(world.item_path("Reports/Q1 summary.txt", "?$select=id,eTag,sharepointIds"))
    row = world.json(world.item_path("Reports/Q1 summary.txt", "/listItem"))
    assert row["id"] == item["sharepointIds"]["listItemId"]
    assert row["eTag"] == row["@odata.etag"] == item["eTag"]
    assert row["contentType"]["name"] == "Document"
    assert row["contentType"]["id"].startswith("0x0101")
    assert row["parentReference"]["id"] == item["sharepointIds"]["listId"]
    assert row["createdBy"]["user"]["id"] and row["lastModifiedDateTime"].endswith("Z")
    assert "fields" not in row
    folder = world.json(world.item_path("Reports", "/listItem"))
    assert folder["contentType"]["name"] == "Folder"
    assert folder["contentType"]["id"].startswith("0x0120")


def test_fields_hold_the_built_in_and_the_custom_columns(world: World) -> None:
    world.tenant.set_columns(world.drive, "Reports/Q1 summary.txt", DEPARTMENT)
    row = world.json(world.item_path("Reports/Q1 summary.txt", "/listItem?$expand=fields"))
    fields = row["fields"]
    assert fields["@odata.etag"] == row["eTag"]
    assert fields["FileLeafRef"] == "Q1 summary.txt"
    assert fields["ContentType"] == "Document"
    assert fields["FileSizeDisplay"] == str(len(b"Revenue grew in the first quarter."))
    assert {name: fields[name] for name in DEPARTMENT} == DEPARTMENT
    assert row["fields@odata.context"].endswith("/fields/$entity")
    folder = world.json(world.item_path("Reports", "/listItem?$expand=fields"))["fields"]
    assert (folder["ItemChildCount"], folder["FolderChildCount"]) == ("2", "1")


def test_selected_fields_are_the_only_columns_returned(world: World) -> None:
    world.tenant.set_columns(world.drive, "Notes/todo.md", DEPARTMENT)
    path = world.item_path("Notes/todo.md", "/listItem?$expand=fields($select=Department,Reviewed)")
    fields = world.json(path)["fields"]
    assert fields == {
        "@odata.etag": fields["@odata.etag"],
        "Department": "Finance",
        "Reviewed": True,
    }


def test_the_list_item_expands_on_the_item_and_on_its_folders_children(world: World) -> None:
    world.tenant.set_columns(world.drive, "Reports/deck.docx", {"Department": "Sales"})
    expand = "$expand=listItem($expand=fields($select=Department))"
    item = world.json(world.item_path("Reports/deck.docx", f"?{expand}"))
    assert item["listItem"]["fields"]["Department"] == "Sales"
    children = world.json(world.item_path("Reports", f"/children?{expand}"))["value"]
    by_name: dict[str, Any] = {child["name"]: child for child in children}
    assert by_name["deck.docx"]["listItem"]["fields"]["Department"] == "Sales"
    assert "Department" not in by_name["Q1 summary.txt"]["listItem"]["fields"]
    plain = world.json(world.item_path("Reports", "/children?$expand=listItem"))["value"]
    assert all("listItem" in child and "fields" not in child["listItem"] for child in plain)


def test_a_column_edit_changes_the_etag_not_the_ctag_and_delta_reports_it(world: World) -> None:
    first = world.delta()
    before = world.json(world.item_path("Notes/todo.md"))
    world.tenant.set_columns(world.drive, "Notes/todo.md", {"Status": "Approved"})
    after = world.json(world.item_path("Notes/todo.md"))
    assert after["eTag"] != before["eTag"] and after["cTag"] == before["cTag"]
    changed = world.delta(first.delta_link).by_id()
    assert after["id"] in changed and changed[after["id"]]["eTag"] == after["eTag"]
    world.tenant.set_columns(world.drive, "Notes/todo.md", {"Status": None})
    fields = world.json(world.item_path("Notes/todo.md", "/listItem?$expand=fields"))["fields"]
    assert "Status" not in fields


def test_the_root_folder_is_no_list_item_and_other_expansions_are_refused(world: World) -> None:
    assert world.get(f"/drives/{world.drive.id}/items/root/listItem").status_code == 404
    refused = world.get(world.item_path("Notes/todo.md", "/listItem?$expand=versions"))
    assert refused.status_code == 400


def _list_delta(world: World, query: str = "") -> str:
    return f"/sites/{world.site.id}/lists/{world.drive.list_guid}/items/delta{query}"


def test_the_lists_delta_pages_every_row_with_its_fields(world: World) -> None:
    world.tenant.set_columns(world.drive, "Reports/deck.docx", {"Department": "Sales"})
    drive_round = world.delta()
    listed = world.delta(f"/drives/{world.drive.id}/root/delta?$select=id,root,sharepointIds")
    ids = {e["sharepointIds"]["listItemId"] for e in listed.values if "root" not in e}
    rows = walk_delta(world.get, _list_delta(world, "?$expand=fields($select=Department)&$top=3"))
    assert len(rows.pages) > 1  # paged like the drive's delta, the $expand kept in the links
    by_id = rows.by_id()
    assert set(by_id) == ids and len(ids) == len(drive_round.values) - 1  # every item but the root
    deck = world.item("Reports/deck.docx")
    assert by_id[str(deck.list_item_id)]["fields"]["Department"] == "Sales"
    assert all(set(row["fields"]) <= {"@odata.etag", "Department"} for row in rows.values)


def test_the_lists_delta_reports_column_edits_and_removals_since_its_token(world: World) -> None:
    first = walk_delta(world.get, _list_delta(world, "?$expand=fields"))
    todo, deck = world.item("Notes/todo.md"), world.item("Reports/deck.docx")
    world.tenant.set_columns(world.drive, "Notes/todo.md", {"Status": "Approved"})
    world.tenant.delete(world.drive, "Reports/deck.docx")
    changed = walk_delta(world.get, first.delta_link).by_id()
    assert set(changed) == {str(todo.list_item_id), str(deck.list_item_id)}
    assert changed[str(todo.list_item_id)]["fields"]["Status"] == "Approved"
    assert changed[str(deck.list_item_id)]["deleted"] == {"state": "deleted"}
    latest = world.json(_list_delta(world, "?token=latest"))
    assert latest["value"] == [] and "@odata.deltaLink" in latest
    assert walk_delta(world.get, latest["@odata.deltaLink"]).values == []


def test_an_unknown_list_is_not_found(world: World) -> None:
    missing = f"/sites/{world.site.id}/lists/00000000-0000-0000-0000-000000000000/items/delta"
    assert world.get(missing).status_code == 404


def test_the_library_as_a_list_names_the_list_of_its_items(world: World) -> None:
    listed = world.json(f"/drives/{world.drive.id}/list")
    ids = world.json(world.item_path("Notes/todo.md", "?$select=sharepointIds"))["sharepointIds"]
    assert listed["id"] == ids["listId"]
    assert listed["list"]["template"] == "documentLibrary"
    assert listed["displayName"] == world.drive.title and listed["name"] == world.drive.url_segment
    site_scoped = world.json(f"/sites/{world.site.id}/drives/{world.drive.id}/list")
    assert site_scoped["id"] == listed["id"]
