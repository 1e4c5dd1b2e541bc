"""`/items/{id}/permissions` in SharePoint's shape (graph-facts §6): site groups, users, Entra
groups, sharing links, base64url login-name ids, `inheritedFrom: {}` and inheritance; and the
principals that are not one member or one group's members (§6.7-6.10): "Everyone except
external users", "Everyone", a Microsoft 365 group's owners, guests and accounts the site
knows without an Entra object, each with its label in the original form."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ms365sync.emulator.tenant.base import MutationError
from ms365sync.emulator.tenant.model import GroupKind, Role
from ms365sync.emulator.tenant.permissions import expected_labels
from support.emulator_fakes import sample
from support.emulator_graph_world import World, make_world

AMY = "amy@contoso.onmicrosoft.com"
BEN = "ben@contoso.onmicrosoft.com"
FORMER = "i:0#.f|membership|former@contoso.onmicrosoft.com"


@pytest.fixture
def world() -> World:
    return make_world()


def decode(permission_id: str) -> str:
    """The login name a principal entry's id encodes (unpadded base64url)."""
    assert "=" not in permission_id
    return base64.urlsafe_b64decode(permission_id + "=" * (-len(permission_id) % 4)).decode()


def permissions(world: World, path: str) -> list[dict[str, Any]]:
    body = world.json(world.item_path(path, "/permissions"))
    item_id = world.item(path).id
    assert body["@odata.context"].endswith(
        f"$metadata#drives('{world.drive.id}')/items('{item_id}')/permissions"
    )
    return list(body["value"])


