"""Translation of Graph wire models into ms365sync's internal values, at the graph/ boundary.

Permissions become both the original tool's "Display Name:::Level" labels and id-keyed
grants. Identity precedence follows graph-facts §6.3: grantedToV2 before the deprecated grantedTo,
grantedToIdentitiesV2 before grantedToIdentities; a login name recognised as a claim
(`claims`) says who an entry stands for before the identity set's shape does (§6.12);
inheritance is never inferred from `inheritedFrom` (§6.6).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from ms365sync.graph.claims import Claim, claim_in_permission_id, read_claim
from ms365sync.graph.types import DriveItem, Identity, IdentitySet, Permission, SharingLink
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
        malware=None if item.malware is None else item.malware.description or "",
        list_item_id=item.sharepoint_ids.list_item_id if item.sharepoint_ids else None,
    )


def level(role: str) -> str:
    """The SharePoint permission level shown for a Graph role (unknown roles as they are)."""
    return LEVELS.get(role.lower(), role)


def _principal(identities: IdentitySet | None) -> tuple[PrincipalKind, Identity] | None:
    """The most specific principal of an identity set, by its shape alone (§6.3)."""
    if identities is None:
        return None
    for kind, identity in (
        (PrincipalKind.SITE_GROUP, identities.site_group),
        (PrincipalKind.SITE_GROUP, identities.share_point_group),
        (PrincipalKind.GROUP, identities.group),
        (PrincipalKind.USER, identities.user),
        (PrincipalKind.APPLICATION, identities.application),
        (PrincipalKind.SITE_USER, identities.site_user),
    ):
        if identity is not None and (identity.display_name or identity.id):
            return kind, identity
    return None


def _link_grants(entry: Permission, link: SharingLink, roles: Iterable[str]) -> list[Grant]:
    recipients = entry.granted_to_identities_v2 or entry.granted_to_identities
    ids = tuple(
        sorted(
            p[1].id or p[1].email or p[1].display_name or ""
            for p in (_principal(r) for r in recipients)
            if p is not None
        )
    )
    link_type = link.type or "unknown"
    scope = link.scope or "unknown"
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


def _holder(
    entry: Permission, kind: PrincipalKind, identity: Identity
) -> tuple[PrincipalKind, str, Identity, str | None]:
    """Whom a principal entry grants to: (kind, principal id, the identity that names it,
    its login name), in the order of graph-facts §6.12; `kind` and `identity` are what the
    identity set's shape says."""
    if kind is PrincipalKind.SITE_GROUP:  # its login name is its title, never a claim
        group_id = f"sitegroup:{identity.id}" if identity.id else entry.id
        return kind, group_id, identity, identity.login_name
    v2 = entry.granted_to_v2 or IdentitySet()
    site_user = v2.site_user or Identity()
    logins = (site_user.login_name, identity.login_name, claim_in_permission_id(entry.id))
    for login in (name for name in logins if name):
        claim = read_claim(login)
        if claim is not None:
            return _claimed(entry, claim, login, identity, site_user)
    given = identity.login_name or site_user.login_name  # no claim: as it came
    if identity.id:
        return kind, identity.id, identity, given
    return PrincipalKind.UNKNOWN, entry.id, identity, given  # a bare name


def _claimed(
    entry: Permission, claim: Claim, login: str, identity: Identity, site_user: Identity
) -> tuple[PrincipalKind, str, Identity, str | None]:
    if claim.group_id is not None:
        return claim.kind, claim.group_id, identity, login
    if claim.kind in (PrincipalKind.USER, PrincipalKind.GUEST):
        users = (s.user for s in (entry.granted_to_v2, entry.granted_to) if s is not None)
        entra_id = next((user.id for user in users if user is not None and user.id), None)
        if entra_id is not None:
            return claim.kind, entra_id, identity, login
        if claim.kind is PrincipalKind.USER:  # known to the site only
            return PrincipalKind.SITE_USER, site_user.id or login, identity, login
        return claim.kind, site_user.id or login, identity, login
    if claim.kind is PrincipalKind.SITE_USER:
        return claim.kind, site_user.id or login, identity, login
    return claim.kind, login, identity, login  # everyone, all members, unknown: by claim


def _grants_of(entry: Permission) -> list[Grant]:
    roles = entry.roles or ("read",)
    if entry.link is not None:
        return _link_grants(entry, entry.link, roles)
    found = _principal(entry.granted_to_v2) or _principal(entry.granted_to)
    if found is None:
        return []  # names nobody
    kind, principal_id, identity, login = _holder(entry, *found)
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
