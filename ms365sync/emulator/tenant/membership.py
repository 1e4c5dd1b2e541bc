"""Who belongs to what: guests, Entra groups' members and owners (nesting and the Microsoft 365
rules), group-connected sites, and the members of each site's SharePoint groups.

The mutations refuse what Entra refuses (graph-facts §15.1): a Microsoft 365 group holds users
only and is never a member of another group; a security group holds users and security
groups. Cycles of security groups are allowed, as Entra allows them; the queries below visit
each group once. Every change bumps `membership_version`, which the Graph endpoints' caches
key on.
"""

from __future__ import annotations

from collections import deque

from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.base import MutationError, TenantBase
from ms365sync.emulator.tenant.model import (
    Group,
    GroupKind,
    MemberKind,
    Role,
    Site,
    SiteGroup,
    SiteMember,
    User,
    UserType,
)

_CLAIMS = {
    "everyone": MemberKind.EVERYONE,
    "everyone_except_external": MemberKind.EVERYONE_EXCEPT_EXTERNAL,
}
_SITE_MEMBER_FORMS = (
    "user:EMAIL, group:NAME, groupowners:NAME, everyone or everyone_except_external"
)


class MembershipMutations(TenantBase):
    """Guests, group memberships and ownerships, and site-group members."""

    # ----------------------------------------------------------------- people

    def add_guest(self, display_name: str, mail: str) -> User:
        """A guest invited from outside: userType Guest, UPN `{mail with _}#EXT#@{domain}`."""
        if mail.count("@") != 1:
            raise MutationError(f"guest address {mail!r}: expected name@domain")
        with self.lock:
            upn = ids.guest_upn(mail, self.domain)
            user = User(str(self.ids.guid()), display_name, mail, UserType.GUEST, upn)
            self.users[user.id] = user
            self._principal_ids[user.id] = 10 + len(self._principal_ids)
            return user

    # ----------------------------------------------------------------- Entra groups

    def add_group_member(self, group: Group, member: str) -> None:
        """Add "user:REF" or "group:REF" to `group`'s direct members."""
        with self.lock:
            member_id = self._group_member_id(group, member)
            if member_id in group.members:
                raise MutationError(f"{member!r} is already a member of {group.display_name!r}")
            group.members[member_id] = None
            self.membership_version += 1

    def remove_group_member(self, group: Group, member: str) -> None:
        with self.lock:
            member_id = self._member_ref_id(member)
            if member_id not in group.members:
                raise MutationError(f"{member!r} is not a member of {group.display_name!r}")
            del group.members[member_id]
            self.membership_version += 1

    def add_group_owner(self, group: Group, user_ref: str) -> None:
        """Make a user (by id, email or name) an owner of `group`."""
        with self.lock:
            user = self.user(user_ref)
            if user.id in group.owners:
                raise MutationError(f"{user_ref!r} already owns {group.display_name!r}")
            group.owners[user.id] = None
            self.membership_version += 1

    def remove_group_owner(self, group: Group, user_ref: str) -> None:
        with self.lock:
            user = self.user(user_ref)
            if user.id not in group.owners:
                raise MutationError(f"{user_ref!r} does not own {group.display_name!r}")
            del group.owners[user.id]
            self.membership_version += 1

    def _member_ref_id(self, member: str) -> str:
        kind, _, ref = member.partition(":")
        if kind == "user":
            return self.user(ref).id
        if kind == "group":
            return self.group(ref).id
        raise MutationError(f"member {member!r}: expected user:EMAIL or group:NAME")

    def _group_member_id(self, group: Group, member: str) -> str:
        """The object id `member` names, if Entra lets it join `group` (graph-facts §15.1)."""
        member_id = self._member_ref_id(member)
        if member_id in self.users:
            return member_id
        joining = self.groups[member_id]
        if group.is_microsoft_365:
            raise MutationError(
                f"{group.display_name!r} is a Microsoft 365 group: its members are users only"
            )
        if joining.is_microsoft_365:
            raise MutationError(
                f"{joining.display_name!r} is a Microsoft 365 group: it cannot be a member of "
                "another group"
            )
        return member_id

    # ----------------------------------------------------------------- sites and site groups

    def connect_site(self, site: Site, group: Group) -> None:
        """Make `site` the site of a Microsoft 365 group: its Owners group then holds the
        group's owners' claim and its Members group the group's members' claim."""
        with self.lock:
            if not group.is_microsoft_365:
                raise MutationError(
                    f"{group.display_name!r} is a security group: only a Microsoft 365 group "
                    "has a site"
                )
            if site.group_id is not None:
                raise MutationError(f"site {site.path} already belongs to a group")
            site.group_id = group.id
            self._join_site_group(site.groups[Role.OWNER], (MemberKind.GROUP_OWNERS, group.id))
            self._join_site_group(site.groups[Role.WRITE], (MemberKind.GROUP, group.id))

    def site_group(self, site: Site, ref: str) -> SiteGroup:
        """A site group by "Owners", "Members", "Visitors" or its title (any case)."""
        lowered = ref.lower()
        for group in site.groups.values():
            if lowered in (group.title.lower(), group.title.lower().rsplit(" ", 1)[-1]):
                return group
        known = ", ".join(g.title for g in site.groups.values())
        raise MutationError(f"site {site.path} has no group {ref!r}; known: {known}")

    def site_member(self, spec: str) -> SiteMember:
        """What a site-group member spec names: "user:REF", "group:REF" (a Microsoft 365
        group by its members' claim), "groupowners:REF", "everyone" or
        "everyone_except_external"."""
        kind, _, ref = spec.partition(":")
        if not ref and kind.lower() in _CLAIMS:
            return (_CLAIMS[kind.lower()], "")
        if kind == "user":
            return (MemberKind.USER, self.user(ref).id)
        if kind == "group":
            return (MemberKind.GROUP, self.group(ref).id)
        if kind == "groupowners":
            group = self.group(ref)
            if not group.is_microsoft_365:
                raise MutationError(
                    f"{group.display_name!r} is a security group: only a Microsoft 365 group "
                    "has an owners' claim"
                )
            return (MemberKind.GROUP_OWNERS, group.id)
        raise MutationError(f"site-group member {spec!r}: expected {_SITE_MEMBER_FORMS}")

    def add_site_group_member(self, site: Site, site_group: str, member: str) -> SiteGroup:
        with self.lock:
            group = self.site_group(site, site_group)
            key = self.site_member(member)
            if key in group.members:
                raise MutationError(f"{member!r} is already a member of {group.title!r}")
            self._join_site_group(group, key)
            return group

    def remove_site_group_member(self, site: Site, site_group: str, member: str) -> SiteGroup:
        with self.lock:
            group = self.site_group(site, site_group)
            key = self.site_member(member)
            if key not in group.members:
                raise MutationError(f"{member!r} is not a member of {group.title!r}")
            del group.members[key]
            self.membership_version += 1
            return group

    def _join_site_group(self, group: SiteGroup, key: SiteMember) -> None:
        kind, _ = key
        if kind not in (MemberKind.USER, MemberKind.GROUP):
            self._claim_principal_id(member_login(self, key))
        group.members[key] = None
        self.membership_version += 1


