"""The directory and membership model: guests, group nesting and the Microsoft 365 rules,
cycles, group-connected sites, site-group members of every kind, and the users a site
group's membership reaches (graph-facts §15, §16.3)."""

from __future__ import annotations

import pytest

from ms365sync.emulator.tenant.membership import (
    member_login,
    member_principal_id,
    member_title,
    site_group_user_ids,
    transitive_member_ids,
)
from ms365sync.emulator.tenant.model import GroupKind, MemberKind, Role, UserType
from ms365sync.emulator.tenant.tenant import MutationError, Tenant

DOMAIN = "contoso.onmicrosoft.com"
HOST = "contoso.sharepoint.com"


@pytest.fixture
def tenant() -> Tenant:
    tenant = Tenant(seed=5, domain=DOMAIN)
    for name in ("amy", "ben", "cho"):
        tenant.add_user(name.title(), f"{name}@{DOMAIN}")
    tenant.add_guest("Gus Guest", "gus@fabrikam.com")
    tenant.add_group("Sales", f"sales@{DOMAIN}")
    tenant.add_group("Sales EMEA", "")
    tenant.add_group("Project X", f"projectx@{DOMAIN}", kind=GroupKind.MICROSOFT_365)
    return tenant


def test_a_guest_is_a_user_of_type_guest_with_an_ext_principal_name(tenant: Tenant) -> None:
    guest = tenant.user("gus@fabrikam.com")
    assert guest.user_type is UserType.GUEST and guest.is_guest
    assert guest.email == "gus@fabrikam.com"
    assert guest.user_principal_name == f"gus_fabrikam.com#EXT#@{DOMAIN}"
    assert tenant.user(f"GUS_fabrikam.com#ext#@{DOMAIN}") is guest  # any case
    assert not tenant.user("amy").is_guest
    assert tenant.user("amy").user_principal_name == f"amy@{DOMAIN}"


def test_security_groups_hold_users_and_security_groups(tenant: Tenant) -> None:
    sales, emea = tenant.group("Sales"), tenant.group("Sales EMEA")
    tenant.add_group_member(sales, "user:amy")
    tenant.add_group_member(sales, "group:Sales EMEA")
    tenant.add_group_member(emea, f"user:gus_fabrikam.com#EXT#@{DOMAIN}")
    assert list(sales.members) == [tenant.user("amy").id, emea.id]
    below = transitive_member_ids(tenant, sales)
    assert below == [tenant.user("amy").id, emea.id, tenant.user("gus@fabrikam.com").id]


@pytest.mark.parametrize(
    ("group", "member", "refusal"),
    [
        ("Project X", "group:Sales", "its members are users only"),
        ("Sales", "group:Project X", "cannot be a member of another group"),
        ("Sales", "user:amy", "already a member"),
        ("Sales", "robot:r2", "expected user:EMAIL or group:NAME"),
        ("Sales", "user:nobody", "unknown user 'nobody'"),
    ],
)
def test_what_entra_refuses_is_refused(
    tenant: Tenant, group: str, member: str, refusal: str
) -> None:
    tenant.add_group_member(tenant.group("Sales"), "user:amy")
    with pytest.raises(MutationError, match=refusal):
        tenant.add_group_member(tenant.group(group), member)


def test_a_cycle_is_allowed_and_each_member_is_listed_once(tenant: Tenant) -> None:
    """Entra lets groups contain each other (azure-docs #43313); the expansion visits each
    group once and leaves the group asked about out."""
    sales, emea = tenant.group("Sales"), tenant.group("Sales EMEA")
    tenant.add_group_member(sales, "group:Sales EMEA")
    tenant.add_group_member(emea, "group:Sales")
    tenant.add_group_member(emea, "user:ben")
    assert transitive_member_ids(tenant, sales) == [emea.id, tenant.user("ben").id]
    assert transitive_member_ids(tenant, emea) == [sales.id, tenant.user("ben").id]


def test_members_and_owners_are_removed_and_the_version_moves(tenant: Tenant) -> None:
    project = tenant.group("Project X")
    start = tenant.membership_version
    tenant.add_group_member(project, "user:amy")
    tenant.add_group_owner(project, "ben")
    tenant.remove_group_member(project, "user:amy")
    tenant.remove_group_owner(project, "ben")
    assert (project.members, project.owners) == ({}, {})
    assert tenant.membership_version == start + 4
    with pytest.raises(MutationError, match="is not a member"):
        tenant.remove_group_member(project, "user:amy")
    with pytest.raises(MutationError, match="does not own"):
        tenant.remove_group_owner(project, "ben")


