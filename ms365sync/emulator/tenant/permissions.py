"""Permissions as SharePoint reports them through Graph, and as the export writes them.

Rendering follows graph-facts §6: one entry per principal; grantedToV2 with the deprecated
grantedTo beside it; site groups as grantedToV2.siteGroup; users with their siteUser;
Entra groups keyed by their federated-directory claim; sharing links with
grantedToIdentitiesV2; ids are the base64url of the principal's login name; roles are
owner / write / read; `inheritedFrom` is an empty object on every entry, as in the 2021
capture; links carry no `hasPassword` (OneDrive personal only). Children that inherit
report exactly their permission root's entries.
"""

from __future__ import annotations

from typing import Any

from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.model import (
    Drive,
    GrantKey,
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
            "loginName": ids.user_login(user.email),
        },
    }


def render_permission(tenant: Tenant, drive: Drive, key: GrantKey, role: Role) -> JSON:
    """One permission entry in the SharePoint shape."""
    kind, ref = key
    entry: JSON = {"id": "", "roles": [role.value]}
    if kind is PrincipalKind.SITE_GROUP:
        group = next(g for g in drive.site.groups.values() if str(g.id) == ref)
        entry["id"] = ids.login_id(group.title)
        entry["grantedToV2"] = {
            "siteGroup": {"id": ref, "displayName": group.title, "loginName": group.title}
        }
        entry["grantedTo"] = {"user": {"displayName": group.title}}
    elif kind is PrincipalKind.USER:
        user = tenant.users[ref]
        entry["id"] = ids.login_id(ids.user_login(user.email))
        entry["grantedToV2"] = _user_identity(tenant, user)
        entry["grantedTo"] = {
            "user": {"id": user.id, "displayName": user.display_name, "email": user.email}
        }
    elif kind is PrincipalKind.GROUP:
        group_ = tenant.groups[ref]
        claim = ids.group_login(group_.id)
        entry["id"] = ids.login_id(claim)
        entry["grantedToV2"] = {
            "group": {"id": group_.id, "displayName": group_.display_name, "email": group_.email},
            "siteUser": {
                "id": str(tenant.site_principal_id(group_.id)),
                "displayName": group_.display_name,
                "loginName": claim,
            },
        }
        entry["grantedTo"] = {
            "user": {"id": group_.id, "displayName": group_.display_name, "email": group_.email}
        }
    else:
        return _render_link(tenant, drive.links[ref], role)
    entry["@deprecated.GrantedTo"] = _DEPRECATED_TO
    entry["inheritedFrom"] = {}
    return entry


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
    if kind is PrincipalKind.SITE_GROUP:
        name = next(g.title for g in drive.site.groups.values() if str(g.id) == ref)
    elif kind is PrincipalKind.USER:
        name = tenant.users[ref].display_name
    elif kind is PrincipalKind.GROUP:
        name = tenant.groups[ref].display_name
    else:
        name = drive.links[ref].label
    return f"{name}:::{role.level}"


def expected_labels(tenant: Tenant, drive: Drive, item: Item) -> list[str]:
    """The sorted, de-duplicated .permissions.json list for one file."""
    return sorted(
        {display_label(tenant, drive, key, role) for key, role in effective_grants(item).items()}
    )


def shared_facet(tenant: Tenant, drive: Drive, item: Item, *, hierarchical: bool) -> JSON | None:
    """The `shared` facet, or None where Graph would omit it.

    With `Prefer: hierarchicalsharing` only roots of permission hierarchies carry it (an
    empty object when nothing beyond the site groups is granted); without it, every item
    whose effective grants reach beyond the site groups carries its widest scope.
    """
    if hierarchical and item.grants is None:
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
        elif kind in (PrincipalKind.USER, PrincipalKind.GROUP):
            scopes.add("users")
    for scope in ("anonymous", "organization", "users"):
        if scope in scopes:
            return scope
    return None
