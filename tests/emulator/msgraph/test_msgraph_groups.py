"""Graph's group and user endpoints as a membership snapshot meets them (graph-facts §15):
members, transitive members and owners, paged 100 by default and at most 999 with opaque
skip tokens, `$select`, OData casts, `$count` with `ConsistencyLevel`, Entra's costs on a
budget of their own, and 403 Authorization_RequestDenied without a directory role."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ms365sync.emulator.control.settings import EmulatorConfig, ThrottleConfig
from support.emulator_directory_world import DOMAIN, DirectoryWorld, build_tenant, make_world


@pytest.fixture(scope="module")
def big() -> DirectoryWorld:
    """All Staff has 2,000 members; the world is only read."""
    return make_world(build_tenant(bulk_members=2000))


@pytest.fixture
def world() -> DirectoryWorld:
    return make_world()


def pages(world: DirectoryWorld, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a collection, following nextLinks verbatim."""
    found = []
    url: str | None = path
    while url is not None:
        response = world.graph(url, **kwargs)
        assert response.status_code == 200, response.text
        found.append(response.json())
        url = found[-1].get("@odata.nextLink")
        assert len(found) < 100
    return found


def group_id(world: DirectoryWorld, name: str) -> str:
    return world.tenant.group(name).id


def error_of(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    return str(error["message"])


def test_paging_through_two_thousand_members(big: DirectoryWorld) -> None:
    staff = group_id(big, "All Staff")
    default = pages(big, f"/groups/{staff}/members")
    assert [len(page["value"]) for page in default] == [100] * 20
    top = pages(big, f"/groups/{staff}/members?$top=999&$select=id,userPrincipalName")
    assert [len(page["value"]) for page in top] == [999, 999, 2]
    listed = [member["id"] for page in top for member in page["value"]]
    assert len(set(listed)) == 2000
    assert set(listed) == set(big.tenant.group("All Staff").members)
    assert listed == sorted(listed)  # a stable order is what makes the cursor correct
    assert {m["id"] for page in default for m in page["value"]} == set(listed)


def test_a_next_link_is_the_same_request_with_an_opaque_skip_token(big: DirectoryWorld) -> None:
    staff = group_id(big, "All Staff")
    first = pages(big, f"/groups/{staff}/transitiveMembers?$top=999&$select=id")[0]
    link = urlsplit(first["@odata.nextLink"])
    assert (link.scheme, link.netloc, link.path) == (
        "https",
        "graph.microsoft.com",
        f"/v1.0/groups/{staff}/transitiveMembers",
    )
    query = parse_qs(link.query)
    assert query["$top"] == ["999"] and query["$select"] == ["id"]
    assert query["$skiptoken"][0].startswith("RFNwdA")  # "DSpt", as real tokens decode


def test_members_change_between_pages(world: DirectoryWorld) -> None:
    """A member added while a client pages is listed if it sorts after the cursor, never
    twice; a removed one that was not reached yet is not listed."""
    sales = world.tenant.group("Sales")
    first = world.graph(f"/groups/{sales.id}/members?$top=1").json()
    world.tenant.add_group_member(sales, "user:Ben Brown")
    rest = pages(world, first["@odata.nextLink"])
    listed = [first["value"][0]["id"], *(m["id"] for page in rest for m in page["value"])]
    assert len(listed) == len(set(listed))
    assert set(listed) <= set(sales.members)


@pytest.mark.parametrize("top", ["0", "1000", "ten"])
def test_top_outside_one_to_999_is_refused(world: DirectoryWorld, top: str) -> None:
    response = world.graph(f"/groups/{group_id(world, 'Sales')}/members?$top={top}")
    message = error_of(response, 400, "Request_UnsupportedQuery")
    assert message == f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."


def test_members_carry_their_type_and_users_their_default_properties(
    world: DirectoryWorld,
) -> None:
    body = world.graph(f"/groups/{group_id(world, 'Sales')}/members").json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
    by_type = {member["@odata.type"]: member for member in body["value"]}
    assert set(by_type) == {"#microsoft.graph.user", "#microsoft.graph.group"}
    amy = by_type["#microsoft.graph.user"]
    assert set(amy) - {"@odata.type"} == {
        *("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone"),
        *("officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"),
    }
    assert (amy["userPrincipalName"], amy["givenName"], amy["surname"]) == (
        f"amy@{DOMAIN}",
        "Amy",
        "Adams",
    )
    emea = by_type["#microsoft.graph.group"]
    assert (emea["displayName"], emea["groupTypes"], emea["securityEnabled"]) == (
        "Sales EMEA",
        [],
        True,
    )
    assert emea["securityIdentifier"].startswith("S-1-12-1-")


def test_transitive_members_reach_through_nesting(world: DirectoryWorld) -> None:
    sales = group_id(world, "Sales")
    body = world.graph(f"/groups/{sales}/transitiveMembers?$select=displayName,userType").json()
    assert body["@odata.context"].endswith("$metadata#directoryObjects(displayName,userType)")
    listed = {member["displayName"]: member for member in body["value"]}
    assert set(listed) == {"Amy Adams", "Sales EMEA", "Cho Chen", "Gus Guest"}
    assert listed["Gus Guest"]["userType"] == "Guest"
    assert listed["Amy Adams"]["userType"] == "Member"
    assert "userType" not in listed["Sales EMEA"]  # a group has no such property


def test_a_cycle_lists_each_member_once(world: DirectoryWorld) -> None:
    tenant = world.tenant
    tenant.add_group_member(tenant.group("Sales EMEA"), "group:Sales")
    body = world.graph(f"/groups/{group_id(world, 'Sales EMEA')}/transitiveMembers").json()
    names = sorted(member["displayName"] for member in body["value"])
    assert names == ["Amy Adams", "Cho Chen", "Gus Guest", "Sales"]


def test_casts_keep_one_kind_and_drop_the_type_annotation(world: DirectoryWorld) -> None:
    sales = group_id(world, "Sales")
    users = world.graph(f"/groups/{sales}/transitiveMembers/microsoft.graph.user").json()
    assert users["@odata.context"].endswith("$metadata#users")
    assert sorted(u["displayName"] for u in users["value"]) == [
        "Amy Adams",
        "Cho Chen",
        "Gus Guest",
    ]
    assert all("@odata.type" not in u for u in users["value"])
    groups = world.graph(f"/groups/{sales}/TRANSITIVEMEMBERS/microsoft.graph.group").json()
    assert [g["displayName"] for g in groups["value"]] == ["Sales EMEA"]
    wrong = world.graph(f"/groups/{sales}/members/microsoft.graph.user?$select=groupTypes")
    assert "on type 'microsoft.graph.user'" in error_of(wrong, 400, "Request_BadRequest")


def test_counting_needs_consistency_level_eventual(world: DirectoryWorld) -> None:
    sales = group_id(world, "Sales")
    eventual = {"ConsistencyLevel": "eventual"}
    counted = world.graph(f"/groups/{sales}/transitiveMembers?$count=true", headers=eventual)
    assert counted.json()["@odata.count"] == 4
    users = f"/groups/{sales}/transitiveMembers/microsoft.graph.user"
    plain = world.graph(f"{users}/$count", headers=eventual)
    assert (plain.status_code, plain.text, plain.headers["Content-Type"]) == (
        200,
        "3",
        "text/plain",
    )
    refused = world.graph(f"/groups/{sales}/members?$count=true")
    assert error_of(refused, 400, "Request_BadRequest") == "$count is not currently supported."


def test_owners_and_the_group_itself(world: DirectoryWorld) -> None:
    project = group_id(world, "Project X")
    owners = world.graph(f"/groups/{project}/owners").json()["value"]
    assert [owner["userPrincipalName"] for owner in owners] == [f"amy@{DOMAIN}"]
    group = world.graph(f"/groups/{project}").json()
    assert group["@odata.context"].endswith("$metadata#groups/$entity")
    assert (group["groupTypes"], group["mailEnabled"], group["visibility"]) == (
        ["Unified"],
        True,
        "Private",
    )
    picked = world.graph(f"/groups/{project}?$select=id,displayName").json()
    assert set(picked) == {"@odata.context", "id", "displayName"}


def test_a_user_by_id_or_principal_name(world: DirectoryWorld) -> None:
    gus = world.tenant.user("gus@fabrikam.com")
    by_name = world.graph(f"/users/{gus.user_principal_name.replace('#', '%23')}")
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["id"] == gus.id
    selected = world.graph(f"/users/{gus.id}?$select=userType,mail,externalUserState").json()
    assert (selected["userType"], selected["mail"], selected["externalUserState"]) == (
        "Guest",
        "gus@fabrikam.com",
        "Accepted",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/groups/{sales}",
        "/groups/{sales}/members",
        "/groups/{sales}/transitiveMembers",
        "/groups/{sales}/owners",
    ],
)
def test_without_a_directory_role_the_app_is_denied(world: DirectoryWorld, path: str) -> None:
    response = world.graph(path.format(sales=group_id(world, "Sales")), app="sites only")
    message = error_of(response, 403, "Authorization_RequestDenied")
    assert message == "Insufficient privileges to complete the operation."
    user = world.graph(f"/users/{world.tenant.user('Amy Adams').id}", app="groups only")
    error_of(user, 403, "Authorization_RequestDenied")


