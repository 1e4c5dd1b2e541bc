"""Sites and drives endpoints (graph-facts §2): path and id addressing, search, paging, access,
the drives list with its hidden system libraries, titles versus URL segments."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ms365sync.emulator.login.directory import SITES_READ_ALL, SITES_SELECTED
from support.emulator_graph_world import DRIVE_ID, HOST, SITE_ID, World, make_world

SITE_NOT_FOUND = "The provided path does not exist, or does not represent a site"


@pytest.fixture
def world() -> World:
    return make_world()


def assert_marketing(world: World, body: dict[str, Any]) -> None:
    assert body["id"] == world.site.id
    assert body["displayName"] == "Marketing"
    assert body["name"] == "marketing"
    assert body["webUrl"] == f"https://{HOST}/sites/marketing"
    assert body["@odata.context"] == f"{world.url('')}/$metadata#sites/$entity"


def assert_error(world: World, path: str, status: int, code: str, message: str | None) -> None:
    response = world.get(path)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if message is not None:
        assert error["message"] == message
    assert error["innerError"]["request-id"] == response.headers["request-id"]


# ---------------------------------------------------------------------- by path


@pytest.mark.parametrize("suffix", ["", ":"])
def test_site_by_path_with_or_without_the_closing_colon(world: World, suffix: str) -> None:
    assert_marketing(world, world.json(f"/sites/{HOST}:/sites/marketing{suffix}"))


def test_site_by_path_is_case_insensitive(world: World) -> None:
    assert_marketing(world, world.json("/sites/Contoso.SharePoint.com:/Sites/Marketing"))


def test_drives_by_path_need_the_closing_colon(world: World) -> None:
    body = world.json(f"/sites/{HOST}:/sites/marketing:/drives")
    assert {drive["name"] for drive in body["value"]} == {"Documents", "Brand Assets"}
    # Without the colon that closes the path, "/drives" is read as part of the site path
    # (graph-facts §2.1, msgraph-sdk-dotnet #212).
    assert_error(world, f"/sites/{HOST}:/sites/marketing/drives", 404, "itemNotFound", None)


def test_default_drive_by_path(world: World) -> None:
    body = world.json(f"/sites/{HOST}:/sites/marketing:/drive")
    assert body["id"] == world.drive.id
    assert body["@odata.context"].endswith("$metadata#drives/$entity")


def test_navigating_past_the_drive_in_the_path_form_is_invalid(world: World) -> None:
    assert_error(
        world,
        f"/sites/{HOST}:/sites/marketing:/drive/root",
        400,
        "invalidRequest",
        "Url specified is invalid.",
    )


@pytest.mark.parametrize(
    "path",
    [
        f"/sites/{HOST}:/sites/nowhere",
        f"/sites/{HOST}:/sites/nowhere:",
        f"/sites/{HOST}:/sites/nowhere:/drives",
        f"/sites/{HOST}:/root",  # the path of samples/01-site-getbypath-404
        "/sites/other.sharepoint.com:/sites/marketing",
    ],
)
def test_unknown_site_path_is_404_with_the_real_message(world: World, path: str) -> None:
    assert_error(world, path, 404, "itemNotFound", SITE_NOT_FOUND)


# ---------------------------------------------------------------------- by id


def test_composite_id_has_lower_case_guids(world: World) -> None:
    body = world.json(f"/sites/{HOST}:/sites/marketing")
    assert SITE_ID.match(body["id"])
    assert body["id"] == body["id"].lower()
    assert body["id"].split(",")[1] == str(world.site.collection)


@pytest.mark.parametrize(
    "encode",
    [
        lambda site_id: site_id,
        lambda site_id: site_id.upper(),
        lambda site_id: site_id.replace(",", "%2C"),
        lambda site_id: site_id.upper().replace(",", "%2c"),
    ],
    ids=["plain", "upper-case", "%2C", "upper-case and %2c"],
)
def test_site_by_composite_id(world: World, encode: Any) -> None:
    body = world.json(f"/sites/{encode(world.site.id)}")
    assert_marketing(world, body)
    assert body["root"] == {}
    assert body["siteCollection"]["hostname"] == HOST


def test_bare_collection_guid_resolves_to_the_root_web(world: World) -> None:
    # graph-facts §2.2: GET /sites/{site-collection-guid} also resolves (graph-docs #6540).
    assert_marketing(world, world.json(f"/sites/{str(world.site.collection).upper()}"))
    drives = world.json(f"/sites/{world.site.collection}/drives")["value"]
    assert world.drive.id in {drive["id"] for drive in drives}


def test_unknown_site_ids(world: World) -> None:
    unknown = f"{HOST},00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002"
    assert_error(world, f"/sites/{unknown}", 404, "itemNotFound", None)
    assert_error(world, f"/sites/{unknown}/drives", 404, "itemNotFound", None)
    assert_error(world, "/sites/00000000-0000-0000-0000-000000000001", 404, "itemNotFound", None)


def test_site_ids_and_selected_properties(world: World) -> None:
    body = world.json(f"/sites/{world.site.id}?$select=id,sharepointIds")
    assert set(body) == {"@odata.context", "id", "sharepointIds"}
    assert body["sharepointIds"] == {
        "siteId": str(world.site.collection),
        "siteUrl": f"https://{HOST}/sites/marketing",
        "tenantId": world.tenant.tenant_id,
        "webId": str(world.site.web),
    }


# ---------------------------------------------------------------------- search and list


def test_search_matches_titles_and_paths(world: World) -> None:
    found = world.json("/sites?search=product")["value"]
    assert [site["displayName"] for site in found] == ["Product Team"]
    everything = world.json("/sites?search=*")["value"]
    assert len(everything) == 2
    assert world.json("/sites?search=nothing-like-this")["value"] == []


def add_sites(world: World, count: int) -> None:
    for number in range(count):
        world.tenant.add_site(HOST, f"/sites/extra-{number:02d}", f"Extra {number}")


def test_sites_list_pages_with_skiptoken_next_links(world: World) -> None:
    add_sites(world, 5)  # 7 sites in all
    seen: list[str] = []
    url = "/sites?$top=3"
    pages = 0
    while url:
        body = world.json(url)
        pages += 1
        assert len(body["value"]) <= 3
        seen += [site["id"] for site in body["value"]]
        url = body.get("@odata.nextLink", "")
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["$top"] == ["3"]  # the original query is kept
            assert "$skiptoken" in query
    assert pages == 3
    assert sorted(seen) == sorted(world.tenant.sites)


def test_search_results_page_too(world: World) -> None:
    add_sites(world, 4)
    first = world.json("/sites?search=extra&$top=3")
    assert len(first["value"]) == 3
    query = parse_qs(urlsplit(first["@odata.nextLink"]).query)
    assert query["search"] == ["extra"]
    rest = world.json(first["@odata.nextLink"])
    assert len(rest["value"]) == 1
    assert "@odata.nextLink" not in rest


# ---------------------------------------------------------------------- access


def test_sites_selected_app_reads_only_its_sites(world: World) -> None:
    app = world.tenant.add_app("selected", roles=[SITES_SELECTED])
    app.selected_sites.add(world.site.id)
    session = world.sign_in_as(app)
    product = next(s for s in world.tenant.sites.values() if s.path == "/teams/product")
    assert session.get(world.url(f"/sites/{world.site.id}")).status_code == 200
    denied = session.get(world.url(f"/sites/{product.id}/drives"))
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "accessDenied"
    # Search is not supported with Sites.Selected (graph-facts §2.3, site-search.md).
    assert session.get(world.url("/sites?search=marketing")).status_code == 403


def test_revoked_site_access_is_403_everywhere_in_the_site(world: World) -> None:
    client_id = world.emulator.registration.client_id
    item = world.item_path("Notes/todo.md")
    assert world.get(item).status_code == 200
    world.tenant.set_site_access(client_id, world.site, allowed=False)
    for path in (f"/sites/{world.site.id}", f"/drives/{world.drive.id}", item, item + "/content"):
        response = world.get(path)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "accessDenied"
    world.tenant.set_site_access(client_id, world.site, allowed=True)
    assert world.get(item).status_code == 200


def test_a_sites_selected_app_without_grants_is_denied(world: World) -> None:
    app = world.tenant.add_app("files only", roles=[SITES_SELECTED])
    session = world.sign_in_as(app)
    assert session.get(world.url(f"/drives/{world.drive.id}/root")).status_code == 403
    reader = world.sign_in_as(world.tenant.add_app("reader", roles=[SITES_READ_ALL]))
    assert reader.get(world.url(f"/drives/{world.drive.id}/root")).status_code == 200


# ---------------------------------------------------------------------- drives


def test_drives_hide_system_libraries_unless_system_is_selected(world: World) -> None:
    listed = world.json(f"/sites/{world.site.id}/drives")["value"]
    assert sorted(drive["name"] for drive in listed) == ["Brand Assets", "Documents"]
    assert all("system" not in drive for drive in listed)
    selected = world.json(f"/sites/{world.site.id}/drives?$select=id,name,system")["value"]
    by_name = {drive["name"]: drive for drive in selected}
    assert set(by_name) == {"Brand Assets", "Documents", "Style Library"}
    # The facet is what tells a client the extra entry is a system library (drive.md).
    assert by_name["Style Library"]["system"] == {}
    assert "system" not in by_name["Documents"]


def test_drive_name_is_the_title_and_weburl_the_url_segment(world: World) -> None:
    body = world.json(f"/drives/{world.drive.id}")
    assert body["name"] == "Documents"
    assert body["webUrl"] == f"https://{HOST}/sites/marketing/Shared%20Documents"
    assert body["driveType"] == "documentLibrary"
    assert "displayName" not in body  # drives have no displayName (graph-facts §2.4)
    assert DRIVE_ID.match(body["id"])
    assert len(body["id"]) == 66


def test_renaming_a_library_keeps_its_id_and_web_url(world: World) -> None:
    before = world.json(f"/drives/{world.drive.id}")
    world.tenant.rename_library(world.drive, "Dokumente")
    after = world.json(f"/drives/{world.drive.id}")
    assert after["name"] == "Dokumente"
    assert (after["id"], after["webUrl"]) == (before["id"], before["webUrl"])
    listed = world.json(f"/sites/{world.site.id}/drives")["value"]
    assert {drive["id"]: drive["name"] for drive in listed}[world.drive.id] == "Dokumente"


def test_drive_sharepoint_ids_only_when_selected(world: World) -> None:
    assert "sharepointIds" not in world.json(f"/drives/{world.drive.id}")
    body = world.json(f"/drives/{world.drive.id}?$select=id,sharepointIds")
    assert set(body) == {"@odata.context", "id", "sharepointIds"}
    assert body["sharepointIds"]["listId"] == str(world.drive.list_guid)
    assert body["sharepointIds"]["siteId"] == str(world.site.collection)


def test_drives_list_pages(world: World) -> None:
    first = world.json(f"/sites/{world.site.id}/drives?$top=1")
    assert len(first["value"]) == 1
    second = world.json(first["@odata.nextLink"])
    assert len(second["value"]) == 1
    assert "@odata.nextLink" not in second
    assert first["value"][0]["id"] != second["value"][0]["id"]


def test_unknown_and_deleted_drives(world: World) -> None:
    unknown = "b!" + "A" * 64
    assert_error(world, f"/drives/{unknown}", 404, "itemNotFound", None)
    assert_error(world, f"/drives/{unknown}/root/children", 404, "itemNotFound", None)
    assert_error(world, "/drives/not-a-drive-id", 400, "invalidRequest", None)
    gone = world.tenant.library("marketing", "Brand Assets")
    world.tenant.delete_library(gone)
    assert_error(world, f"/drives/{gone.id}", 404, "itemNotFound", None)


def test_enumerating_items_of_a_drive_is_400(world: World) -> None:
    # graph-facts §2.4: GET /drives/{id}/items -> 400 (graph-docs #18653).
    assert world.get(f"/drives/{world.drive.id}/items").status_code == 400