def test_a_group_connected_site_holds_the_group_claims(tenant: Tenant) -> None:
    project = tenant.group("Project X")
    site = tenant.add_site(HOST, "/sites/projectx", "Project X")
    tenant.connect_site(site, project)
    owners, members = site.groups[Role.OWNER], site.groups[Role.WRITE]
    assert site.group_id == project.id
    assert list(owners.members) == [(MemberKind.GROUP_OWNERS, project.id)]
    assert list(members.members) == [(MemberKind.GROUP, project.id)]
    assert not site.groups[Role.READ].members
    assert member_login(tenant, (MemberKind.GROUP_OWNERS, project.id)) == (
        f"c:0o.c|federateddirectoryclaimprovider|{project.id}_o"
    )
    assert member_title(tenant, (MemberKind.GROUP_OWNERS, project.id)) == "Project X Owners"
    assert member_title(tenant, (MemberKind.GROUP, project.id)) == "Project X Members"


def test_only_a_microsoft_365_group_has_a_site(tenant: Tenant) -> None:
    site = tenant.add_site(HOST, "/sites/sales", "Sales")
    with pytest.raises(MutationError, match="only a Microsoft 365 group has a site"):
        tenant.connect_site(site, tenant.group("Sales"))
    tenant.connect_site(site, tenant.group("Project X"))
    with pytest.raises(MutationError, match="already belongs to a group"):
        tenant.connect_site(site, tenant.group("Project X"))


def test_site_group_members_of_every_kind(tenant: Tenant) -> None:
    site = tenant.add_site(HOST, "/sites/sales", "Sales")
    for member in (
        "user:amy",
        "group:Sales",
        "group:Project X",
        "groupowners:Project X",
        "everyone",
        "everyone_except_external",
    ):
        tenant.add_site_group_member(site, "Visitors", member)
    visitors = site.groups[Role.READ]
    logins = [member_login(tenant, member) for member in visitors.members]
    sales, project = tenant.group("Sales"), tenant.group("Project X")
    assert logins == [
        f"i:0#.f|membership|amy@{DOMAIN}",
        f"c:0t.c|tenant|{sales.id}",
        f"c:0o.c|federateddirectoryclaimprovider|{project.id}",
        f"c:0o.c|federateddirectoryclaimprovider|{project.id}_o",
        "c:0(.s|true",
        f"c:0-.f|rolemanager|spo-grid-all-users/{tenant.tenant_id}",
    ]
    titles = [member_title(tenant, member) for member in visitors.members]
    assert titles[-2:] == ["Everyone", "Everyone except external users"]
    principal_ids = [member_principal_id(tenant, member) for member in visitors.members]
    assert len(set(principal_ids)) == len(principal_ids)
    assert all(number >= 10 for number in principal_ids)


@pytest.mark.parametrize(
    ("site_group", "member", "refusal"),
    [
        ("Approvers", "user:amy", "has no group 'Approvers'"),
        ("Members", "groupowners:Sales", "only a Microsoft 365 group has an owners' claim"),
        ("Members", "anyone", "expected user:EMAIL, group:NAME, groupowners:NAME"),
        ("Members", "user:amy", "already a member"),
    ],
)
def test_site_group_member_refusals(
    tenant: Tenant, site_group: str, member: str, refusal: str
) -> None:
    site = tenant.add_site(HOST, "/sites/sales", "Sales")
    tenant.add_site_group_member(site, "members", "user:amy")
    with pytest.raises(MutationError, match=refusal):
        tenant.add_site_group_member(site, site_group, member)


def test_the_users_a_site_group_reaches(tenant: Tenant) -> None:
    """Entra groups expand transitively, an owners' claim to the group's owners, Everyone
    to every user and Everyone except external users to every member but guests."""
    site = tenant.add_site(HOST, "/sites/sales", "Sales")
    sales, emea = tenant.group("Sales"), tenant.group("Sales EMEA")
    tenant.add_group_member(sales, "group:Sales EMEA")
    tenant.add_group_member(emea, "user:amy")
    tenant.add_group_owner(tenant.group("Project X"), "ben")
    members = tenant.add_site_group_member(site, "Members", "group:Sales")
    tenant.add_site_group_member(site, "Members", "groupowners:Project X")
    visitors = tenant.add_site_group_member(site, "Visitors", "everyone_except_external")
    owners = tenant.add_site_group_member(site, "Owners", "everyone")
    ids = {name: tenant.user(name).id for name in ("amy", "ben", "cho", "gus@fabrikam.com")}
    assert site_group_user_ids(tenant, members) == {ids["amy"], ids["ben"]}
    assert site_group_user_ids(tenant, visitors) == {ids["amy"], ids["ben"], ids["cho"]}
    assert site_group_user_ids(tenant, owners) == set(ids.values())
    tenant.remove_site_group_member(site, "Members", "group:Sales")
    assert site_group_user_ids(tenant, members) == {ids["ben"]}


def test_a_rehearsal_copy_changes_memberships_of_its_own(tenant: Tenant) -> None:
    tenant.add_group_member(tenant.group("Sales"), "user:amy")
    with tenant.lock:
        copy = tenant.rehearsal_copy()
    copy.add_group_member(copy.group("Sales"), "user:ben")
    assert len(copy.group("Sales").members) == 2
    assert list(tenant.group("Sales").members) == [tenant.user("amy").id]