def test_an_app_that_may_not_read_users_sees_their_ids_only(world: DirectoryWorld) -> None:
    sales = group_id(world, "Sales")
    body = world.graph(f"/groups/{sales}/members", app="groups only").json()
    amy = next(m for m in body["value"] if m["@odata.type"] == "#microsoft.graph.user")
    assert amy["id"] == world.tenant.user("Amy Adams").id
    assert {key for key, value in amy.items() if value is not None} == {"@odata.type", "id"}
    group = next(m for m in body["value"] if m["@odata.type"] == "#microsoft.graph.group")
    assert group["displayName"] == "Sales EMEA"  # groups stay readable


def test_unknown_and_malformed_ids(world: DirectoryWorld) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    message = error_of(world.graph(f"/groups/{unknown}/members"), 404, "Request_ResourceNotFound")
    assert message == (
        f"Resource '{unknown}' does not exist or one of its queried reference-property "
        "objects are not present."
    )
    garbage = world.graph("/groups/not-a-guid/members")
    assert error_of(garbage, 400, "Request_BadRequest") == "Invalid object identifier 'not-a-guid'."
    error_of(world.graph("/users/nobody@contoso.onmicrosoft.com"), 404, "Request_ResourceNotFound")
    bad_token = world.graph(f"/groups/{group_id(world, 'Sales')}/members?$skiptoken=xyz")
    error_of(bad_token, 400, "Request_BadRequest")


