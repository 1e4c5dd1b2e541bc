"""driveItems by id and by path, children paging, eTag/cTag, If-None-Match and `$select`
exactly as graph-facts §3-§4 describe them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from ms365sync.emulator.tenant.content import BytesContent
from support.emulator_graph_world import (
    CTAG,
    ETAG,
    GUID,
    HASH,
    HOST,
    ISO,
    ITEM_ID,
    ZERO_HASH,
    World,
    build_tenant,
    make_world,
)

NOT_SUPPORTED = "Permission is not supported in this item."
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


@pytest.fixture
def world() -> World:
    return make_world()


def tags(body: dict[str, Any]) -> tuple[tuple[str, int], tuple[str, int] | None]:
    """(GUID, version) of the eTag and of the cTag (None when absent)."""
    etag = ETAG.match(body["eTag"])
    assert etag, body["eTag"]
    ctag = CTAG.match(body["cTag"]) if "cTag" in body else None
    assert ctag or "cTag" not in body
    return (etag[1], int(etag[2])), (ctag[1], int(ctag[2])) if ctag else None


# ---------------------------------------------------------------------- addressing


def test_item_by_id_and_by_path_are_the_same_item(world: World) -> None:
    by_id = world.json(world.item_path("Reports/2025/plan.txt"))
    drive = world.drive.id
    by_path = world.json(f"/drives/{drive}/root:/Reports/2025/plan.txt")
    with_colon = world.json(f"/drives/{drive}/root:/Reports/2025/plan.txt:")
    for body in (by_path, with_colon):
        assert body["id"] == by_id["id"]
        assert body["eTag"] == by_id["eTag"]
    assert ITEM_ID.match(by_id["id"]) and len(by_id["id"]) == 34
    assert by_id["@odata.context"] == f"{world.url('')}/$metadata#drives('{drive}')/items/$entity"


def test_path_with_spaces_is_percent_encoded_in_the_url(world: World) -> None:
    encoded = quote("Reports/Q1 summary.txt")
    body = world.json(f"/drives/{world.drive.id}/root:/{encoded}")
    assert body["name"] == "Q1 summary.txt"
    assert body["webUrl"] == (
        f"https://{HOST}/sites/marketing/Shared%20Documents/Reports/Q1%20summary.txt"
    )


def test_root_aliases(world: World) -> None:
    drive = world.drive.id
    root = world.json(f"/drives/{drive}/root")
    assert world.json(f"/drives/{drive}/items/root")["id"] == root["id"]
    assert world.json(f"/drives/{drive}/items/{root['id']}")["id"] == root["id"]
    assert root["name"] == "root"
    assert root["root"] == {}
    # No eTag on the root (microsoft-graph-docs-contrib #8604), no cTag on folders.
    assert "eTag" not in root and "cTag" not in root
    assert root["folder"] == {"childCount": 3}
    assert root["size"] == sum(len(data) for _, data in library_files(world))
    assert root["webUrl"] == f"https://{HOST}/sites/marketing/Shared%20Documents"


def test_unknown_item_is_404_item_not_found_with_ids(world: World) -> None:
    mine = "0f0e0d0c-0b0a-4909-8807-060504030201"
    for path in (
        f"/drives/{world.drive.id}/items/01AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        f"/drives/{world.drive.id}/root:/Reports/missing.txt",
        f"/drives/{world.drive.id}/items/01AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/children",
    ):
        response = world.get(path, headers={"client-request-id": mine})
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["client-request-id"] == mine
        request_id = response.headers["request-id"]
        assert re.fullmatch(GUID, request_id) and request_id != mine
        error = response.json()["error"]
        assert error["code"] == "itemNotFound"
        assert isinstance(error["message"], str) and error["message"]
        inner = error["innerError"]
        assert inner["request-id"] == request_id
        assert inner["client-request-id"] == mine
        assert DATE.match(inner["date"])


def test_children_of_a_file_are_not_found(world: World) -> None:
    assert world.get(world.item_path("empty.txt", "/children")).status_code == 404


# ---------------------------------------------------------------------- fields


def test_file_fields(world: World) -> None:
    world.tenant.add_file(world.drive, "Reports/hello.txt", BytesContent(b"hello"))
    body = world.json(world.item_path("Reports/hello.txt"))
    (etag_guid, _), ctag = tags(body)
    assert ctag is not None and ctag[0].upper() == etag_guid
    assert body["file"]["hashes"] == {"quickXorHash": "aCgDG9jwBgAAAAAABQAAAAAAAAA="}
    assert body["file"]["mimeType"] == "text/plain"
    assert body["size"] == 5
    assert body["name"] == "hello.txt"
    for key in ("createdDateTime", "lastModifiedDateTime"):
        assert ISO.match(body[key])
    parent = body["parentReference"]
    assert parent["path"] == f"/drives/{world.drive.id}/root:/Reports"
    assert parent["driveId"] == world.drive.id
    assert parent["driveType"] == "documentLibrary"
    assert parent["id"] == world.item("Reports").id
    assert parent["name"] == "Reports"
    assert parent["siteId"] == str(world.site.collection)
    url = urlsplit(body["@microsoft.graph.downloadUrl"])
    assert url.path == "/sites/marketing/_layouts/15/download.aspx"
    assert parse_qs(url.query)["UniqueId"] == [etag_guid.lower()]


def test_empty_file_has_the_zero_hash(world: World) -> None:
    body = world.json(world.item_path("empty.txt"))
    assert body["file"]["hashes"]["quickXorHash"] == ZERO_HASH
    assert HASH.match(ZERO_HASH)
    assert body["parentReference"]["path"] == f"/drives/{world.drive.id}/root:"


def test_nested_parent_path_keeps_raw_spaces(world: World) -> None:
    world.tenant.add_file(world.drive, "Team Docs/Q 1/a.txt", BytesContent(b"a"))
    body = world.json(world.item_path("Team Docs/Q 1/a.txt"))
    assert body["parentReference"]["path"] == f"/drives/{world.drive.id}/root:/Team Docs/Q 1"


def test_office_documents_have_the_doc_aspx_weburl(world: World) -> None:
    body = world.json(world.item_path("Reports/deck.docx"))
    guid = ETAG.match(body["eTag"])[1]  # type: ignore[index]
    assert body["webUrl"].startswith(
        f"https://{HOST}/sites/marketing/_layouts/15/Doc.aspx?sourcedoc=%7B{guid}%7D&file=deck.docx"
    )


def test_folder_fields(world: World) -> None:
    body = world.json(world.item_path("Reports"))
    assert "cTag" not in body  # folders in SharePoint never have a cTag (driveitem.md)
    assert "@microsoft.graph.downloadUrl" not in body
    assert "file" not in body
    assert body["folder"] == {"childCount": 3}
    assert body["size"] == sum(len(d) for p, d in library_files(world) if p.startswith("Reports/"))
    tags(body)


def library_files(world: World) -> list[tuple[str, bytes]]:
    """(path, bytes) of every file in the library, from the tenant itself."""
    return [(i.path, i.content.read_all()) for i in world.drive.files() if i.content]


def test_sharepoint_ids_only_when_selected(world: World) -> None:
    item = world.item("Reports/2025/plan.txt")
    assert "sharepointIds" not in world.json(world.item_path("Reports/2025/plan.txt"))
    body = world.json(world.item_path("Reports/2025/plan.txt", "?$select=id,sharepointIds"))
    ids = body["sharepointIds"]
    assert ids["listId"] == str(world.drive.list_guid)
    assert ids["listItemUniqueId"] == str(item.guid)  # the GUID of eTag, cTag and UniqueId=
    assert ids["listItemId"].isdigit()
    assert ids["siteId"] == str(world.site.collection)
    assert ids["webId"] == str(world.site.web)
    assert ids["tenantId"] == world.tenant.tenant_id
    other = world.json(world.item_path("Notes/todo.md", "?$select=sharepointIds"))
    assert other["sharepointIds"]["listItemId"] != ids["listItemId"]


# ---------------------------------------------------------------------- children


def many_children(world: World, count: int) -> None:
    for number in range(count):
        world.tenant.add_file(world.drive, f"Many/file-{number:02d}.txt", BytesContent(b"x"))


def test_children_page_with_skiptoken_links_that_keep_select_and_top(world: World) -> None:
    many_children(world, 7)
    folder = world.item("Many")
    url = world.item_path("Many", "/children?$select=id,name&$top=3")
    names: list[str] = []
    pages = 0
    while url:
        body = world.json(url)
        pages += 1
        assert body["@odata.context"].endswith(f"/items('{folder.id}')/children")
        assert 1 <= len(body["value"]) <= 3
        for child in body["value"]:
            assert set(child) == {"@odata.etag", "id", "name"}
            names.append(child["name"])
        url = body.get("@odata.nextLink", "")
        if url:
            assert url.startswith(world.url(""))  # absolute
            query = parse_qs(urlsplit(url).query)
            assert query["$select"] == ["id,name"]
            assert query["$top"] == ["3"]
            assert len(query["$skiptoken"]) == 1
    assert pages == 3
    assert names == [f"file-{n:02d}.txt" for n in range(7)]


def test_children_by_path_and_root_children(world: World) -> None:
    drive = world.drive.id
    by_path = world.json(f"/drives/{drive}/root:/Reports:/children")["value"]
    # Ordered by name, case-insensitively, as SharePoint's default sort does.
    assert [c["name"] for c in by_path] == ["2025", "deck.docx", "Q1 summary.txt"]
    root = world.json(f"/drives/{drive}/root/children")["value"]
    assert [c["name"] for c in root] == ["empty.txt", "Notes", "Reports"]


def test_default_page_is_200(world: World) -> None:
    many_children(world, 201)
    first = world.json(world.item_path("Many", "/children"))
    assert len(first["value"]) == 200
    assert len(world.json(first["@odata.nextLink"])["value"]) == 1


def test_case_variant_siblings_both_appear_across_pages() -> None:
    tenant = build_tenant(strict_names=False)
    world = make_world(tenant)
    for name in ("b.txt", "a.txt", "A.txt", "c.txt"):
        tenant.add_file(world.drive, ["Mixed", name], BytesContent(b"x"))
    first = world.json(world.item_path("Mixed", "/children?$top=1"))
    names = [first["value"][0]["name"]]
    url = first.get("@odata.nextLink")
    while url:
        body = world.json(url)
        names += [child["name"] for child in body["value"]]
        url = body.get("@odata.nextLink")
    assert sorted(names) == ["A.txt", "a.txt", "b.txt", "c.txt"]


# ---------------------------------------------------------------------- eTag / cTag


def test_metadata_change_bumps_the_etag_only(world: World) -> None:
    path = world.item_path("Notes/todo.md")
    (guid, etag_v), ctag = tags(world.json(path))
    world.tenant.touch(world.drive, "Notes/todo.md")
    (guid2, etag_v2), ctag2 = tags(world.json(path))
    assert (guid2, etag_v2) == (guid, etag_v + 1)
    assert ctag2 == ctag
    world.tenant.rename(world.drive, "Notes/todo.md", "done.md")
    (_, etag_v3), ctag3 = tags(world.json(path))
    assert etag_v3 == etag_v + 2
    assert ctag3 == ctag


def test_content_change_bumps_both(world: World) -> None:
    path = world.item_path("Notes/todo.md")
    (guid, etag_v), ctag = tags(world.json(path))
    assert ctag is not None
    world.tenant.edit_file(world.drive, "Notes/todo.md", BytesContent(b"- shipped"))
    body = world.json(path)
    (guid2, etag_v2), ctag2 = tags(body)
    assert (guid2, etag_v2) == (guid, etag_v + 1)
    assert ctag2 == (ctag[0], ctag[1] + 1)
    assert body["size"] == len(b"- shipped")


def test_id_survives_rename_and_move(world: World) -> None:
    item_id = world.item("Notes/todo.md").id
    world.tenant.move(world.drive, "Notes/todo.md", "Reports", "todo-moved.md")
    body = world.json(f"/drives/{world.drive.id}/root:/Reports/todo-moved.md")
    assert body["id"] == item_id
    assert body["parentReference"]["id"] == world.item("Reports").id


# ---------------------------------------------------------------------- If-None-Match


def test_if_none_match_answers_304(world: World) -> None:
    path = world.item_path("Notes/todo.md")
    body = world.json(path)
    for tag in (body["eTag"], body["cTag"]):
        response = world.get(path, headers={"If-None-Match": tag})
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["request-id"]
    world.tenant.touch(world.drive, "Notes/todo.md")
    assert world.get(path, headers={"If-None-Match": body["eTag"]}).status_code == 200
    # The cTag did not change: the content is still the same.
    assert world.get(path, headers={"If-None-Match": body["cTag"]}).status_code == 304


def test_if_none_match_on_folders_and_the_root(world: World) -> None:
    folder = world.json(world.item_path("Reports"))
    response = world.get(world.item_path("Reports"), headers={"If-None-Match": folder["eTag"]})
    assert response.status_code == 304
    root = world.get(f"/drives/{world.drive.id}/root", headers={"If-None-Match": "*"})
    assert root.status_code == 200


# ---------------------------------------------------------------------- $select


def test_select_returns_exactly_the_selected_properties(world: World) -> None:
    body = world.json(world.item_path("Notes/todo.md", "?$select=id,name,size,file"))
    assert set(body) == {"@odata.context", "@odata.etag", "id", "name", "size", "file"}
    assert body["@odata.etag"] == world.json(world.item_path("Notes/todo.md"))["eTag"]


def test_select_content_download_url(world: World) -> None:
    body = world.json(world.item_path("Notes/todo.md", "?$select=id,content.downloadUrl"))
    # The response key stays @microsoft.graph.downloadUrl (graph-facts §3.7, graph-docs #11671).
    assert set(body) == {"@odata.context", "@odata.etag", "id", "@microsoft.graph.downloadUrl"}
    without = world.json(world.item_path("Notes/todo.md", "?$select=id,file"))
    assert "@microsoft.graph.downloadUrl" not in without


def test_select_on_the_root_adds_no_etag(world: World) -> None:
    body = world.json(f"/drives/{world.drive.id}/root?$select=id,name")
    assert set(body) == {"@odata.context", "id", "name"}


@pytest.mark.parametrize(
    ("query", "bad", "type_name"),
    [
        ("?$select=id,nosuchthing", "nosuchthing", "driveItem"),
        ("?$select=Name", "Name", "driveItem"),  # property names are case-sensitive
    ],
)
def test_unknown_selected_property_is_400(
    world: World, query: str, bad: str, type_name: str
) -> None:
    response = world.get(world.item_path("Notes/todo.md", query))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"Could not find a property named '{bad}' on type 'microsoft.graph.{type_name}'."
    )


def test_unknown_selected_property_on_children_and_drives(world: World) -> None:
    children = world.get(world.item_path("Reports", "/children?$select=bogus"))
    assert children.status_code == 400
    drive = world.get(f"/drives/{world.drive.id}?$select=bogus")
    assert drive.status_code == 400
    assert "'microsoft.graph.drive'" in drive.json()["error"]["message"]


def test_expanding_permissions_is_not_supported(world: World) -> None:
    for path in (
        world.item_path("Notes/todo.md", "?$expand=permissions"),
        world.item_path("Notes", "/children?$expand=permissions"),
    ):
        response = world.get(path)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["message"]) == ("notSupported", NOT_SUPPORTED)


def test_expand_children(world: World) -> None:
    body = world.json(world.item_path("Reports", "?$expand=children"))
    assert [c["name"] for c in body["children"]] == ["2025", "deck.docx", "Q1 summary.txt"]
