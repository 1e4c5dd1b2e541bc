"""Memberships in tenant files and scenarios: guests, group kinds, members and owners,
group-connected sites and site-group members; errors that name the key; a scenario applied
whole or not at all; and a change visible through Graph and SharePoint REST at once."""

from __future__ import annotations

import pytest

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.scenarios.scenario import apply_scenario, parse_scenario
from ms365sync.emulator.scenarios.tenantfile import parse_tenant
from ms365sync.emulator.tenant.membership import member_login, site_group_user_ids
from ms365sync.emulator.tenant.model import GroupKind, MemberKind, Role
from ms365sync.emulator.tenant.tenant import Tenant
from support.emulator_directory_world import make_world

DOMAIN = "contoso.onmicrosoft.com"
BASE = f"""
seed = 3
[[apps]]
name = "app"
roles = ["Sites.FullControl.All", "GroupMember.Read.All", "User.Read.All"]
[[users]]
name = "Amy Adams"
email = "amy@{DOMAIN}"
[[users]]
name = "Ben Brown"
email = "ben@{DOMAIN}"
"""
GROUPS = f"""
[[groups]]
name = "Sales"
email = "sales@{DOMAIN}"
members = ["user:amy@{DOMAIN}", "group:Sales EMEA"]
[[groups]]
name = "Sales EMEA"
email = "sales-emea@{DOMAIN}"
members = ["user:gus@fabrikam.com"]
[[groups]]
name = "Project X"
email = "projectx@{DOMAIN}"
kind = "microsoft365"
members = ["user:ben@{DOMAIN}"]
owners = ["amy@{DOMAIN}"]
[[guests]]
name = "Gus Guest"
email = "gus@fabrikam.com"
"""
SITES = """
[[sites]]
path = "/sites/sales"
title = "Sales"
owners = ["user:Amy Adams"]
members = ["group:Sales"]
visitors = ["everyone_except_external"]
[[sites.libraries]]
title = "Documents"
[[sites]]
path = "/teams/projectx"
title = "Project X"
group = "Project X"
visitors = ["user:gus@fabrikam.com"]
"""
PLAIN_GROUPS = f"""
[[groups]]
name = "Sales"
email = "sales@{DOMAIN}"
[[groups]]
name = "Sales EMEA"
email = "sales-emea@{DOMAIN}"
[[groups]]
name = "Project X"
email = "projectx@{DOMAIN}"
"""
PLAIN_SITES = """
[[sites]]
path = "/sites/sales"
title = "Sales"
[[sites.libraries]]
title = "Documents"
[[sites]]
path = "/teams/projectx"
title = "Project X"
"""


@pytest.fixture
def tenant() -> Tenant:
    return parse_tenant(BASE + GROUPS + SITES, name="tenant.toml")


def test_a_tenant_file_with_memberships(tenant: Tenant) -> None:
    sales, project = tenant.group("Sales"), tenant.group("Project X")
    assert (sales.kind, project.kind) == (GroupKind.SECURITY, GroupKind.MICROSOFT_365)
    assert list(sales.members) == [tenant.user("Amy Adams").id, tenant.group("Sales EMEA").id]
    assert list(project.owners) == [tenant.user("Amy Adams").id]
    gus = tenant.user("gus@fabrikam.com")
    assert gus.is_guest and gus.user_principal_name == f"gus_fabrikam.com#EXT#@{DOMAIN}"
    sales_site = tenant.site_by_path("contoso.sharepoint.com", "/sites/sales")
    team_site = tenant.site_by_path("contoso.sharepoint.com", "/teams/projectx")
    assert sales_site is not None and team_site is not None
    assert team_site.group_id == project.id
    assert list(team_site.groups[Role.OWNER].members) == [(MemberKind.GROUP_OWNERS, project.id)]
    assert list(team_site.groups[Role.READ].members) == [(MemberKind.USER, gus.id)]
    everyone = site_group_user_ids(tenant, sales_site.groups[Role.READ])
    assert everyone == {tenant.user("Amy Adams").id, tenant.user("Ben Brown").id}


def test_memberships_leave_every_other_id_as_it_was(tenant: Tenant) -> None:
    """Guests and memberships come last, so a file keeps its site, drive and item ids when
    someone adds them."""
    plain = parse_tenant(BASE + PLAIN_GROUPS + PLAIN_SITES, name="plain.toml")
    assert sorted(plain.sites) == sorted(tenant.sites)
    assert [d.id for d in plain.drives()] == [d.id for d in tenant.drives()]
    assert sorted(g.id for g in plain.groups.values()) == sorted(
        g.id for g in tenant.groups.values()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BASE + '[[groups]]\nname = "G"\nemail = "g@x.org"\nmembers = ["user:nobody"]\n',
            "groups[0].members[0]: unknown user 'nobody'",
        ),
        (
            BASE + '[[groups]]\nname = "G"\nemail = "g@x.org"\nkind = "distribution"\n',
            "groups[0].kind: expected one of security, microsoft365, got 'distribution'",
        ),
        (
            BASE + '[[groups]]\nname = "G"\nemail = "g@x.org"\nowners = ["nobody"]\n',
            "groups[0].owners[0]: unknown user 'nobody'",
        ),
        (
            BASE + '[[groups]]\nname = "G"\nemail = "g@x.org"\n'
            '[[sites]]\npath = "/sites/a"\ntitle = "A"\ngroup = "G"\n',
            "sites[0].group: 'G' is a security group: only a Microsoft 365 group has a site",
        ),
        (
            BASE + '[[sites]]\npath = "/sites/a"\ntitle = "A"\nvisitors = ["anyone"]\n',
            "sites[0].visitors[0]: site-group member 'anyone': expected user:EMAIL",
        ),
    ],
)
def test_membership_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_tenant(text, name="tenant.toml")
    assert str(raised.value).startswith("tenant.toml: " + message), str(raised.value)


