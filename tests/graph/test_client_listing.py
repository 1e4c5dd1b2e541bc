"""Site and library resolution primitives and collection paging."""

from __future__ import annotations

import pytest
import responses

from ms365sync.errors import NotFoundError
from ms365sync.graph import GraphClient

GRAPH = "https://graph.microsoft.com/v1.0"
SITE_ID = (
    "contoso.sharepoint.com,"
    "2c712604-1370-44e7-a1f5-426573fda80a,2d2244c3-251a-49ea-93a8-39e1c3a060fe"
)
SITE = {"id": SITE_ID, "name": "marketing", "displayName": "Marketing"}


def test_site_by_path_uses_the_colon_form(
    client: GraphClient, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{GRAPH}/sites/contoso.sharepoint.com:/sites/marketing", json=SITE)
    site = client.get_site_by_path("contoso.sharepoint.com", "/sites/marketing")
    assert site.id == SITE_ID
    assert rsps.calls[0].request.url == f"{GRAPH}/sites/contoso.sharepoint.com:/sites/marketing"


def test_site_by_path_encodes_spaces_and_accepts_a_url_as_host(client, rsps) -> None:
    rsps.get(f"{GRAPH}/sites/contoso.sharepoint.com:/sites/Team%20A", json=SITE)
    client.get_site_by_path("https://contoso.sharepoint.com/", "sites/Team A/")
    assert rsps.calls[0].request.url == f"{GRAPH}/sites/contoso.sharepoint.com:/sites/Team%20A"


def test_root_site_without_a_path(client, rsps) -> None:
    rsps.get(f"{GRAPH}/sites/contoso.sharepoint.com", json=SITE)
    client.get_site_by_path("contoso.sharepoint.com", "/")
    assert rsps.calls[0].request.url == f"{GRAPH}/sites/contoso.sharepoint.com"


def test_unknown_site_path_is_not_found(client, rsps, load) -> None:
    rsps.get(
        f"{GRAPH}/sites/contoso.sharepoint.com:/sites/nope",
        status=404,
        json=load("01-site-getbypath-404.real.json"),
    )
    with pytest.raises(NotFoundError) as caught:
        client.get_site_by_path("contoso.sharepoint.com", "/sites/nope")
    assert "does not represent a site" in str(caught.value)


def test_site_id_commas_are_encoded_in_paths(client, rsps) -> None:
    encoded = SITE_ID.replace(",", "%2C")
    rsps.get(f"{GRAPH}/sites/{encoded}", json=SITE)
    rsps.get(
        f"{GRAPH}/sites/{encoded}/drives", json={"value": [{"id": "b!one", "name": "Documents"}]}
    )
    client.get_site(SITE_ID)
    drives = list(client.list_drives(SITE_ID))
    assert [drive.id for drive in drives] == ["b!one"]
    assert rsps.calls[0].request.url == f"{GRAPH}/sites/{encoded}"
    assert rsps.calls[1].request.url == f"{GRAPH}/sites/{encoded}/drives"


def test_search_sites_follows_next_link_verbatim_and_accepts_short_pages(
    client, rsps, load
) -> None:
    next_link = f"{GRAPH}/sites?search=team%20a&$skiptoken=UGFnZWQ9VFJVRSZwX0lEPTE3%2c%7E&$top=2"
    first = load("01-site-search-200.docs.json")
    first["@odata.nextLink"] = next_link
    rsps.get(f"{GRAPH}/sites", json=first)
    second = {"value": [SITE]}  # shorter than $top; last page has no nextLink
    rsps.get(f"{GRAPH}/sites", json=second)
    sites = list(client.search_sites("team a"))
    assert [site.id for site in sites][-1] == SITE_ID
    assert len(sites) == 3
    assert rsps.calls[0].request.url == f"{GRAPH}/sites?search=team%20a"
    assert rsps.calls[1].request.url == next_link  # byte for byte, nothing re-appended


def test_iter_collection_sends_params_only_on_the_first_page(client, rsps) -> None:
    next_link = f"{GRAPH}/drives/b!x/root/children?$top=2&$skiptoken=abc"
    rsps.get(
        f"{GRAPH}/drives/b!x/root/children",
        json={"value": [{"id": "1"}, {"id": "2"}], "@odata.nextLink": next_link},
    )
    rsps.get(f"{GRAPH}/drives/b!x/root/children", json={"value": [{"id": "3"}]})
    items = list(client.iter_collection("drives/b!x/root/children", {"$top": 2}))
    assert [item["id"] for item in items] == ["1", "2", "3"]
    assert [call.request.url for call in rsps.calls] == [
        f"{GRAPH}/drives/b!x/root/children?$top=2",
        next_link,
    ]


def test_list_sites_pages(client, rsps, load) -> None:
    page = load("01-sites-list-nextlink.real-fragment.json")
    rsps.get(f"{GRAPH}/sites", json=page)
    rsps.get(f"{GRAPH}/sites", json={"value": []})
    assert len(list(client.list_sites())) == 1
    assert rsps.calls[1].request.url == page["@odata.nextLink"]


def test_get_item_and_drive(client, rsps, load) -> None:
    item = load("03-driveitem-sharepoint-file.real-2024.json")
    rsps.get(f"{GRAPH}/drives/b!x/items/{item['id']}", json=item)
    assert client.get_item("b!x", item["id"]).quick_xor_hash == "S3IkNDfzFTntRKk90ttbIB2/PJw="
