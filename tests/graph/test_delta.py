"""Delta rounds: the first request, nextLinks and deltaLinks verbatim, Prefer, 410 on any page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from ms365sync.errors import DeltaExpiredError, GraphError
from ms365sync.graph import GraphClient
from ms365sync.graph.client import PREFER_SHARING

GRAPH = "https://graph.microsoft.com/v1.0"
DELTA = f"{GRAPH}/drives/b!drive/root/delta"
PAGE2 = f"{GRAPH}/drives/b!drive/root/delta?$select=id%2cname&token=MzslMjM0Oy%7EUyMzE7"
PAGE3 = f"{GRAPH}/drives/b!drive/root/delta?token=MzslMjM0OyUyMzE7Mz-page3"
FINAL = f"{GRAPH}/drives/b!drive/root/delta?token=MzslMjM0OyUyMzE7MzsyM2-final"


def _page(
    ids: list[str], *, next_link: str | None = None, delta_link: str | None = None
) -> dict[str, object]:
    body: dict[str, object] = {
        "value": [{"id": item, "name": f"{item}.txt", "file": {}} for item in ids]
    }
    if next_link:
        body["@odata.nextLink"] = next_link
    if delta_link:
        body["@odata.deltaLink"] = delta_link
    return body


def _three_pages(rsps: responses.RequestsMock) -> None:
    rsps.get(DELTA, json=_page(["a", "b"], next_link=PAGE2))
    rsps.get(DELTA, json=_page(["c"], next_link=PAGE3))
    rsps.get(DELTA, json=_page(["d"], delta_link=FINAL))


def test_full_round_first_request_selects_what_the_sync_needs(client: GraphClient, rsps) -> None:
    _three_pages(rsps)
    pages = list(client.delta("b!drive", page_size=999))
    assert [item.id for page in pages for item in page.value] == ["a", "b", "c", "d"]
    assert pages[-1].delta_link == FINAL
    assert [page.is_last for page in pages] == [False, False, True]
    first = urlsplit(rsps.calls[0].request.url)
    assert first.path == "/v1.0/drives/b!drive/root/delta"
    query = parse_qs(first.query)
    assert query["$top"] == ["999"]
    selected = set(query["$select"][0].split(","))
    required = {"id", "name", "size", "eTag", "cTag", "lastModifiedDateTime", "parentReference"}
    assert required | {"deleted", "file", "folder", "package", "root", "shared"} <= selected
    # Each file's pre-authenticated URL, so a download needs no /content round trip.
    assert "content.downloadUrl" in selected


def test_next_links_are_followed_verbatim_with_the_prefer_header(client, rsps) -> None:
    _three_pages(rsps)
    list(client.delta("b!drive"))
    assert [call.request.url for call in rsps.calls][1:] == [PAGE2, PAGE3]
    assert PREFER_SHARING == (
        "hierarchicalsharing, deltashowremovedasdeleted, "
        "deltatraversepermissiongaps, deltashowsharingchanges"
    )
    assert all(call.request.headers["Prefer"] == PREFER_SHARING for call in rsps.calls)


def test_prefer_can_be_turned_off(client, rsps) -> None:
    rsps.get(DELTA, json=_page([], delta_link=FINAL))
    list(client.delta("b!drive", prefer_sharing=False))
    assert "Prefer" not in rsps.calls[0].request.headers


def test_a_stored_delta_link_is_requested_verbatim(client, rsps) -> None:
    stored = f"{GRAPH}/drives/b!drive/root/delta?$select=*%2csharepointIds&token=MzslMjM0%7E"
    rsps.get(DELTA, json=_page(["x"], delta_link=FINAL))
    pages = list(client.delta("b!drive", stored))
    assert rsps.calls[0].request.url == stored
    assert pages[0].delta_link == FINAL


def test_pages_stream_one_request_at_a_time(client, rsps) -> None:
    _three_pages(rsps)
    rounds = client.delta("b!drive")
    first = next(rounds)
    assert [item.id for item in first.value] == ["a", "b"]
    assert len(rsps.calls) == 1
    next(rounds)
    assert len(rsps.calls) == 2


def test_410_on_the_first_page(client, rsps, load) -> None:
    stored = f"{GRAPH}/drives/b!drive/root/delta?token=old"
    rsps.get(DELTA, status=410, json=load("04-delta-410-resyncRequired.real-2020.json"))
    with pytest.raises(DeltaExpiredError) as caught:
        list(client.delta("b!drive", stored))
    assert caught.value.status == 410
    assert caught.value.code == "resyncRequired"
    assert len(rsps.calls) == 1  # not retried


def test_410_on_the_third_page_after_two_pages_were_yielded(client, rsps, load) -> None:
    rsps.get(DELTA, json=_page(["a"], next_link=PAGE2))
    rsps.get(DELTA, json=_page(["b"], next_link=PAGE3))
    rsps.get(DELTA, status=410, json=load("04-delta-410-resyncRequired.real-2022.json"))
    seen = []
    with pytest.raises(DeltaExpiredError):
        for page in client.delta("b!drive"):
            seen.extend(item.id for item in page.value)
    assert seen == ["a", "b"]
    assert len(rsps.calls) == 3


def test_a_page_without_links_is_an_error(client, rsps) -> None:
    rsps.get(DELTA, json={"value": []})
    with pytest.raises(GraphError) as caught:
        list(client.delta("b!drive"))
    assert caught.value.code == "invalidResponse"


def test_delta_items_keep_deleted_and_sharing_markers(client, rsps) -> None:
    rsps.get(
        DELTA,
        json={
            "value": [
                {"id": "child", "name": "c.txt", "file": {}, "parentReference": {"id": "parent"}},
                {"id": "gone", "deleted": {}, "size": 0},
                {
                    "id": "shared",
                    "name": "s.txt",
                    "file": {},
                    "@microsoft.graph.sharedChanged": "True",
                },
                {
                    "id": "root",
                    "name": "root",
                    "root": {},
                    "shared": {},
                    "folder": {"childCount": 3},
                },
            ],
            "@odata.deltaLink": FINAL,
        },
    )
    (page,) = list(client.delta("b!drive"))
    child, gone, shared, root = page.value
    assert child.parent_reference is not None
    assert child.parent_reference.id == "parent"
    assert gone.is_deleted
    assert gone.name is None
    assert shared.shared_changed
    assert root.is_root
    assert root.shared is not None
