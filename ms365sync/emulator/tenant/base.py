"""The tenant's directory, structure and lookups, which its mutations (items.py, sharing.py)
build on; `Tenant` (tenant.py) puts them together. All reads and writes hold `lock`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.login.directory import SITES_FULLCONTROL_ALL, AppRegistration, Directory
from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.model import (
    ChangeKind,
    Drive,
    GrantKey,
    Group,
    GroupKind,
    Item,
    PrincipalKind,
    Role,
    Site,
    SiteGroup,
    SiteUser,
    User,
    UserType,
)

PathLike = str | Sequence[str]

# SharePoint's default site groups and their usual principal ids.
_SITE_GROUPS = ((Role.OWNER, "Owners", 3), (Role.READ, "Visitors", 4), (Role.WRITE, "Members", 5))
_GROUP_DESCRIPTIONS = {
    Role.OWNER: "Use this group to grant people full control permissions to the SharePoint "
    "site: {}",
    Role.READ: "Use this group to grant people read permissions to the SharePoint site: {}",
    Role.WRITE: "Use this group to grant people contribute permissions to the SharePoint site: {}",
}


class MutationError(InputError):
    """A mutation that cannot apply (unknown path, name clash, invalid name ...).

    `hint` tells a caller of this API how the tenant could allow it; scenario files, which
    cannot act on it, report `message` alone.
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message = message
        self.hint = hint


def split_path(path: PathLike) -> list[str]:
    """Segments of a library-relative path; a sequence is taken as segments already.

    Passing segments lets tests create names that contain separators (hostile-name tests).
    """
    if isinstance(path, str):
        return [part for part in path.strip("/").split("/") if part]
    return list(path)


