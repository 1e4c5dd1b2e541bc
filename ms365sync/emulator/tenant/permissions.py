"""Permissions as SharePoint reports them through Graph, and as the export writes them.

Rendering follows graph-facts §6: one entry per principal; grantedToV2 with the deprecated
grantedTo beside it; site groups as grantedToV2.siteGroup; users (guests too, whose login
name holds "#ext#") with their siteUser; a Microsoft 365 group's members and owners by
grantedToV2.group and the federated-directory claim (the owners' ends in "_o"); accounts
without an Entra object, "Everyone except external users" and "Everyone" by siteUser alone;
sharing links with grantedToIdentitiesV2; ids are the base64url of the principal's login
name; roles are owner / write / read; `inheritedFrom` is an empty object on every entry, as
in the 2021 capture; links carry no `hasPassword` (OneDrive personal only). Children that
inherit report exactly their permission root's entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.model import (
    Drive,
    GrantKey,
    Group,
    Item,
    PrincipalKind,
    Role,
    SharingLink,
    User,
)
from ms365sync.emulator.tenant.tenant import Tenant

JSON = dict[str, Any]

_NO_EXPIRY = "0001-01-01T00:00:00Z"
_DEPRECATED_TO = "GrantedTo has been deprecated. Refer to GrantedToV2"
_DEPRECATED_IDENTITIES = "GrantedToIdentities has been deprecated. Refer to GrantedToIdentitiesV2"
ALL_MEMBERS_NAME = "Everyone except external users"
EVERYONE_NAME = "Everyone"


def effective_grants(item: Item) -> dict[GrantKey, Role]:
    grants = item.permission_root().grants
    assert grants is not None
    return grants


def _user_identity(tenant: Tenant, user: User) -> JSON:
    return {
        "user": {"id": user.id, "displayName": user.display_name, "email": user.email},
        "siteUser": {
            "id": str(tenant.site_principal_id(user.id)),
            "displayName": user.display_name,
            "email": user.email,
            "loginName": ids.user_login(user.user_principal_name),
        },
    }


@dataclass(frozen=True)
class _Principal:
    """A grant's principal as permission entries show it: its login name (the entry id is
    its base64url), its name, and its sharePointIdentitySet and deprecated identitySet."""

    login: str
    name: str
    v2: JSON
    v1: JSON


def _site_user(number: int, name: str, login: str, email: str | None = None) -> JSON:
    found: JSON = {"id": str(number), "displayName": name, "loginName": login}
    if email is not None:
        found["email"] = email
    return found


def _principal(tenant: Tenant, drive: Drive, key: GrantKey) -> _Principal:
    """Graph-facts §6.3-6.10: site groups by siteGroup; users (members and guests) by user and
    siteUser; a group's members and owners by group and a siteUser carrying their claim;
    site users and the tenant-wide principals by siteUser alone."""
    kind, ref = key
    if kind is PrincipalKind.SITE_GROUP:
        title = next(g.title for g in drive.site.groups.values() if str(g.id) == ref)
        group = {"siteGroup": {"id": ref, "displayName": title, "loginName": title}}
        return _Principal(title, title, group, {"user": {"displayName": title}})
    if kind is PrincipalKind.USER:
        user = tenant.users[ref]
        v1 = {"user": {"id": user.id, "displayName": user.display_name, "email": user.email}}
        login = ids.user_login(user.user_principal_name)
        return _Principal(login, user.display_name, _user_identity(tenant, user), v1)
    if kind in (PrincipalKind.GROUP, PrincipalKind.GROUP_OWNERS):
        return _group(tenant, tenant.groups[ref], owners=kind is PrincipalKind.GROUP_OWNERS)
    if kind is PrincipalKind.SITE_USER:
        account = drive.site.users[ref]
        name, login = account.display_name, account.login_name
        v2 = {"siteUser": _site_user(account.id, name, login, account.email)}
        v1 = {"user": {"displayName": name} | ({"email": account.email} if account.email else {})}
        return _Principal(login, name, v2, v1)
    if kind is PrincipalKind.ALL_MEMBERS:
        login, name, number = (
            ids.everyone_except_external_login(tenant.tenant_id),
            ALL_MEMBERS_NAME,
            8,
        )
    else:
        login, name, number = ids.EVERYONE_LOGIN, EVERYONE_NAME, 7
    # Site principal numbers of their own beside the default groups' 3, 4, 5 [INFER].
    v2 = {"siteUser": _site_user(number, name, login)}
    return _Principal(login, name, v2, {"user": {"displayName": name}})


def _group(tenant: Tenant, group: Group, *, owners: bool) -> _Principal:
    """An Entra group's members (a security group's claim, or a Microsoft 365 group's), or a
    Microsoft 365 group's owners: "<group> Owners" with the group's own id and mail, told
    apart from the members only by the "_o" claim (graph-facts §6.10, §16.3)."""
    if owners:
        login = ids.group_owners_login(group.id)
    elif group.is_microsoft_365:
        login = ids.group_login(group.id)
    else:
        login = ids.security_group_login(group.id)
    name = f"{group.display_name} Owners" if owners else group.display_name
    identity = {"id": group.id, "displayName": name, "email": group.email}
    number = tenant.site_principal_id(group.id + ("_o" if owners else ""))
    v2 = {"group": identity, "siteUser": _site_user(number, name, login)}
    return _Principal(login, name, v2, {"user": dict(identity)})


def render_permission(tenant: Tenant, drive: Drive, key: GrantKey, role: Role) -> JSON:
    """One permission entry in the SharePoint shape."""
    kind, ref = key
    if kind is PrincipalKind.LINK:
        return _render_link(tenant, drive.links[ref], role)
    principal = _principal(tenant, drive, key)
    return {
        "id": ids.login_id(principal.login),
        "roles": [role.value],
        "grantedToV2": principal.v2,
        "grantedTo": principal.v1,
        "@deprecated.GrantedTo": _DEPRECATED_TO,
        "inheritedFrom": {},
    }


def _render_link(tenant: Tenant, link: SharingLink, role: Role) -> JSON:
    entry: JSON = {
        "id": link.id,
        "roles": [role.value],
        "link": {
            "scope": link.scope,
            "type": link.type,
            "webUrl": link.web_url,
            "preventsDownload": False,
        },
        "shareId": link.share_id,
        "expirationDateTime": _NO_EXPIRY,
        "inheritedFrom": {},
    }
    if link.scope == "users":
        people = [tenant.users[user_id] for user_id in link.recipients if user_id in tenant.users]
        entry["grantedToIdentitiesV2"] = [_user_identity(tenant, person) for person in people]
        entry["@deprecated.GrantedToIdentities"] = _DEPRECATED_IDENTITIES
        entry["grantedToIdentities"] = [
            {"user": {"id": p.id, "displayName": p.display_name, "email": p.email}} for p in people
        ]
    return entry


def render_permissions(tenant: Tenant, drive: Drive, item: Item) -> list[JSON]:
    """Every permission entry of an item (its own or its permission root's)."""
    return [
        render_permission(tenant, drive, key, role) for key, role in effective_grants(item).items()
    ]


def display_label(tenant: Tenant, drive: Drive, key: GrantKey, role: Role) -> str:
    """The original tool's "Display Name:::Level" form of one grant."""
    kind, ref = key
    name = (
        drive.links[ref].label
        if kind is PrincipalKind.LINK
        else _principal(tenant, drive, key).name
    )
    return f"{name}:::{role.level}"


def expected_labels(tenant: Tenant, drive: Drive, item: Item) -> list[str]:
    """The sorted, de-duplicated .permissions.json list for one file."""
    return sorted(
        {display_label(tenant, drive, key, role) for key, role in effective_grants(item).items()}
    )


def shared_facet(
    tenant: Tenant, drive: Drive, item: Item, *, hierarchical: bool, in_delta: bool = False
) -> JSON | None:
    """The `shared` facet, or None where Graph would omit it.

    With `Prefer: hierarchicalsharing` only roots of permission hierarchies carry it (an
    empty object when nothing beyond the site groups is granted); without it, every item
    whose effective grants reach beyond the site groups carries its widest scope. In delta,
    the items the tenant leaves unmarked (`Tenant.unmarked`) carry none.
    """
    if hierarchical and item.grants is None:
        return None
    if in_delta and (tenant.unmarked is None or item.id in tenant.unmarked):
        return None
    grants = effective_grants(item)
    scope = _widest_scope(drive, grants)
    if scope is None:
        return {} if hierarchical else None
    return {"scope": scope}


def _widest_scope(drive: Drive, grants: dict[GrantKey, Role]) -> str | None:
    scopes: set[str] = set()
    for kind, ref in grants:
        if kind is PrincipalKind.LINK:
            scopes.add(drive.links[ref].scope)
        elif kind is not PrincipalKind.SITE_GROUP:
            scopes.add("users")  # a grant beyond the site groups [INFER for the special ones]
    for scope in ("anonymous", "organization", "users"):
        if scope in scopes:
            return scope
    return None
