"""Who a permission entry grants to (graph-facts §6.7-6.12): every shape SharePoint sends for
"Everyone except external users", "Everyone", a Microsoft 365 group's members and owners,
guests and site users, in the v2 and the deprecated form, becomes its own kind; a link its
audience; and a claim that is not recognised reaches nobody: never everyone."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ms365sync.graph.claims import claim_in_permission_id, read_claim
from ms365sync.graph.convert import permission_set
from ms365sync.graph.types import Permission
from ms365sync.models import Grant, LinkAudience, PrincipalKind
from ms365sync.outputs.grants import grant_entry
from support.emulator_fakes import sample

TENANT = "7f3e9c52-1d4b-4a8e-9b6f-2c5d8e1a4f70"
GROUP = "e1b5c7cd-9274-4276-953d-b363d377f41d"
EEEU = f"c:0-.f|rolemanager|spo-grid-all-users/{TENANT}"
EVERYONE = "c:0(.s|true"
SITE = "contoso.sharepoint.com,6f1c1e2a-0000-4000-8000-000000000001,9a3e-web"


def b64(login: str) -> str:
    return base64.urlsafe_b64encode(login.encode()).rstrip(b"=").decode()


def site_user_entry(login: str, name: str, role: str = "read", number: str = "8") -> Any:
    """The v2 shape of a principal without an Entra object (graph-facts §6.8, §6.10)."""
    return {
        "id": b64(login),
        "roles": [role],
        "grantedToV2": {"siteUser": {"id": number, "displayName": name, "loginName": login}},
        "grantedTo": {"user": {"displayName": name}},
        "inheritedFrom": {},
    }


def one(entry: Any) -> Grant:
    (grant,) = permission_set([Permission.model_validate(entry)]).grants
    return grant


def published(grant: Grant) -> dict[str, Any]:
    return grant_entry(grant, site_id=SITE, inherited=False).model_dump(exclude_none=True)


def test_everyone_except_external_users_is_all_members() -> None:
    grant = one(site_user_entry(EEEU, "Everyone except external users"))
    assert (grant.kind, grant.principal_id, grant.login_name) == (
        PrincipalKind.ALL_MEMBERS,
        EEEU,
        EEEU,
    )
    assert published(grant) == {
        "kind": "all_members",
        "id": EEEU,
        "display_name": "Everyone except external users",
        "role": "read",
        "inherited": False,
        "login_name": EEEU,
    }
    labels = permission_set([Permission.model_validate(site_user_entry(EEEU, "x"))]).labels
    assert labels == ("x:::View",)  # the label is the display name, as SharePoint sent it


@pytest.mark.parametrize(
    "login",
    [
        "c:0-.f|rolemanager|spo-grid-all-users/0d4b2a9e-1111-2222-3333-444455556666",  # not ours
        "c:0-.f|rolemanager|spo-grid-all-users",  # Elastic's fixture: no realm
        "C:0-.F|ROLEMANAGER|SPO-GRID-ALL-USERS/" + TENANT.upper(),
    ],
)
def test_the_all_members_claim_is_recognised_whatever_its_realm(login: str) -> None:
    """The GUID is normally the tenant id but need not be (graph-facts §6.8)."""
    assert one(site_user_entry(login, "Everyone except external users")).kind is (
        PrincipalKind.ALL_MEMBERS
    )


def test_everyone_is_everyone() -> None:
    grant = one(site_user_entry(EVERYONE, "Everyone", "write"))
    assert (grant.kind, grant.principal_id, grant.role) == (
        PrincipalKind.EVERYONE,
        EVERYONE,
        "write",
    )


def test_the_deprecated_form_is_recognised_by_the_entry_id() -> None:
    """Only `grantedTo.user.displayName`, the raw claim as in 2016 (onedrive-api-docs #471):
    the entry id is the base64url of the login name."""
    entry = {"id": b64(EEEU), "roles": ["read"], "grantedTo": {"user": {"displayName": EEEU}}}
    grant = one(entry)
    assert grant.kind is PrincipalKind.ALL_MEMBERS and grant.display_name == EEEU


UNRECOGNISED = [
    "c:0-.f|rolemanager|s-1-5-21-4057271854-771539223-3591658312-6336866",  # #471's entry
    "c:0!.s|windows",
    "c:0!.s|forms:membership",
    "c:0-.f|rolemanager|spo-grid-all-users-and-friends",
    "c:0-.f|rolemanager|spo-grid-all-users/not-a-guid",
    "c:0(.s|truely",
    "c:0o.c|federateddirectoryclaimprovider|not-a-group-id",
    "c:0o.c|federateddirectoryclaimprovider|" + GROUP + "_x",
]


@pytest.mark.parametrize("login", UNRECOGNISED)
def test_a_claim_not_recognised_reaches_nobody(login: str) -> None:
    """Fail closed: kind unknown (the example index lets nobody in by it), keyed by the claim;
    never all_members or everyone, whatever its display name says."""
    for entry in (
        site_user_entry(login, "Everyone"),
        {"id": b64(login), "roles": ["write"], "grantedTo": {"user": {"displayName": login}}},
    ):
        grant = one(entry)
        assert (grant.kind, grant.principal_id) == (PrincipalKind.UNKNOWN, login)
        assert published(grant)["kind"] == "unknown"


def test_the_real_capture_of_a_group_connected_site() -> None:
    """samples/05-permissions-sharepoint-sitegroups (2021, deprecated form only): the owners
    claim carries the group's own id as a "user"; only the claim says it is the owners."""
    page = sample("05-permissions-sharepoint-sitegroups.real-2021-fragment.json")["value"]
    site_group, owners = (one(entry) for entry in page)
    assert (owners.kind, owners.principal_id) == (PrincipalKind.GROUP_OWNERS, GROUP)
    assert owners.display_name == "class3 Owners" and owners.email == "class3@test.onmicrosoft.com"
    assert published(owners)["id"] == GROUP
    # A site group named by its title alone (no number, no claim): reaches nobody.
    assert (site_group.kind, site_group.principal_id) == (PrincipalKind.UNKNOWN, page[0]["id"])
    labels = permission_set(Permission.model_validate(e) for e in page).labels
    assert labels == ("class3 Owners:::Full Control",)  # two grants, one label


def group_entry(claim: str, name: str, *, with_site_user: bool = True) -> Any:
    """The v2 shape of a group's members or owners (elba-security's logged entry, §6.10)."""
    identities: dict[str, Any] = {
        "group": {"id": GROUP, "displayName": name, "email": "team@contoso.onmicrosoft.com"}
    }
    if with_site_user:
        identities["siteUser"] = {"id": "21", "displayName": name, "loginName": claim}
    return {"id": b64(claim), "roles": ["owner"], "grantedToV2": identities}


def test_members_and_owners_of_a_group_are_told_apart_by_the_claim() -> None:
    members = f"c:0o.c|federateddirectoryclaimprovider|{GROUP}"
    assert one(group_entry(members, "Team")).kind is PrincipalKind.GROUP
    for with_site_user in (True, False):  # the claim from siteUser, else from the entry id
        owners = one(group_entry(members + "_o", "Team Owners", with_site_user=with_site_user))
        assert (owners.kind, owners.principal_id) == (PrincipalKind.GROUP_OWNERS, GROUP)
        assert published(owners)["kind"] == "group_owners"
    security = one(group_entry(f"c:0t.c|tenant|{GROUP.upper()}", "Security"))
    assert (security.kind, security.principal_id) == (PrincipalKind.GROUP, GROUP)


def test_a_guest_is_recognised_by_ext_in_its_login_name() -> None:
    login = "i:0#.f|membership|theworldismine771_gmail.com#ext#@testcomp633.onmicrosoft.com"
    entra_id = "0022a2e1-cd1b-457e-8103-d7512480771b"
    entry = {
        "id": b64(login),
        "roles": ["read"],
        "grantedToV2": {
            "user": {
                "id": entra_id,
                "displayName": "Guest",
                "email": "theworldismine771@gmail.com",
            },
            "siteUser": {"id": "13", "displayName": "Guest", "loginName": login},
        },
    }
    grant = one(entry)
    assert (grant.kind, grant.principal_id) == (PrincipalKind.GUEST, entra_id)
    assert published(grant)["id"] == entra_id and published(grant)["kind"] == "guest"
    member = entry | {
        "grantedToV2": entry["grantedToV2"]
        | {"siteUser": {"loginName": "i:0#.f|membership|amy@contoso.com"}}
    }
    assert one(member).kind is PrincipalKind.USER
    # Named only by the deprecated form: still a guest, keyed by its login name.
    bare = {"id": b64(login), "roles": ["read"], "grantedTo": {"user": {"displayName": "G"}}}
    assert (one(bare).kind, published(one(bare))["id"]) == (PrincipalKind.GUEST, login)


def test_accounts_without_an_entra_object_are_site_users() -> None:
    former = "i:0#.f|membership|former@contoso.onmicrosoft.com"
    grant = one(site_user_entry(former, "Former Employee", number="13"))
    assert (grant.kind, published(grant)["id"]) == (PrincipalKind.SITE_USER, f"{SITE}/siteusers/13")
    app = "i:0i.t|ms.sp.ext|4f1c0e2a-0000-4000-8000-000000000000@" + TENANT
    assert one(site_user_entry(app, "An app")).kind is PrincipalKind.SITE_USER
    # A 2019 answer (graph-docs-contrib #6375): a display name, the login only in the id.
    bare = {"id": b64(former), "roles": ["write"], "grantedTo": {"user": {"displayName": "F"}}}
    grant = one(bare)
    assert (grant.kind, grant.principal_id) == (PrincipalKind.SITE_USER, former)
    assert published(grant)["id"] == former  # its login name: no site-local number known


def test_a_site_group_is_never_read_as_a_claim() -> None:
    """Its login name is its title; SharePoint refuses ":" and "|" in titles anyway."""
    entry = {
        "id": b64(EVERYONE),
        "roles": ["read"],
        "grantedToV2": {"siteGroup": {"id": "4", "displayName": EVERYONE, "loginName": EVERYONE}},
    }
    grant = one(entry)
    assert (grant.kind, published(grant)["id"]) == (
        PrincipalKind.SITE_GROUP,
        f"{SITE}/sitegroups/4",
    )


@pytest.mark.parametrize(
    ("scope", "audience"),
    [
        ("anonymous", "public"),
        ("organization", "organization"),
        ("users", "recipients"),
        ("existingAccess", "existing_access"),
        (None, "unknown"),  # the consumer-OneDrive docs examples send none
        ("someoneNew", "unknown"),
    ],
)
def test_a_link_says_whom_it_reaches(scope: str | None, audience: str) -> None:
    link: dict[str, Any] = {"type": "view", "webUrl": "https://contoso.sharepoint.com/:w:/x"}
    if scope is not None:
        link["scope"] = scope
    grant = one({"id": "9d0f3c3e-0000-4000-8000-000000000000", "roles": ["read"], "link": link})
    assert grant.kind is PrincipalKind.LINK
    assert grant.audience is LinkAudience(audience)
    assert published(grant)["audience"] == audience
    assert published(grant)["link_scope"] == (scope or "unknown")


def test_the_docs_link_examples() -> None:
    examples = sample("05-permission-examples.docs.json")
    existing = one(examples["existingAccessLink"])
    assert existing.audience is LinkAudience.EXISTING_ACCESS
    people = one(examples["specificPeopleLink"])  # recipients, but no scope: unknown reach
    assert people.audience is LinkAudience.UNKNOWN and len(people.recipients) == 2


def test_only_a_claim_is_read_out_of_a_permission_id() -> None:
    assert claim_in_permission_id(b64(EEEU)) == EEEU
    assert claim_in_permission_id("Y2xhc3MzIE93bmVycw") is None  # "class3 Owners"
    assert claim_in_permission_id("9d0f3c3e-0000-4000-8000-000000000000") is None  # a link
    assert claim_in_permission_id("not base64url!") is None
    assert claim_in_permission_id(b64("c:0\x00hidden")) is None
    assert read_claim("Marketing Owners") is None