class TenantBase:
    """A whole emulated tenant's state, deterministic from `seed`: directory, sites, libraries."""

    def __init__(
        self,
        *,
        seed: int = 0,
        tenant_id: str | None = None,
        domain: str = "contoso.onmicrosoft.com",
        clock: Callable[[], float] = time.time,
        realistic_gaps: bool = True,
        delete_reports_descendants: bool = True,
        strict_names: bool = True,
        delta_token_lifetime_s: float | None = None,
        shared_changed_as_string: bool = False,
    ) -> None:
        self.seed = seed
        self.ids = ids.IdFactory(seed)
        self.clock = clock
        self.lock = threading.RLock()
        self.directory = Directory(tenant_id or str(self.ids.guid()), [domain])
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.sites: dict[str, Site] = {}
        self._drives: dict[str, Drive] = {}
        self.realistic_gaps = realistic_gaps
        self.delete_reports_descendants = delete_reports_descendants
        self.strict_names = strict_names
        # Delta tokens older than this answer 410 (None: they never age out).
        self.delta_token_lifetime_s = delta_token_lifetime_s
        # `@microsoft.graph.sharedChanged` is documented as the string "True" but arrives as
        # the boolean true (graph-facts §5.8, graph-docs #15242); this switch sends the documented
        # form, so clients can be run against both.
        self.shared_changed_as_string = shared_changed_as_string
        # Items whose `shared` facet delta leaves out although their permissions are their own
        # (None: every item's): SharePoint's delta has dropped the facet before
        # (onedrive-api-docs #714, 2017; #1101, 2019). Empty: the marks are complete.
        self.unmarked: set[str] | None = set()
        self.system_user = User(str(self.ids.guid()), "System Account", f"system@{domain}")
        self.author = self.system_user
        # Site principal ids (siteUser.id) of users and Entra groups, numbered in the order
        # they join the tenant after the default site groups' 3, 4, 5 (unique per principal);
        # the claims a site group holds are numbered by login name when first added.
        self._principal_ids: dict[str, int] = {}
        # Bumped by every change of a group's or a site group's members (caches key on it).
        self.membership_version = 0

    @property
    def tenant_id(self) -> str:
        return self.directory.tenant_id

    @property
    def domain(self) -> str:
        return self.directory.domains[0]

    def now(self) -> float:
        return float(int(self.clock()))

    # ----------------------------------------------------------------- directory

    def add_app(
        self,
        display_name: str,
        *,
        client_id: str | None = None,
        secret: str | None = None,
        roles: Sequence[str] = (SITES_FULLCONTROL_ALL,),
        certificates: Sequence[bytes] = (),
    ) -> AppRegistration:
        """Register a confidential client; a secret is generated when none is given."""
        with self.lock:
            app = AppRegistration(
                client_id=client_id or str(self.ids.guid()),
                display_name=display_name,
                secrets=[secret or "emu~" + ids.b64url(self.ids.randbytes(30))],
                certificates=list(certificates),
                roles=list(roles),
            )
            self.directory.apps[app.client_id] = app
            return app

    def add_user(self, display_name: str, email: str, *, guest: bool = False) -> User:
        """A member of the tenant, or with `guest` an external user invited into it (its user
        principal name then is "<address with _ for @>#EXT#@<tenant domain>")."""
        with self.lock:
            upn = ids.guest_upn(email, self.domain) if guest else ""
            kind = UserType.GUEST if guest else UserType.MEMBER
            user = User(str(self.ids.guid()), display_name, email, kind, upn)
            self.users[user.id] = user
            self._principal_ids[user.id] = 10 + len(self._principal_ids)
            return user

    def add_group(
        self, display_name: str, email: str, *, kind: GroupKind = GroupKind.SECURITY
    ) -> Group:
        """An Entra group: a security group (the default) or a Microsoft 365 group."""
        with self.lock:
            group = Group(str(self.ids.guid()), display_name, email, kind, created=self.now())
            self.groups[group.id] = group
            self._principal_ids[group.id] = 10 + len(self._principal_ids)
            # Its owners' claim is a principal of its own (graph-facts §6.10).
            self._principal_ids[group.id + "_o"] = 10 + len(self._principal_ids)
            return group

    def add_site_user(
        self, site: Site, display_name: str, login_name: str, email: str | None = None
    ) -> SiteUser:
        """An account `site` knows without an Entra object (an identity claim login name,
        e.g. "i:0#.f|membership|former@contoso.com")."""
        if not login_name.lower().startswith("i:"):
            raise MutationError(f"site user {login_name!r}: a login name starts with 'i:'")
        with self.lock:
            if login_name.lower() in site.users:
                raise MutationError(f"site {site.path} already has a user {login_name!r}")
            number = self._principal_ids[login_name.lower()] = 10 + len(self._principal_ids)
            account = SiteUser(number, display_name, login_name, email)
            site.users[login_name.lower()] = account
            return account

    def site_principal_id(self, principal_id: str) -> int:
        """The site principal id (siteUser.id) of a user or group; 6 for anyone unknown."""
        return self._principal_ids.get(principal_id, 6)

    def _claim_principal_id(self, login_name: str) -> int:
        """The site principal id of a claim (numbered when first used, like a new user)."""
        if login_name not in self._principal_ids:
            self._principal_ids[login_name] = 10 + len(self._principal_ids)
        return self._principal_ids[login_name]

    def user(self, ref: str) -> User:
        """A user by id, email, user principal name or display name (case-insensitive)."""
        lowered = ref.lower()
        if lowered in self.users:
            return self.users[lowered]
        for user in self.users.values():
            upn = user.user_principal_name.lower()
            names = (user.id, user.email.lower(), upn, user.display_name.lower())
            if lowered in names:
                return user
        known = _names(user.display_name for user in self.users.values())
        raise MutationError(f"unknown user {ref!r}; known: {known}")

    def group(self, ref: str) -> Group:
        """A group by id, email or display name (case-insensitive)."""
        lowered = ref.lower()
        if lowered in self.groups:
            return self.groups[lowered]
        for group in self.groups.values():
            if lowered in (group.id, group.email.lower(), group.display_name.lower()):
                return group
        known = _names(group.display_name for group in self.groups.values())
        raise MutationError(f"unknown group {ref!r}; known: {known}")

    # ----------------------------------------------------------------- structure

    def add_site(self, hostname: str, path: str, display_name: str) -> Site:
        """A site with its Owners / Members / Visitors groups."""
        if not path.startswith(("/sites/", "/teams/")) or path.count("/") != 2:
            raise MutationError(f"site path {path!r}: expected /sites/NAME or /teams/NAME")
        with self.lock:
            if self.site_by_path(hostname, path) is not None:
                raise MutationError(f"site {hostname}{path} already exists")
            site = Site(
                hostname=hostname.lower(),
                path=path,
                display_name=display_name,
                collection=self.ids.guid(),
                web=self.ids.guid(),
                now=self.now(),
            )
            for role, suffix, principal_id in _SITE_GROUPS:
                description = _GROUP_DESCRIPTIONS[role].format(display_name)
                title = f"{display_name} {suffix}"
                site.groups[role] = SiteGroup(principal_id, title, role, description=description)
            self.sites[site.id] = site
            self.directory.sharepoint_hosts.add(site.hostname)
            return site

    def add_library(self, site: Site, title: str, url_segment: str | None = None) -> Drive:
        """A document library whose root grants the site's three groups their roles."""
        with self.lock:
            if site.drive_named(title) or (url_segment and site.drive_named(url_segment)):
                raise MutationError(f"library {title!r} already exists in {site.path}")
            list_guid = self.ids.guid()
            prefix = self.ids.randbytes(4)
            root_guid = self.ids.guid()
            now = self.now()
            root = Item(
                item_id=ids.item_id(prefix, root_guid),
                guid=root_guid,
                name="root",
                parent=None,
                is_folder=True,
                now=now,
                author=self.author.id,
            )
            root.grants = {
                (PrincipalKind.SITE_GROUP, str(group.id)): role
                for role, group in site.groups.items()
            }
            drive = Drive(
                drive_id=ids.drive_id(site.collection, site.web, list_guid),
                site=site,
                list_guid=list_guid,
                prefix=prefix,
                title=title,
                url_segment=url_segment or title,
                now=now,
                root=root,
            )
            site.drives[drive.id] = drive
            self._drives[drive.id] = drive
            root.change_seq = drive.journal.append(root.id, ChangeKind.CHANGE, now)
            return drive

    # ----------------------------------------------------------------- lookup

    def site_by_path(self, hostname: str, path: str) -> Site | None:
        lowered_host, lowered_path = hostname.lower(), "/" + path.strip("/").lower()
        for site in self.sites.values():
            if site.hostname == lowered_host and site.path.lower() == lowered_path:
                return site
        return None

    def site(self, site_ref: str) -> Site | None:
        """A site by composite id (any GUID case, commas maybe %2C-encoded) or collection GUID."""
        ref = site_ref.replace("%2C", ",").replace("%2c", ",").lower()
        for site in self.sites.values():
            if ref in (site.id.lower(), str(site.collection)):
                return site
        return None

    def drive(self, drive_id: str) -> Drive | None:
        return self._drives.get(drive_id)

    def drives(self) -> list[Drive]:
        return list(self._drives.values())

    def library(self, site_ref: str, library: str) -> Drive:
        """A library by site (short name, path, display name or id) and title or URL segment."""
        with self.lock:
            site = self._site_ref(site_ref)
            drive = site.drive_named(library)
            if drive is None:
                known = ", ".join(sorted(d.title for d in site.drives.values()))
                raise MutationError(f"site {site_ref!r} has no library {library!r}; known: {known}")
            return drive

    def _site_ref(self, ref: str) -> Site:
        lowered = ref.lower()
        for site in self.sites.values():
            if lowered in (site.name.lower(), site.path.lower(), site.display_name.lower()):
                return site
        found = self.site(ref)
        if found is None:
            known = ", ".join(sorted(s.name for s in self.sites.values()))
            raise MutationError(f"unknown site {ref!r}; known: {known}")
        return found

    def item(self, drive: Drive, path: PathLike) -> Item:
        """The item at `path`, or MutationError naming the path."""
        node = drive.root
        for part in split_path(path):
            child = node.children.get(part)
            if child is None:
                raise MutationError(f"{drive.title}: no item at {'/'.join(split_path(path))!r}")
            node = child
        return node

    def principal(self, site: Site, spec: str) -> GrantKey:
        """A grant key from "user:REF" (members and guests), "group:REF" (a group's members),
        "groupowners:REF" (a Microsoft 365 group's owners), "sitegroup:Owners|Members|
        Visitors|TITLE", "siteuser:LOGIN|NAME", "everyone_except_external" or "everyone"."""
        kind, _, ref = spec.partition(":")
        if kind == "user":
            return (PrincipalKind.USER, self.user(ref).id)
        if kind in ("group", "groupowners"):
            return (PrincipalKind(kind), self.group(ref).id)
        if kind == "sitegroup":
            for group in site.groups.values():
                if ref.lower() in (group.title.lower(), group.title.lower().rsplit(" ", 1)[-1]):
                    return (PrincipalKind.SITE_GROUP, str(group.id))
            raise MutationError(f"site {site.path} has no group {ref!r}")
        if kind == "siteuser":
            for login, account in site.users.items():
                if ref.lower() in (login, account.display_name.lower()):
                    return (PrincipalKind.SITE_USER, login)
            raise MutationError(f"site {site.path} has no site user {ref!r}")
        if spec in (PrincipalKind.ALL_MEMBERS.value, PrincipalKind.EVERYONE.value):
            return (PrincipalKind(spec), "")
        raise MutationError(
            f"principal {spec!r}: expected user:EMAIL, group:NAME, groupowners:NAME, "
            "sitegroup:Owners|Members|Visitors, siteuser:LOGIN, everyone_except_external "
            "or everyone"
        )

    def _non_root(self, drive: Drive, path: PathLike) -> Item:
        item = self.item(drive, path)
        if item.is_root:
            raise MutationError("the library root cannot be renamed, moved or deleted")
        return item


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"