@pytest.mark.parametrize(
    ("path", "cost"),
    [
        ("/groups/{sales}/members", 3),
        ("/groups/{sales}/members?$select=id", 2),
        ("/groups/{sales}/members?$select=id&$top=10", 1),
        ("/groups/{sales}/transitiveMembers", 5),
        ("/groups/{sales}/transitiveMembers?$select=id,userPrincipalName&$top=999", 4),
        ("/groups/{sales}", 1),
        ("/groups/{sales}/owners", 1),
    ],
)
def test_entra_costs(world: DirectoryWorld, path: str, cost: int) -> None:
    response = world.graph(path.format(sales=group_id(world, "Sales")))
    assert response.status_code == 200
    assert response.headers["x-ms-resource-unit"] == str(cost)


def test_directory_reads_have_a_budget_of_their_own(world: DirectoryWorld) -> None:
    """Entra throttles apart from SharePoint and answers 429 with Retry-After and its scope
    headers, without SharePoint's RateLimit-* headers."""
    config = EmulatorConfig(throttle=ThrottleConfig(per_minute=10))
    tight = make_world(world.tenant, config)
    members = f"/groups/{group_id(tight, 'Sales')}/transitiveMembers"
    assert tight.graph(members).status_code == 200  # 5
    assert tight.graph(members).status_code == 200  # 10
    refused = tight.graph(members)
    assert error_of(refused, 429, "TooManyRequests") == "Please retry again later."
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert refused.headers["x-ms-throttle-scope"].startswith("Tenant_Application/ReadWrite/")
    assert "RateLimit-Limit" not in refused.headers
    sites = tight.graph("/sites?$top=1")
    assert sites.status_code == 200  # SharePoint's budget is untouched


def test_member_lists_come_in_batch_like_any_read(world: DirectoryWorld) -> None:
    sales, project = group_id(world, "Sales"), group_id(world, "Project X")
    bearer = world.bearer("snapshot")
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": f"/groups/{sales}/transitiveMembers?$select=id"},
            {"id": "2", "method": "GET", "url": f"/groups/{project}/owners?$select=id"},
        ]
    }
    response = world.session.post(
        "https://graph.microsoft.com/v1.0/$batch",
        json=batch,
        headers={"Authorization": f"Bearer {bearer}"},
    )
    answers = {answer["id"]: answer for answer in response.json()["responses"]}
    assert answers["1"]["status"] == answers["2"]["status"] == 200
    assert len(answers["1"]["body"]["value"]) == 4
    assert answers["1"]["headers"]["x-ms-resource-unit"] == "4"


def test_query_options_the_emulator_does_not_run_are_refused(world: DirectoryWorld) -> None:
    response = world.graph(
        f"/groups/{group_id(world, 'Sales')}/members?$filter=userType eq 'Guest'"
    )
    assert response.status_code == 501
    assert "$filter" in response.json()["error"]["message"]
