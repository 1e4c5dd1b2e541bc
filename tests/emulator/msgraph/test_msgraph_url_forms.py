"""The URL forms real, unmodified Graph clients send, answered as Graph answers their
canonical form: empty path segments and the `delta()` function call."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from support.emulator_graph_world import FILES, World, make_world

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
