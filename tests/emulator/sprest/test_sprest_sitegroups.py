"""SharePoint REST's site groups and their members, in the shape each `Accept` asks for
(graph-facts §16.3, §16.5): SP.Group and SP.User entities, the claims of a group-connected
site, guests, Everyone except external users, `$expand=Users`, `$select`, `$top`, and
SharePoint's own OData errors."""

from __future__ import annotations

from typing import Any

import pytest

from ms365sync.emulator.tenant.model import Role
from support.emulator_directory_world import DOMAIN, DirectoryWorld, make_world

SALES = "/sites/sales/_api"
PROJECT = "/teams/projectx/_api"
NOMETADATA = "application/json;odata=nometadata"
VERBOSE = "application/json;odata=verbose"
USER_FIELDS = [
    *("Id", "IsHiddenInUI", "LoginName", "Title", "PrincipalType", "Email", "Expiration"),
    *("IsEmailAuthenticationGuestUser", "IsShareByEmailGuestUser", "IsSiteAdmin", "UserId"),
    "UserPrincipalName",
]


@pytest.fixture
def world() -> DirectoryWorld:
    return make_world()


def value(world: DirectoryWorld, path: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = world.sharepoint(path, **kwargs)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["value"]
    return listed


def test_the_default_groups_of_a_site(world: DirectoryWorld) -> None:
    response = world.sharepoint(f"{SALES}/web/sitegroups")
    assert response.headers["Content-Type"] == (
        "application/json;odata=nometadata;streaming=true;charset=utf-8"
    )
    groups = response.json()["value"]
    assert [(g["Id"], g["Title"], g["PrincipalType"]) for g in groups] == [
        (3, "Sales Owners", 8),
        (4, "Sales Visitors", 8),
        (5, "Sales Members", 8),
    ]
    assert all(g["LoginName"] == g["Title"] and g["OwnerTitle"] == "Sales Owners" for g in groups)
    assert groups[0]["Description"].endswith(
        "full control permissions to the SharePoint site: Sales"
    )


def test_members_of_a_group_connected_site_are_the_group_claims(world: DirectoryWorld) -> None:
    project = world.tenant.group("Project X")
    owners = value(world, f"{PROJECT}/web/sitegroups/getbyid(3)/users")
    members = value(world, f"{PROJECT}/web/associatedmembergroup/users")
    assert [list(entry) for entry in owners + members] == [USER_FIELDS, USER_FIELDS]
    claim = f"c:0o.c|federateddirectoryclaimprovider|{project.id}"
    assert (owners[0]["LoginName"], owners[0]["Title"], owners[0]["PrincipalType"]) == (
        f"{claim}_o",
        "Project X Owners",
        4,
    )
    assert owners[0]["IsSiteAdmin"] is True  # the group's owners administer its site
    assert (members[0]["LoginName"], members[0]["Title"], members[0]["Email"]) == (
        claim,
        "Project X Members",
        f"projectx@{DOMAIN}",
    )
    assert members[0]["UserId"] is None and members[0]["UserPrincipalName"] is None


def test_users_security_groups_and_everyone_except_external(world: DirectoryWorld) -> None:
    owners = value(world, f"{SALES}/web/SiteGroups/GetById(3)/Users")
    members = value(world, f"{SALES}/web/sitegroups(5)/users")
    visitors = value(world, f"{SALES}/web/sitegroups/getbyname('Sales Visitors')/users")
    amy = owners[0]
    assert (amy["LoginName"], amy["PrincipalType"], amy["UserPrincipalName"]) == (
        f"i:0#.f|membership|amy@{DOMAIN}",
        1,
        f"amy@{DOMAIN}",
    )
    assert amy["UserId"]["NameIdIssuer"] == "urn:federation:microsoftonline"
    assert len(amy["UserId"]["NameId"]) == 16
    sales = world.tenant.group("Sales")
    assert [(m["LoginName"], m["Title"], m["PrincipalType"], m["Email"]) for m in members] == [
        (f"c:0t.c|tenant|{sales.id}", "Sales", 4, "")
    ]
    assert [(v["LoginName"], v["Title"], v["PrincipalType"]) for v in visitors] == [
        (
            f"c:0-.f|rolemanager|spo-grid-all-users/{world.tenant.tenant_id}",
            "Everyone except external users",
            4,
        )
    ]


def test_a_guest_in_a_site_group(world: DirectoryWorld) -> None:
    (gus,) = value(world, f"{PROJECT}/web/associatedvisitorgroup/users")
    assert gus["LoginName"] == f"i:0#.f|membership|gus_fabrikam.com#ext#@{DOMAIN}"
    assert gus["UserPrincipalName"] == f"gus_fabrikam.com#EXT#@{DOMAIN}"
    assert gus["Email"] == "gus@fabrikam.com"
    assert gus["PrincipalType"] == 1


def test_the_verbose_shape(world: DirectoryWorld) -> None:
    response = world.sharepoint(f"{SALES}/web/sitegroups/getbyid(3)/users", accept=VERBOSE)
    assert response.headers["Content-Type"] == "application/json;odata=verbose;charset=utf-8"
    (amy,) = response.json()["d"]["results"]
    uri = f"https://contoso.sharepoint.com/sites/sales/_api/Web/GetUserById({amy['Id']})"
    assert amy["__metadata"] == {"id": uri, "uri": uri, "type": "SP.User"}
    assert amy["Groups"] == {"__deferred": {"uri": f"{uri}/Groups"}}
    assert amy["UserId"]["__metadata"] == {"type": "SP.UserIdInfo"}
    group = world.sharepoint(f"{SALES}/web/sitegroups/getbyid(3)", accept=VERBOSE).json()["d"]
    assert group["__metadata"]["type"] == "SP.Group"
    assert group["Users"]["__deferred"]["uri"].endswith("/Web/SiteGroups/GetById(3)/Users")


@pytest.mark.parametrize("accept", ["application/json", "application/json;odata=minimalmetadata"])
def test_the_minimal_metadata_shape(world: DirectoryWorld, accept: str) -> None:
    body = world.sharepoint(f"{SALES}/web/sitegroups", accept=accept).json()
    web = "https://contoso.sharepoint.com/sites/sales"
    assert body["odata.metadata"] == f"{web}/_api/$metadata#SP.ApiData.Groups"
    first = body["value"][0]
    assert (first["odata.type"], first["odata.id"], first["odata.editLink"]) == (
        "SP.Group",
        f"{web}/_api/Web/SiteGroups/GetById(3)",
        "Web/SiteGroups/GetById(3)",
    )
    single = world.sharepoint(f"{SALES}/web/associatedownergroup", accept=accept).json()
    assert single["odata.metadata"].endswith("#SP.ApiData.Groups/@Element")
    assert single["Id"] == 3


def test_the_full_metadata_shape_links_navigations(world: DirectoryWorld) -> None:
    accept = "application/json;odata=fullmetadata"
    (amy,) = value(world, f"{SALES}/web/sitegroups/getbyid(3)/users", accept=accept)
    assert amy["Groups@odata.navigationLinkUrl"] == f"Web/GetUserById({amy['Id']})/Groups"
    assert amy["UserId"]["odata.type"] == "SP.UserIdInfo"


def test_expand_users_lists_every_group_with_its_members(world: DirectoryWorld) -> None:
    """One request per site for all its groups' members."""
    groups = value(world, f"{SALES}/web/sitegroups?$expand=Users&$select=Id,Title,Users/LoginName")
    assert [set(g) for g in groups] == [{"Users", "Id", "Title"}] * 3
    logins = {g["Title"]: [u["LoginName"] for u in g["Users"]] for g in groups}
    assert logins["Sales Owners"] == [f"i:0#.f|membership|amy@{DOMAIN}"]
    assert len(logins["Sales Visitors"]) == len(logins["Sales Members"]) == 1
    verbose = world.sharepoint(f"{SALES}/web/sitegroups?$expand=Users", accept=VERBOSE).json()
    assert "results" in verbose["d"]["results"][0]["Users"]
    owner = world.sharepoint(f"{SALES}/web/sitegroups/getbyid(4)?$expand=Owner").json()
    assert owner["Owner"]["Title"] == "Sales Owners"


def test_site_users_and_one_user(world: DirectoryWorld) -> None:
    world.tenant.grant(world.tenant.library("sales", "Documents"), "", "user:Ben Brown", Role.READ)
    users = value(world, f"{SALES}/web/siteusers")
    titles = [user["Title"] for user in users]
    assert {"Amy Adams", "Sales", "Everyone except external users", "Ben Brown"} == set(titles)
    ben = next(user for user in users if user["Title"] == "Ben Brown")
    one = world.sharepoint(f"{SALES}/web/getuserbyid({ben['Id']})").json()
    assert one == ben
    assert world.sharepoint(f"{SALES}/web/siteusers/getbyid({ben['Id']})").json() == ben


def test_select_and_top(world: DirectoryWorld) -> None:
    users = value(world, f"{SALES}/web/siteusers?$select=LoginName,id&$top=2")
    assert len(users) == 2 and all(set(user) == {"Id", "LoginName"} for user in users)


def sharepoint_error(response: Any, status: int, code: str, *, verbose: bool = False) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    error = body["error"] if verbose else body["odata.error"]
    assert error["code"] == code
    assert error["message"]["lang"] == "en-US"
    return str(error["message"]["value"])


def test_sharepoint_errors(world: DirectoryWorld) -> None:
    missing = world.sharepoint(f"{SALES}/web/sitegroups/getbyid(99)/users", accept=VERBOSE)
    message = sharepoint_error(
        missing, 404, "-2146232832, Microsoft.SharePoint.SPException", verbose=True
    )
    assert message == "Group cannot be found."
    unknown = world.sharepoint(f"{SALES}/web/nothing")
    message = sharepoint_error(
        unknown, 400, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException"
    )
    assert message == "Cannot find resource for the request nothing."
    bad_select = world.sharepoint(f"{SALES}/web/sitegroups?$select=Colour")
    assert "'Colour' does not exist on type 'SP.Group'" in sharepoint_error(
        bad_select, 400, "-1, Microsoft.SharePoint.Client.InvalidClientQueryException"
    )
    no_site = world.sharepoint("/sites/nowhere/_api/web/sitegroups")
    message = sharepoint_error(no_site, 404, "-2147024894, System.IO.FileNotFoundException")
    assert message == "File Not Found."
    user = world.sharepoint(f"{SALES}/web/getuserbyid(999)")
    assert sharepoint_error(user, 404, "-2146232832, Microsoft.SharePoint.SPException") == (
        "User cannot be found."
    )


def test_without_json_in_accept_the_emulator_refuses(world: DirectoryWorld) -> None:
    """SharePoint answers Atom XML then; the emulator does not emulate it and says so."""
    for accept in (None, "application/atom+xml", "*/*"):
        response = world.sharepoint(f"{SALES}/web/sitegroups", accept=accept)
        assert response.status_code == 406
        assert "JSON only" in response.json()["odata.error"]["message"]["value"]


def test_writes_are_not_served(world: DirectoryWorld) -> None:
    bearer = world.bearer("snapshot", "https://contoso.sharepoint.com/.default")
    response = world.session.post(
        f"https://contoso.sharepoint.com{SALES}/web/sitegroups",
        headers={"Authorization": f"Bearer {bearer}", "Accept": NOMETADATA},
    )
    assert response.status_code == 405