SCENARIO = f"""
site = "sales"

[[change]]
op = "add_guest"
name = "Hana Guest"
email = "hana@partner.example"

[[change]]
op = "add_group"
name = "Launch"
email = "launch@{DOMAIN}"
kind = "microsoft365"

[[change]]
op = "add_group_member"
group = "Launch"
member = "user:hana@partner.example"

[[change]]
op = "add_group_owner"
group = "Launch"
user = "Ben Brown"

[[change]]
op = "remove_group_member"
group = "Sales"
member = "group:Sales EMEA"

[[change]]
op = "remove_group_owner"
group = "Project X"
user = "amy@{DOMAIN}"

[[change]]
op = "add_site_group_member"
site_group = "Members"
member = "groupowners:Project X"

[[change]]
op = "remove_site_group_member"
site_group = "Visitors"
member = "everyone_except_external"

[[change]]
op = "add_site_group_member"
site_group = "visitors"
member = "everyone"

[[change]]
op = "add_site_group_member"
site = "/teams/launch"
site_group = "Owners"
member = "user:hana@partner.example"
"""


def test_a_scenario_of_membership_changes(tenant: Tenant) -> None:
    tenant.add_site("contoso.sharepoint.com", "/teams/launch", "Launch")
    scenario = parse_scenario(
        SCENARIO + '\n[[change]]\nop = "connect_site"\nsite = "launch"\ngroup = "Launch"\n',
        name="s.toml",
    )
    lines = apply_scenario(tenant, scenario)
    assert lines[0] == (
        f"invited guest Hana Guest <hana@partner.example> as hana_partner.example#EXT#@{DOMAIN}"
    )
    assert lines[1] == f"added Microsoft 365 group Launch <launch@{DOMAIN}>"
    assert lines[6] == "sales: added groupowners:Project X to Sales Members"
    assert lines[-1] == "launch: connected to the Microsoft 365 group Launch"
    launch = tenant.group("Launch")
    assert list(launch.members) == [tenant.user("hana@partner.example").id]
    assert list(launch.owners) == [tenant.user("Ben Brown").id]
    assert list(tenant.group("Sales").members) == [tenant.user("Amy Adams").id]
    assert not tenant.group("Project X").owners
    site = tenant.site_by_path("contoso.sharepoint.com", "/sites/sales")
    assert site is not None
    visitors = [member_login(tenant, m) for m in site.groups[Role.READ].members]
    assert visitors == ["c:0(.s|true"]


def test_a_scenario_is_applied_whole_or_not_at_all(tenant: Tenant) -> None:
    before = tenant.membership_version
    scenario = parse_scenario(
        SCENARIO.split('[[change]]\nop = "remove_group_member"', maxsplit=1)[0]
        + '[[change]]\nop = "add_group_member"\ngroup = "Launch"\nmember = "group:Sales"\n',
        name="s.toml",
    )
    with pytest.raises(InputError) as raised:
        apply_scenario(tenant, scenario)
    assert str(raised.value) == (
        "s.toml: change[4].member: 'Launch' is a Microsoft 365 group: its members are users "
        "only; nothing was applied"
    )
    assert tenant.membership_version == before
    with pytest.raises(InputError):
        tenant.user("hana@partner.example")


def test_a_change_is_seen_through_graph_and_sharepoint_rest() -> None:
    world = make_world()
    tenant = world.tenant
    sales = tenant.group("Sales").id
    before = world.graph(f"/groups/{sales}/transitiveMembers?$select=id").json()["value"]
    scenario = parse_scenario(
        '[[change]]\nop = "add_group_member"\ngroup = "Sales EMEA"\nmember = "user:Ben Brown"\n'
        '[[change]]\nop = "add_site_group_member"\nsite = "sales"\nsite_group = "Visitors"\n'
        'member = "user:Ben Brown"\n',
        name="s.toml",
    )
    apply_scenario(tenant, scenario)
    after = world.graph(f"/groups/{sales}/transitiveMembers?$select=id").json()["value"]
    assert len(after) == len(before) + 1
    visitors = world.sharepoint("/sites/sales/_api/web/associatedvisitorgroup/users").json()
    assert [user["Title"] for user in visitors["value"]] == [
        "Everyone except external users",
        "Ben Brown",
    ]