def by_login(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {decode(entry["id"]): entry for entry in entries if "link" not in entry}


def test_site_groups_of_an_inheriting_item(world: World) -> None:
    entries = permissions(world, "Reports/2025/plan.txt")
    assert len(entries) == 3
    groups = by_login(entries)
    expected = {
        "Marketing Owners": "owner",
        "Marketing Members": "write",
        "Marketing Visitors": "read",
    }
    assert {login: entry["roles"] for login, entry in groups.items()} == {
        login: [role] for login, role in expected.items()
    }
    for title, entry in groups.items():
        site_group = entry["grantedToV2"]["siteGroup"]
        assert site_group["displayName"] == site_group["loginName"] == title
        assert site_group["id"].isdigit()
        # The deprecated form still comes along: the group title as a "user".
        assert entry["grantedTo"] == {"user": {"displayName": title}}
        assert entry["inheritedFrom"] == {}


def test_the_real_site_group_capture_shape(world: World) -> None:
    captured = sample("05-permissions-sharepoint-sitegroups.real-2021-fragment.json")["value"][0]
    owners = by_login(permissions(world, "empty.txt"))["Marketing Owners"]
    assert set(captured) <= set(owners)
    assert owners["roles"] == captured["roles"] == ["owner"]
    assert decode(captured["id"]) == "class3 Owners"  # the same id scheme


def test_a_user_grant(world: World) -> None:
    world.tenant.grant(world.drive, "Notes/todo.md", f"user:{AMY}", Role.WRITE)
    entries = permissions(world, "Notes/todo.md")
    amy = by_login(entries)[f"i:0#.f|membership|{AMY}"]
    user = world.tenant.user(AMY)
    assert amy["roles"] == ["write"]
    assert amy["grantedToV2"]["user"] == {"id": user.id, "displayName": "Amy Adams", "email": AMY}
    site_user = amy["grantedToV2"]["siteUser"]
    assert site_user["loginName"] == f"i:0#.f|membership|{AMY}"
    assert site_user["id"].isdigit()
    assert amy["grantedTo"]["user"]["id"] == user.id
    assert amy["inheritedFrom"] == {}
    assert len(entries) == 4  # the copied site groups stay


def test_entra_groups_are_keyed_by_their_claims(world: World) -> None:
    """A security group by the tenant claim, a Microsoft 365 group by the federated one
    (graph-facts §6.7, §16.3), each with the group's id."""
    second = world.tenant.add_group(
        "Legal", "legal@contoso.onmicrosoft.com", kind=GroupKind.MICROSOFT_365
    )
    world.tenant.grant(world.drive, "Notes", "group:Sales Team", Role.READ)
    world.tenant.grant(world.drive, "Notes", "group:Legal", Role.WRITE)
    sales = world.tenant.group("Sales Team")
    assert not sales.is_microsoft_365
    entries = by_login(permissions(world, "Notes"))
    site_user_ids = set()
    for group, claim in (
        (sales, f"c:0t.c|tenant|{sales.id}"),
        (second, f"c:0o.c|federateddirectoryclaimprovider|{second.id}"),
    ):
        entry = entries[claim]
        assert entry["grantedToV2"]["group"]["id"] == group.id
        assert entry["grantedToV2"]["siteUser"]["loginName"] == claim
        site_user_ids.add(entry["grantedToV2"]["siteUser"]["id"])
    assert len(site_user_ids) == 2  # site principal ids are unique per principal


def test_a_specific_people_link(world: World) -> None:
    link = world.tenant.add_link(world.drive, "Notes/todo.md", "edit", "users", [AMY, BEN])
    entry = next(e for e in permissions(world, "Notes/todo.md") if "link" in e)
    assert entry["id"] == link.id
    assert entry["roles"] == ["write"]
    assert entry["link"]["type"] == "edit"
    assert entry["link"]["scope"] == "users"
    assert entry["link"]["webUrl"].startswith("https://contoso.sharepoint.com/:w:/")
    people = entry["grantedToIdentitiesV2"]
    assert [p["user"]["email"] for p in people] == [AMY, BEN]
    assert all(p["siteUser"]["loginName"].startswith("i:0#.f|membership|") for p in people)
    assert [p["user"]["id"] for p in entry["grantedToIdentities"]] == [
        p["user"]["id"] for p in people
    ]
    assert entry["expirationDateTime"] == "0001-01-01T00:00:00Z"
    assert "hasPassword" not in entry  # OneDrive personal only (graph-facts §6.2)
    documented = sample("05-permission-examples.docs.json")["specificPeopleLink"]
    assert set(documented) - {"@deprecated.GrantedToIdentities"} <= set(entry) | {"link"}


def test_an_organization_view_link(world: World) -> None:
    world.tenant.add_link(world.drive, "Notes/todo.md", "view", "organization")
    entry = next(e for e in permissions(world, "Notes/todo.md") if "link" in e)
    assert entry["roles"] == ["read"]
    assert entry["link"]["scope"] == "organization"
    assert "grantedToIdentitiesV2" not in entry


def test_inheriting_children_report_their_roots_entries(world: World) -> None:
    world.tenant.grant(world.drive, "Reports", f"user:{AMY}", Role.READ)
    world.tenant.revoke(world.drive, "Reports", "sitegroup:Visitors")
    folder = permissions(world, "Reports")
    assert "Marketing Visitors" not in by_login(folder)
    for child in ("Reports/Q1 summary.txt", "Reports/2025", "Reports/2025/plan.txt"):
        assert permissions(world, child) == folder, child
    assert "Marketing Visitors" in by_login(permissions(world, "Notes/todo.md"))


def test_roles_are_owner_write_read_only(world: World) -> None:
    world.tenant.grant(world.drive, "Notes", f"user:{BEN}", Role.OWNER)
    world.tenant.add_link(world.drive, "Notes", "view", "anonymous")
    roles = {role for entry in permissions(world, "Notes") for role in entry["roles"]}
    assert roles == {"owner", "write", "read"}


def test_one_permission_by_id(world: World) -> None:
    entries = permissions(world, "empty.txt")
    one = world.json(world.item_path("empty.txt", f"/permissions/{entries[0]['id']}"))
    assert one == entries[0]
    missing = world.get(world.item_path("empty.txt", "/permissions/bm8tc3VjaC1wcmluY2lwYWw"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "itemNotFound"


def test_permissions_cost_five_resource_units(world: World) -> None:
    response = world.get(world.item_path("empty.txt", "/permissions"))
    assert response.headers["x-ms-resource-unit"] == "5"


def test_permissions_of_unknown_items_and_the_root(world: World) -> None:
    unknown = "01AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    missing = world.get(f"/drives/{world.drive.id}/items/{unknown}/permissions")
    assert missing.status_code == 404
    root = world.json(f"/drives/{world.drive.id}/root/permissions")["value"]
    assert len(root) == 3


def test_permissions_batched_like_elastic(world: World) -> None:
    # samples/06-batch-permissions-request.elastic: member id = item id, relative URLs.
    world.tenant.grant(world.drive, "Notes/todo.md", f"user:{AMY}", Role.READ)
    template = sample("06-batch-permissions-request.elastic.json")["requests"][0]
    paths = ["Notes/todo.md", "empty.txt", "Reports"]
    requests_ = []
    for path in paths:
        item_id = world.item(path).id
        url = template["url"].replace("<drive-id>", world.drive.id)
        requests_.append(
            {"id": item_id, "method": "GET", "url": url.replace("<item-id-1>", item_id)}
        )
    response = world.session.post(world.url("/$batch"), json={"requests": requests_})
    assert response.status_code == 200
    by_id = {entry["id"]: entry for entry in response.json()["responses"]}
    assert set(by_id) == {world.item(path).id for path in paths}  # correlate by id
    for path in paths:
        entry = by_id[world.item(path).id]
        assert entry["status"] == 200
        assert entry["body"]["value"] == permissions(world, path)
    assert f"i:0#.f|membership|{AMY}" in by_login(
        by_id[world.item("Notes/todo.md").id]["body"]["value"]
    )


# ---------------------------------------------------------------------- special principals


def _entry(world: World, path: str, login: str) -> dict[str, Any]:
    return by_login(permissions(world, path))[login]


def _labels(world: World, path: str) -> list[str]:
    return expected_labels(world.tenant, world.drive, world.item(path))


def test_everyone_except_external_users_is_a_site_user_with_the_role_claim(world: World) -> None:
    world.tenant.grant(world.drive, "Reports", "everyone_except_external", Role.READ)
    login = f"c:0-.f|rolemanager|spo-grid-all-users/{world.tenant.tenant_id}"
    entry = _entry(world, "Reports/2025/plan.txt", login)
    assert entry["roles"] == ["read"]
    name = "Everyone except external users"
    assert entry["grantedToV2"] == {
        "siteUser": {"id": "8", "displayName": name, "loginName": login}
    }
    assert entry["grantedTo"] == {"user": {"displayName": name}}  # no Entra object behind it
    assert entry["inheritedFrom"] == {}
    assert f"{name}:::View" in _labels(world, "Reports/2025/plan.txt")


def test_everyone_is_the_authenticated_users_claim(world: World) -> None:
    world.tenant.grant(world.drive, "Notes/todo.md", "everyone", Role.WRITE)
    entry = _entry(world, "Notes/todo.md", "c:0(.s|true")
    assert entry["grantedToV2"]["siteUser"]["displayName"] == "Everyone"
    assert set(entry["grantedToV2"]) == {"siteUser"}
    assert "Everyone:::Edit" in _labels(world, "Notes/todo.md")


def test_a_guest_is_a_user_whose_login_name_holds_ext(world: World) -> None:
    guest = world.tenant.add_user("Jordan Blake", "jordan@brightline.example", guest=True)
    assert guest.user_principal_name == "jordan_brightline.example#EXT#@contoso.onmicrosoft.com"
    assert world.tenant.user(guest.user_principal_name) is guest
    world.tenant.grant(world.drive, "Notes/todo.md", "user:jordan@brightline.example", Role.READ)
    login = "i:0#.f|membership|jordan_brightline.example#ext#@contoso.onmicrosoft.com"
    entry = _entry(world, "Notes/todo.md", login)
    # The elba-security log (graph-facts §6.9): the guest's own mail, its Entra object id.
    assert entry["grantedToV2"]["user"] == {
        "id": guest.id,
        "displayName": "Jordan Blake",
        "email": "jordan@brightline.example",
    }
    assert entry["grantedToV2"]["siteUser"]["loginName"] == login
    assert "Jordan Blake:::View" in _labels(world, "Notes/todo.md")


def test_a_groups_owners_entry_carries_the_group_and_the_owners_claim(world: World) -> None:
    sales = world.tenant.add_group(
        "Sales 365", "sales365@contoso.onmicrosoft.com", kind=GroupKind.MICROSOFT_365
    )
    world.tenant.grant(world.drive, "Reports", "groupowners:Sales 365", Role.OWNER)
    world.tenant.grant(world.drive, "Reports", "group:Sales 365", Role.WRITE)
    entries = by_login(permissions(world, "Reports"))
    owners = entries[f"c:0o.c|federateddirectoryclaimprovider|{sales.id}_o"]
    members = entries[f"c:0o.c|federateddirectoryclaimprovider|{sales.id}"]
    # The group's own id in both: only the claim says owners or members (graph-facts §6.10).
    assert owners["grantedToV2"]["group"]["id"] == members["grantedToV2"]["group"]["id"]
    assert owners["grantedToV2"]["group"]["displayName"] == "Sales 365 Owners"
    assert owners["grantedToV2"]["siteUser"]["loginName"].endswith("_o")
    assert owners["grantedToV2"]["siteUser"]["id"] != members["grantedToV2"]["siteUser"]["id"]
    # ... and the deprecated form is the real capture's: the group's id, mail and
    # "<group> Owners" as a "user".
    captured = sample("05-permissions-sharepoint-sitegroups.real-2021-fragment.json")["value"][1]
    assert decode(captured["id"]).endswith("_o")
    assert set(owners["grantedTo"]["user"]) == set(captured["grantedTo"]["user"])
    assert owners["grantedTo"]["user"]["id"] == sales.id
    assert owners["roles"] == captured["roles"] == ["owner"]
    assert "Sales 365 Owners:::Full Control" in _labels(world, "Reports")


def test_an_account_without_an_entra_object_is_a_site_user_alone(world: World) -> None:
    world.tenant.add_site_user(world.site, "Former Employee", FORMER)
    world.tenant.grant(world.drive, "empty.txt", f"siteuser:{FORMER}", Role.READ)
    entry = _entry(world, "empty.txt", FORMER)
    site_user = entry["grantedToV2"]["siteUser"]
    assert set(entry["grantedToV2"]) == {"siteUser"}
    assert (site_user["displayName"], site_user["loginName"]) == ("Former Employee", FORMER)
    assert site_user["id"].isdigit()
    assert entry["grantedTo"] == {"user": {"displayName": "Former Employee"}}
    assert "Former Employee:::View" in _labels(world, "empty.txt")
    world.tenant.revoke(world.drive, "empty.txt", "siteuser:Former Employee")
    assert FORMER not in by_login(permissions(world, "empty.txt"))


def test_special_grants_are_revocable_and_unknown_names_are_refused(world: World) -> None:
    tenant = world.tenant
    tenant.grant(world.drive, "Notes", "everyone", Role.READ)
    tenant.revoke(world.drive, "Notes", "everyone")
    assert "c:0(.s|true" not in by_login(permissions(world, "Notes"))
    with pytest.raises(MutationError, match="no site user 'nobody'"):
        tenant.principal(world.site, "siteuser:nobody")
    with pytest.raises(MutationError, match="a login name starts with 'i:'"):
        tenant.add_site_user(world.site, "Bad", "c:0(.s|true")
