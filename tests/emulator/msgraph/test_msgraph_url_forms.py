"""The URL forms real, unmodified Graph clients send, answered as Graph answers their
canonical form: empty path segments, the `delta()` function call, drive routes under
`/sites/{site-id}/drives/{drive-id}` and `/sites/{site-id}/drive`, and `/me` without a user."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from ms365sync.emulator.msgraph.exceptions import GraphError
from ms365sync.emulator.msgraph.responses import GraphService
from ms365sync.emulator.msgraph.urls import DRIVE_ROUTES, SITE_DRIVE_ROUTES
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.http import Headers, Request
from support.emulator_graph_world import FILES, World, make_world

ME_APP_ONLY = "/me request is only valid with delegated authentication flow."
VOLATILE = ("@microsoft.graph.downloadUrl", "@odata.nextLink", "@odata.deltaLink", "innerError")


@pytest.fixture
def world() -> World:
    return make_world()


def stable(body: Any) -> Any:
    """A body without what legitimately differs between two requests: signed download URLs
    and links (whose path is the request's own)."""
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [stable(v) for v in body]
    return body


def answer(response: requests.Response) -> tuple[int, str, Any]:
    """Status, RU charged and the stable body (or the redirect's path) of a response."""
    if response.status_code == 302:
        content: Any = urlsplit(response.headers["Location"]).path
    else:
        content = stable(response.json())
    return response.status_code, response.headers.get("x-ms-resource-unit", ""), content


def suffixes(world: World) -> list[str]:
    """One request per drive route, as a path below `/drives/{drive-id}`."""
    file_id = world.item("Reports/Q1 summary.txt").id
    folder_id = world.item("Reports").id
    return [
        "",
        "/root",
        f"/items/{file_id}",
        "/root:/Reports/Q1 summary.txt",
        "/root:/Reports/Q1 summary.txt:",
        "/root/children",
        f"/items/{folder_id}/children",
        "/root:/Reports:/children",
        "/root/delta",
        f"/items/{world.drive.root.id}/delta",
        f"/items/{file_id}/permissions",
        f"/items/{file_id}/content",
        "/root:/Reports/Q1 summary.txt:/content",
        "/items",
    ]


# ---------------------------------------------------------------------- empty segments


def test_empty_path_segments_are_collapsed(world: World) -> None:
    """Microsoft's msgraph-sdk-python (kiota + httpx) and the O365 library put `//` after the
    version: kiota's templates are `{+baseurl}/drives/{drive%2Did}/root/children` over a base
    URL ending in `/`, so the request is `GET /v1.0//drives/{id}/root/children`. Graph
    ignores the empty segment."""
    for suffix in suffixes(world):
        canonical = world.get(f"/drives/{world.drive.id}{suffix}")
        doubled = world.get(f"//drives//{world.drive.id}{suffix.replace('/', '//', 1)}")
        assert answer(doubled) == answer(canonical), suffix
    site = world.json(f"//sites/{world.site.id}")
    assert site["id"] == world.site.id


def test_collapsed_paths_keep_the_query_and_page_without_empty_segments(world: World) -> None:
    body = world.json(f"//drives/{world.drive.id}//root:/Reports:/children?$top=2&$select=name")
    link = urlsplit(body["@odata.nextLink"])
    assert "//" not in link.path
    assert link.path == f"/v1.0/drives/{world.drive.id}/root:/Reports:/children"
    assert "%24top=2" in link.query or "$top=2" in link.query
    rest = world.json(body["@odata.nextLink"])
    names = [e["name"] for e in body["value"] + rest["value"]]
    assert names == ["2025", "deck.docx", "Q1 summary.txt"]


def test_a_download_reached_through_a_doubled_path_still_downloads(world: World) -> None:
    """Only Graph's routing collapses: the download host's `/_layouts/15/download.aspx`
    URL the redirect names is served as issued."""
    item = world.item("Reports/Q1 summary.txt")
    redirect = world.get(f"//drives/{world.drive.id}/items/{item.id}/content")
    assert redirect.status_code == 302
    assert urlsplit(redirect.headers["Location"]).path.endswith("/_layouts/15/download.aspx")
    download = world.session.get(redirect.headers["Location"])
    assert download.content == FILES["Reports/Q1 summary.txt"]


# ---------------------------------------------------------------------- delta()


def test_the_delta_function_call_without_arguments(world: World) -> None:
    """kiota's template is a function call with empty parentheses:
    `{+baseurl}/drives/{drive%2Did}/items/{driveItem%2Did}/delta(){?%24count,%24expand,...}`
    (msgraph-sdk-php `Drives/Item/Items/Item/Delta/DeltaRequestBuilder.php`, generated like
    msgraph-sdk-python's), sent with the root's id as the item."""
    canonical = world.delta().names()
    root_id = world.drive.root.id
    for path in ("/root/delta()", f"/items/{root_id}/delta()", f"/items/{root_id}/delta"):
        round_ = world.delta(f"/drives/{world.drive.id}{path}")
        assert round_.names() == canonical, path
        link = urlsplit(round_.delta_link)
        assert link.path == f"/v1.0/drives/{world.drive.id}{path.removesuffix('()')}"
        assert link.query.startswith("token=")
    response = world.get(world.item_path("Reports", "/delta()"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "notSupported"


def test_the_delta_function_call_with_a_token(world: World) -> None:
    """`delta(token='{token}')` (kiota's `DeltaWithTokenRequestBuilder`) is `?token=`: a
    deltaLink's token continues the round, "latest" starts from now."""
    root_path = f"/drives/{world.drive.id}/items/{world.drive.root.id}"
    latest = world.json(f"{root_path}/delta(token='latest')")
    assert latest["value"] == []
    token = urlsplit(latest["@odata.deltaLink"]).query.removeprefix("token=")
    world.tenant.touch(world.drive, "empty.txt")
    changed = world.delta(f"{root_path}/delta(token='{token}')")
    assert changed.names() == ["empty.txt", "root"]
    assert world.delta(changed.delta_link).names() == []


def test_a_percent_encoded_delta_call_is_the_same_call(world: World) -> None:
    """A client that percent-encodes the call's parentheses and quotes sends the same request:
    routing reads the decoded path, and the cost and the links follow it."""
    drive = f"/drives/{world.drive.id}"
    latest = world.get(f"{drive}/root/delta%28token=%27latest%27%29")
    assert (latest.status_code, latest.headers["x-ms-resource-unit"]) == (200, "1")
    assert urlsplit(latest.json()["@odata.deltaLink"]).path == f"/v1.0{drive}/root/delta"
    fresh = world.get(f"{drive}/root/delta%28%29")
    assert (fresh.status_code, fresh.headers["x-ms-resource-unit"]) == (200, "2")
    assert urlsplit(fresh.json()["@odata.deltaLink"]).path == f"/v1.0{drive}/root/delta"


# ---------------------------------------------------------------------- under a site


def site_refs(world: World) -> list[str]:
    """Every form of a site id the site routes accept."""
    site = world.site
    return [
        site.id,
        site.id.replace(",", "%2C"),
        site.id.upper().replace(site.hostname.upper(), site.hostname),
        str(site.collection),
    ]


def test_drive_routes_under_a_site_answer_as_under_drives(world: World) -> None:
    """Graph's docs address every drive route under a site too (`GET /sites/{siteId}/drive/
    root/children`); msgraph-sdk's `sites.by_site_id(..).drives.by_drive_id(..)` is kiota's
    `{+baseurl}/sites/{site%2Did}/drives/{drive%2Did}`. Both answer as `/drives/{drive-id}/...`
    does, at the same cost, for every form of the site id."""
    for suffix in suffixes(world):
        canonical = answer(world.get(f"/drives/{world.drive.id}{suffix}"))
        for ref in site_refs(world):
            scoped = world.get(f"/sites/{ref}/drives/{world.drive.id}{suffix}")
            assert answer(scoped) == canonical, (ref, suffix)
            if suffix:
                default = world.get(f"/sites/{ref}/drive{suffix}")
                assert answer(default) == canonical, (ref, suffix)


def test_links_under_a_site_keep_the_requests_form(world: World) -> None:
    """Graph's links keep the path the request used (its samples' deltaLinks are
    `/v1.0/me/drive/root/delta?token=...`)."""
    base = f"/sites/{world.site.id}/drive"
    page = world.json(f"{base}/root:/Reports:/children?$top=1")
    assert urlsplit(page["@odata.nextLink"]).path == f"/v1.0{base}/root:/Reports:/children"
    round_ = world.delta(f"{base}/root/delta?$top=2")
    assert len(round_.pages) > 1
    assert urlsplit(round_.pages[0]["@odata.nextLink"]).path == f"/v1.0{base}/root/delta"
    assert urlsplit(round_.delta_link).path == f"/v1.0{base}/root/delta"
    assert round_.names() == world.delta().names()


def test_the_o365_join_of_a_site_library(world: World) -> None:
    """O365 gives a site's libraries `main_resource='/sites/{id}'` (`O365/sharepoint.py`,
    `Site.site_storage`) and joins `Drive._endpoints` (`/drive/root/children`,
    `/drives/{id}/items/{item_id}`, `/drive/root:{item_path}`, `O365/drive.py`) onto its
    service URL, which ends in `/`: `GET /v1.0//sites/{id}/drive/root/children`."""
    item = world.item("Reports/Q1 summary.txt")
    site = f"//sites/{world.site.id}"
    children = world.json(f"{site}/drive/root/children")
    canonical = world.json(f"/drives/{world.drive.id}/root/children")
    assert stable(children) == stable(canonical)
    by_id = world.json(f"{site}/drives/{world.drive.id}/items/{item.id}")
    by_path = world.json(f"{site}/drive/root:/Reports/Q1 summary.txt")
    assert by_id["id"] == by_path["id"] == item.id


def test_a_drive_of_another_site_is_not_found(world: World) -> None:
    other = world.tenant.library("product", "Documents")
    for path in ("", "/root", "/root/children", "/root/delta"):
        response = world.get(f"/sites/{world.site.id}/drives/{other.id}{path}")
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "itemNotFound"


def test_every_drive_route_is_served_under_a_site() -> None:
    handlers = {handler for _m, _p, handler, _c in SITE_DRIVE_ROUTES}
    assert handlers == {handler for _m, _p, handler, _c in DRIVE_ROUTES}
    assert len(SITE_DRIVE_ROUTES) == 2 * len(DRIVE_ROUTES) - 1


def test_batch_members_accept_the_same_forms(world: World) -> None:
    """`$batch` members are routed like top-level requests, so every form works there too."""
    urls = {
        "1": f"//drives/{world.drive.id}/root",
        "2": f"/sites/{world.site.id}/drive/root/delta()",
        "3": f"/sites/{world.site.id}/drives/{world.drive.id}/items/{world.drive.root.id}",
    }
    body = {"requests": [{"id": i, "method": "GET", "url": u} for i, u in urls.items()]}
    root = world.drive.root.id
    for batch in ("/$batch", "//$batch"):  # the SDK posts its batches as `/v1.0//$batch`
        response = world.session.post(world.url(batch), json=body)
        assert response.status_code == 200, response.text
        answers = response.json()["responses"]
        statuses = {r["id"]: (r["status"], r["body"].get("id")) for r in answers}
        assert statuses == {"1": (200, root), "2": (200, None), "3": (200, root)}


# ---------------------------------------------------------------------- resource units


@pytest.mark.parametrize(
    ("canonical", "other"),
    [
        ("/drives/{d}/root/children", "//drives/{d}/root/children"),
        ("/drives/{d}/root/children", "/sites/{s}/drives/{d}/root/children"),
        ("/drives/{d}/root/children", "/sites/{s}/drive/root/children"),
        ("/drives/{d}/root", "/sites/{s}/drive/root"),
        ("/drives/{d}/root/delta", "/drives/{d}/root/delta()"),
        ("/drives/{d}/root/delta", "/drives/{d}/items/{r}/delta()"),
        ("/drives/{d}/root/delta", "/sites/{s}/drive/root/delta"),
        ("/drives/{d}/root/delta?token=latest", "/drives/{d}/root/delta(token='latest')"),
        ("/drives/{d}/root/permissions", "/sites/{s}/drives/{d}/root/permissions"),
        ("/drives/{d}/root:/empty.txt:/content", "/sites/{s}/drive/root:/empty.txt:/content"),
    ],
)
def test_each_form_costs_what_its_canonical_form_costs(
    world: World, canonical: str, other: str
) -> None:
    names = {"d": world.drive.id, "s": world.site.id, "r": world.drive.root.id}
    expected = world.get(canonical.format(**names))
    response = world.get(other.format(**names))
    assert response.status_code == expected.status_code
    assert response.headers["x-ms-resource-unit"] == expected.headers["x-ms-resource-unit"]
    service = GraphService(Tenant())
    path_of = {p: p.format(**names).partition("?")[0] for p in (canonical, other)}
    routes = [service.router.match("GET", path_of[p]) for p in (canonical, other)]
    assert routes[0] is not None and routes[1] is not None
    assert routes[0][0].name == routes[1][0].name


# ---------------------------------------------------------------------- /me


@pytest.mark.parametrize("path", ["/me", "/me/drive", "/me/drive/root/children", "//me/drive"])
def test_me_with_an_app_only_token(world: World, path: str) -> None:
    """An app-only token has no user: Graph answers 400 BadRequest (msgraph-sdk-php #1163:
    `{"error":{"code":"BadRequest","message":"/me request is only valid with delegated
    authentication flow."...`)."""
    response = world.get(path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("BadRequest", ME_APP_ONLY)


def test_me_drive_with_a_delegated_token_is_a_user_without_a_onedrive() -> None:
    """The emulator models no personal drives: a signed-in user's `/me/drive` answers as
    Graph does for a user whose OneDrive was never provisioned (alcionai/corso #966:
    `ResourceNotFound User's mysite not found.`)."""
    service = GraphService(Tenant())
    found = service.router.match("GET", "/me/drive/root")
    assert found is not None
    request = Request("GET", "graph.microsoft.com", "/v1.0/me/drive/root", "", Headers())
    request.context["claims"] = {"scp": "Files.Read.All", "oid": "0" * 8}
    with pytest.raises(GraphError) as raised:
        found[0].handler(request, **found[1])
    assert (raised.value.status, raised.value.code) == (404, "ResourceNotFound")
    assert raised.value.message == "User's mysite not found."
