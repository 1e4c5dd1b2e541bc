"""The routing table: every route names a handler, and URLs reach the handler they should."""

from __future__ import annotations

import pytest

from ms365sync.emulator import Tenant
from ms365sync.emulator.msgraph.responses import GraphService
from ms365sync.emulator.msgraph.urls import DIRECTORY_ROUTES, ROUTES
from ms365sync.emulator.transport.http import Headers, Request


def test_every_route_names_a_handler_of_the_service() -> None:
    service = GraphService(Tenant())
    for method, _pattern, handler, _cost in ROUTES + DIRECTORY_ROUTES:
        assert method == "GET"
        assert callable(getattr(service, handler))
    assert len(service.router.allowed_methods("/sites")) == 1


@pytest.mark.parametrize(
    ("path", "handler", "groups"),
    [
        ("/sites", "list_sites", {}),
        ("/sites/contoso.sharepoint.com:/sites/hr", "site_by_path", {"path": "/sites/hr"}),
        ("/sites/contoso.sharepoint.com:/sites/hr:/drives", "drives_by_path", {}),
        ("/sites/contoso.sharepoint.com:/sites/hr:/drive/root", "deep_path_rejected", {}),
        ("/sites/a,b,c/drives", "drives_of_site", {"site_ref": "a,b,c"}),
        ("/drives/b!x/root", "get_item", {"drive_id": "b!x", "item_id": None}),
        ("/drives/b!x/items/01A/children", "children", {"item_id": "01A"}),
        ("/drives/b!x/root:/a/b.txt:", "get_item_by_path", {"path": "a/b.txt"}),
        ("/drives/b!x/root:/a/b.txt:/content", "content", {"path": "a/b.txt"}),
        ("/drives/b!x/root/delta(token='t1')", "delta", {"fn_token": "t1"}),
        ("/drives/b!x/items/01A/permissions/p1", "permission", {"perm_id": "p1"}),
        ("/sites/a,b,c/lists/L1/columns", "list_columns", {"list_id": "L1"}),
        ("/drives/b!x/list/columns", "drive_list_columns", {"drive_id": "b!x"}),
        ("/groups/g1", "get_group", {"group_id": "g1"}),
        ("/groups/g1/members", "group_members", {"cast": None, "count": None}),
        (
            "/groups/g1/transitivemembers/microsoft.graph.user",
            "group_transitive_members",
            {"cast": "user"},
        ),
        ("/groups/g1/owners/$count", "group_owners", {"count": "/$count"}),
        (
            "/users/amy@contoso.onmicrosoft.com",
            "get_user",
            {"user_ref": "amy@contoso.onmicrosoft.com"},
        ),
    ],
)
def test_urls_reach_their_handler(path: str, handler: str, groups: dict[str, str]) -> None:
    found = GraphService(Tenant()).router.match("GET", path)
    assert found is not None
    route, matched = found
    assert route.name == handler
    for key, value in groups.items():
        assert matched[key] == value


@pytest.mark.parametrize(
    ("raw_path", "query", "cost"),
    [
        ("/v1.0/drives/b!x/root/delta", "", 2),
        ("/v1.0/drives/b!x/root/delta", "token=abc", 1),
        ("/v1.0/drives/b!x/root/delta(token='abc')", "", 1),
    ],
)
def test_delta_costs_less_with_a_token(raw_path: str, query: str, cost: int) -> None:
    route, _ = GraphService(Tenant()).router.match("GET", raw_path[len("/v1.0") :]) or (None, None)
    assert route is not None
    request = Request("GET", "graph.microsoft.com", raw_path, query, Headers())
    assert route.cost_for(request) == cost
