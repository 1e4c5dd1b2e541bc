"""Translation of Graph wire models into ms365sync's internal values, at the graph/ boundary.

Permissions become both the original tool's "Display Name:::Level" labels and id-keyed
grants. Identity precedence follows graph-facts §6.3: grantedToV2 before the deprecated grantedTo,
grantedToIdentitiesV2 before grantedToIdentities; inheritance is never inferred from
`inheritedFrom` (§6.6).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from ms365sync.graph.types import DriveItem, Identity, IdentitySet, Permission
from ms365sync.models import Grant, PermissionSet, PrincipalKind, RemoteItem

LEVELS = {"owner": "Full Control", "write": "Edit", "read": "View"}


def iso(moment: datetime | None) -> str | None:
    """A timestamp in Graph's own form (UTC, whole seconds, `Z`)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def remote_item(item: DriveItem) -> RemoteItem:
    """A delta entry as the state store keeps it."""
    parent = item.parent_reference.id if item.parent_reference is not None else None
    return RemoteItem(
        item_id=item.id,
        parent_id=None if item.is_root else parent,
        name=item.name,
        is_folder=item.folder is not None or item.is_root or item.package is not None,
        is_root=item.is_root,
        deleted=item.is_deleted,
        size=item.size or 0,
        etag=item.e_tag,
        ctag=item.c_tag,
        quick_xor_hash=item.quick_xor_hash,
        modified=iso(item.last_modified_date_time),
        mime_type=item.file.mime_type if item.file is not None else None,
        shared=item.shared is not None,
        shared_changed=item.shared_changed,
        package=item.package is not None,
    )


def level(role: str) -> str:
    """The SharePoint permission level shown for a Graph role (unknown roles as they are)."""
    return LEVELS.get(role.lower(), role)


def _principal(identities: IdentitySet | None) -> tuple[PrincipalKind, Identity] | None:
    """The most specific principal of an identity set."""
    if identities is None:
        return None
    for kind, identity in (
        (PrincipalKind.SITE_GROUP, identities.site_group),
        (PrincipalKind.SITE_GROUP, identities.share_point_group),
        (PrincipalKind.GROUP, identities.group),
        (PrincipalKind.USER, identities.user),
        (PrincipalKind.APPLICATION, identities.application),
        (PrincipalKind.USER, identities.site_user),
    ):
        if identity is not None and (identity.display_name or identity.id):
            return kind, identity
    return None


def _grants_of(entry: Permission) -> list[Grant]:
    roles = entry.roles or ("read",)
    if entry.link is not None:
        recipients = entry.granted_to_identities_v2 or entry.granted_to_identities
        ids = tuple(
            sorted(
                p[1].id or p[1].email or p[1].display_name or ""
                for p in (_principal(r) for r in recipients)
                if p is not None
            )
        )
        link_type = entry.link.type or "unknown"
        scope = entry.link.scope or "unknown"
        return [
            Grant(
                kind=PrincipalKind.LINK,
                principal_id=entry.id,
                display_name=f"Sharing Link ({link_type}, {scope})",
                role=role,
                link_type=link_type,
                link_scope=scope,
                recipients=ids,
            )
            for role in roles
        ]
    found = _principal(entry.granted_to_v2) or _principal(entry.granted_to)
    if found is None:
        return []
    kind, identity = found
    login = identity.login_name
    if entry.granted_to_v2 is not None and entry.granted_to_v2.site_user is not None:
        login = login or entry.granted_to_v2.site_user.login_name
    principal_id = identity.id or entry.id
    if kind is PrincipalKind.SITE_GROUP and identity.id:
        principal_id = f"sitegroup:{identity.id}"
    return [
        Grant(
            kind=kind,
            principal_id=principal_id,
            display_name=identity.display_name or identity.title or principal_id,
            role=role,
            email=identity.email,
            login_name=login,
        )
        for role in roles
    ]


def permission_set(entries: Iterable[Permission]) -> PermissionSet:
    """Labels (deduplicated, sorted) and grants of an item's permission entries."""
    grants = [grant for entry in entries for grant in _grants_of(entry)]
    labels = sorted({f"{g.display_name}:::{level(g.role)}" for g in grants})
    unique = sorted(set(grants), key=lambda g: (g.kind.value, g.principal_id, g.role))
    return PermissionSet(labels=tuple(labels), grants=tuple(unique))