# --------------------------------------------------------------------- queries


def transitive_member_ids(tenant: TenantBase, group: Group) -> list[str]:
    """Every user and group below `group`, each once, nearest first; `group` itself is left
    out even when a cycle leads back to it (graph-facts §15.1)."""
    seen = {group.id}
    found: list[str] = []
    queue: deque[Group] = deque([group])
    while queue:
        for member_id in queue.popleft().members:
            if member_id in seen:
                continue
            seen.add(member_id)
            found.append(member_id)
            nested = tenant.groups.get(member_id)
            if nested is not None:
                queue.append(nested)
    return found


def member_login(tenant: TenantBase, member: SiteMember) -> str:
    """The login name SharePoint shows for a site-group member (graph-facts §16.3)."""
    kind, ref = member
    if kind is MemberKind.USER:
        return ids.user_login(tenant.users[ref].user_principal_name)
    if kind is MemberKind.GROUP:
        group = tenant.groups[ref]
        if group.kind is GroupKind.MICROSOFT_365:
            return ids.group_login(ref)
        return ids.security_group_login(ref)
    if kind is MemberKind.GROUP_OWNERS:
        return ids.group_owners_login(ref)
    if kind is MemberKind.EVERYONE:
        return ids.EVERYONE_LOGIN
    return ids.everyone_except_external_login(tenant.tenant_id)


def member_principal_id(tenant: TenantBase, member: SiteMember) -> int:
    """The member's site principal id: a user's or group's own, a claim's by its login name."""
    kind, ref = member
    if kind in (MemberKind.USER, MemberKind.GROUP):
        return tenant.site_principal_id(ref)
    return tenant.site_principal_id(member_login(tenant, member))


def member_title(tenant: TenantBase, member: SiteMember) -> str:
    """The display name SharePoint shows for a site-group member."""
    kind, ref = member
    if kind is MemberKind.USER:
        return tenant.users[ref].display_name
    if kind is MemberKind.EVERYONE:
        return "Everyone"
    if kind is MemberKind.EVERYONE_EXCEPT_EXTERNAL:
        return "Everyone except external users"
    group = tenant.groups[ref]
    if kind is MemberKind.GROUP_OWNERS:
        return f"{group.display_name} Owners"
    return f"{group.display_name} Members" if group.is_microsoft_365 else group.display_name


def site_group_user_ids(tenant: TenantBase, group: SiteGroup) -> set[str]:
    """The users a site group's membership reaches: its users, the users below its Entra
    groups, a Microsoft 365 group's owners for its owners' claim, every user for Everyone and
    every member (not guest) for Everyone except external users. The truth a membership
    snapshot must arrive at."""
    reached: set[str] = set()
    for kind, ref in group.members:
        if kind is MemberKind.USER:
            reached.add(ref)
        elif kind is MemberKind.GROUP:
            below = transitive_member_ids(tenant, tenant.groups[ref])
            reached.update(member for member in below if member in tenant.users)
        elif kind is MemberKind.GROUP_OWNERS:
            reached.update(tenant.groups[ref].owners)
        elif kind is MemberKind.EVERYONE:
            reached.update(tenant.users)
        else:
            reached.update(u.id for u in tenant.users.values() if not u.is_guest)
    return reached
