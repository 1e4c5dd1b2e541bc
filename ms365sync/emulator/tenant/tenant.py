"""The emulated tenant: directory, sites and libraries, and every mutation tests, scenarios
and the control API apply to them.

All reads and writes go through `Tenant.lock`. Each mutation stamps the items it touches
with new journal numbers so that delta reports it, with the SharePoint quirks the Graph
facts document: ancestors are re-sent by delta, not stamped here; a metadata change bumps
the eTag only, a content change both eTag and cTag; a permission change is a separate kind
of journal entry that only callers asking for sharing changes see; and, while
`realistic_gaps` is on, the known gaps of the sharing feed (graph-facts §5.8) are reproduced.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.login.directory import SITES_FULLCONTROL_ALL, AppRegistration, Directory
from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.content import Content, mime_type_for
from ms365sync.emulator.tenant.model import (
    ChangeKind,
    Drive,
    GrantKey,
    Group,
    Item,
    PrincipalKind,
    Role,
    SharingLink,
    Site,
    SiteGroup,
    Tombstone,
    User,
)

PathLike = str | Sequence[str]

# SharePoint's default site groups and their usual principal ids.
_SITE_GROUPS = ((Role.OWNER, "Owners", 3), (Role.READ, "Visitors", 4), (Role.WRITE, "Members", 5))
_INVALID_CHARS = set('"*:<>?/\\|')


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


class Tenant:
    """A whole emulated tenant, deterministic from `seed`."""

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
        self.system_user = User(str(self.ids.guid()), "System Account", f"system@{domain}")
        self.author = self.system_user
        # Site principal ids (siteUser.id) of users and Entra groups, numbered in the order
        # they join the tenant after the default site groups' 3, 4, 5 (unique per principal).
        self._principal_ids: dict[str, int] = {}

    @property
    def tenant_id(self) -> str:
        return self.directory.tenant_id

    @property
    def domain(self) -> str:
        return self.directory.domains[0]

    def now(self) -> float:
        return float(int(self.clock()))

    def rehearsal_copy(self) -> Tenant:
        """A deep copy to try changes on: the same state and the same id sequence (so the copy
        draws the ids the tenant would), its own lock, the same clock; contents are shared, as
        they are immutable. Call it under `self.lock`."""
        shared: dict[int, object] = {id(self.lock): threading.RLock(), id(self.clock): self.clock}
        twin = copy.deepcopy(self, shared)
        # The copy has the tenant's state and its class's rules, not methods replaced on this
        # instance (tests replace them to make only the real application fail).
        for name in [name for name in vars(twin) if callable(getattr(Tenant, name, None))]:
            delattr(twin, name)
        return twin

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

    def add_user(self, display_name: str, email: str) -> User:
        with self.lock:
            user = User(str(self.ids.guid()), display_name, email)
            self.users[user.id] = user
            self._principal_ids[user.id] = 10 + len(self._principal_ids)
            return user

    def add_group(self, display_name: str, email: str) -> Group:
        with self.lock:
            group = Group(str(self.ids.guid()), display_name, email)
            self.groups[group.id] = group
            self._principal_ids[group.id] = 10 + len(self._principal_ids)
            return group

    def site_principal_id(self, principal_id: str) -> int:
        """The site principal id (siteUser.id) of a user or group; 6 for anyone unknown."""
        return self._principal_ids.get(principal_id, 6)

    def user(self, ref: str) -> User:
        """A user by id, email or display name (case-insensitive)."""
        lowered = ref.lower()
        for user in self.users.values():
            if lowered in (user.id, user.email.lower(), user.display_name.lower()):
                return user
        known = _names(user.display_name for user in self.users.values())
        raise MutationError(f"unknown user {ref!r}; known: {known}")

    def group(self, ref: str) -> Group:
        lowered = ref.lower()
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
                site.groups[role] = SiteGroup(principal_id, f"{display_name} {suffix}", role)
            self.sites[site.id] = site
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
        """A grant key from "user:REF", "group:REF" or "sitegroup:Owners|Members|Visitors|TITLE"."""
        kind, _, ref = spec.partition(":")
        if kind == "user":
            return (PrincipalKind.USER, self.user(ref).id)
        if kind == "group":
            return (PrincipalKind.GROUP, self.group(ref).id)
        if kind == "sitegroup":
            for group in site.groups.values():
                if ref.lower() in (group.title.lower(), group.title.lower().rsplit(" ", 1)[-1]):
                    return (PrincipalKind.SITE_GROUP, str(group.id))
            raise MutationError(f"site {site.path} has no group {ref!r}")
        raise MutationError(
            f"principal {spec!r}: expected user:EMAIL, group:NAME or "
            "sitegroup:Owners|Members|Visitors"
        )

    # ----------------------------------------------------------------- journal

    def _stamp(self, drive: Drive, item: Item) -> None:
        item.change_seq = drive.journal.append(item.id, ChangeKind.CHANGE, self.now())

    def _stamp_sharing(self, drive: Drive, item: Item, *, removal: bool) -> None:
        """Record a permission change of `item` (and, without gaps, of its inheriting children).

        With realistic gaps, a removal carries no sharedChanged marker and children that
        inherit the change get no entry at all (graph-facts §5.8, onedrive-api-docs #1248/#1250).
        """
        now = self.now()
        item.sharing_seq = drive.journal.append(item.id, ChangeKind.SHARING, now)
        item.sharing_marked = not (removal and self.realistic_gaps)
        if self.realistic_gaps:
            return
        for child in _inheriting_descendants(item):
            child.sharing_seq = drive.journal.append(child.id, ChangeKind.SHARING, now)
            child.sharing_marked = True

    def _touch(self, item: Item) -> None:
        item.modified = self.now()
        item.modified_by = self.author.id
        item.etag_v += 1

    # ----------------------------------------------------------------- content mutations

    def _check_name(self, parent: Item, name: str, moving: Item | None = None) -> None:
        if not name or ("/" in name and self.strict_names):
            raise MutationError(f"invalid name {name!r}")
        clash = parent.children.get(name)
        if clash is not None and clash is not moving:
            raise MutationError(f"{parent.path or '/'} already has an item named {name!r}")
        if not self.strict_names:
            return
        bad = _INVALID_CHARS.intersection(name)
        if bad or name != name.strip() or name.endswith(".") or name in (".", ".."):
            raise MutationError(
                f'name {name!r} is not valid in SharePoint (characters " * : < > ? / \\ |, '
                "leading or trailing spaces, a trailing dot)",
                hint="create the tenant with strict_names=False to allow it",
            )
        lowered = name.lower()
        for sibling in parent.children.values():
            if sibling.name.lower() == lowered and sibling is not moving:
                raise MutationError(f"{parent.path or '/'} already has {sibling.name!r}")

    def _new_item(
        self, drive: Drive, parent: Item, name: str, *, content: Content | None, mime: str = ""
    ) -> Item:
        self._check_name(parent, name)
        guid = self.ids.guid()
        drive.last_list_item_id += 1
        item = Item(
            item_id=ids.item_id(drive.prefix, guid),
            guid=guid,
            name=name,
            parent=parent,
            is_folder=content is None,
            now=self.now(),
            author=self.author.id,
            content=content,
            mime_type=mime,
            list_item_id=drive.last_list_item_id,
        )
        parent.children[name] = item
        drive.items[item.id] = item
        _add_size(parent, item.total_size)
        self._stamp(drive, item)
        return item

    def add_folder(self, drive: Drive, path: PathLike) -> Item:
        """Create a folder and any missing parents (an existing folder is returned as is)."""
        with self.lock:
            node = drive.root
            for part in split_path(path):
                child = node.children.get(part)
                if child is None:
                    child = self._new_item(drive, node, part, content=None)
                elif not child.is_folder:
                    raise MutationError(f"{child.path!r} is a file, not a folder")
                node = child
            return node

    def add_file(
        self, drive: Drive, path: PathLike, content: Content, *, mime_type: str | None = None
    ) -> Item:
        """Create a file (and missing parent folders)."""
        parts = split_path(path)
        if not parts:
            raise MutationError("add_file needs a file name")
        with self.lock:
            parent = self.add_folder(drive, parts[:-1])
            mime = mime_type or mime_type_for(parts[-1])
            return self._new_item(drive, parent, parts[-1], content=content, mime=mime)

    def edit_file(self, drive: Drive, path: PathLike, content: Content) -> Item:
        """Replace a file's content: eTag and cTag both change."""
        with self.lock:
            item = self._file(drive, path)
            assert item.content is not None
            _add_size(item.parent, content.size - item.content.size)
            item.content = content
            item.total_size = content.size
            item.ctag_v += 1
            self._touch(item)
            self._stamp(drive, item)
            return item

    def touch(self, drive: Drive, path: PathLike) -> Item:
        """A metadata-only change (a column value, a title): eTag changes, cTag does not."""
        with self.lock:
            item = self.item(drive, path)
            self._touch(item)
            self._stamp(drive, item)
            return item

    def rename(self, drive: Drive, path: PathLike, new_name: str) -> Item:
        with self.lock:
            item = self._non_root(drive, path)
            assert item.parent is not None
            self._check_name(item.parent, new_name, moving=item)
            del item.parent.children[item.name]
            item.name = new_name
            item.parent.children[new_name] = item
            self._touch(item)
            self._stamp(drive, item)
            return item

    def move(
        self, drive: Drive, path: PathLike, new_parent: PathLike, new_name: str | None = None
    ) -> Item:
        """Move (and optionally rename) an item; it keeps its id. Children are not re-stamped."""
        with self.lock:
            item = self._non_root(drive, path)
            target = self.item(drive, new_parent)
            if not target.is_folder or target is item or item in list(target.ancestors()):
                raise MutationError(f"cannot move {item.path!r} into {target.path!r}")
            name = new_name or item.name
            self._check_name(target, name, moving=item)
            assert item.parent is not None
            del item.parent.children[item.name]
            _add_size(item.parent, -item.total_size)
            item.parent, item.name = target, name
            target.children[name] = item
            _add_size(target, item.total_size)
            self._touch(item)
            self._stamp(drive, item)
            return item

    def delete(self, drive: Drive, path: PathLike) -> None:
        """Delete an item; a folder's descendants are reported deleted too unless configured off."""
        with self.lock:
            item = self._non_root(drive, path)
            assert item.parent is not None
            del item.parent.children[item.name]
            _add_size(item.parent, -item.total_size)
            doomed = list(item.walk())
            for node in reversed(doomed):  # children before their folder
                del drive.items[node.id]
                if node is item or self.delete_reports_descendants:
                    self._bury(drive, node)

    def _bury(self, drive: Drive, node: Item) -> None:
        now = self.now()
        assert node.parent is not None
        seq = drive.journal.append(node.id, ChangeKind.DELETE, now)
        drive.tombstones[node.id] = Tombstone(
            node.id, node.guid, node.is_folder, node.parent.id, seq, now, node.etag_v + 1
        )

    def _file(self, drive: Drive, path: PathLike) -> Item:
        item = self.item(drive, path)
        if item.is_folder:
            raise MutationError(f"{item.path or '/'!r} is a folder, not a file")
        return item

    def _non_root(self, drive: Drive, path: PathLike) -> Item:
        item = self.item(drive, path)
        if item.is_root:
            raise MutationError("the library root cannot be renamed, moved or deleted")
        return item

    # ----------------------------------------------------------------- permissions

    def break_inheritance(self, drive: Drive, path: PathLike, *, copy: bool = True) -> Item:
        """Give an item its own grants (a copy of the inherited ones unless copy=False)."""
        with self.lock:
            item = self.item(drive, path)
            if item.grants is None:
                inherited = item.permission_root().grants
                assert inherited is not None
                item.grants = dict(inherited) if copy else {}
                self._stamp_sharing(drive, item, removal=not copy)
            return item

    def restore_inheritance(self, drive: Drive, path: PathLike) -> Item:
        with self.lock:
            item = self._non_root(drive, path)
            if item.grants is not None:
                item.grants = None
                self._stamp_sharing(drive, item, removal=True)
            return item

    def _own_grants(self, drive: Drive, item: Item) -> dict[GrantKey, Role]:
        """The item's own grants, breaking inheritance first as SharePoint does when sharing."""
        if item.grants is None:
            inherited = item.permission_root().grants
            assert inherited is not None
            item.grants = dict(inherited)
        return item.grants

    def grant(self, drive: Drive, path: PathLike, principal: str, role: Role) -> Item:
        """Grant (or change) a principal's role on an item."""
        with self.lock:
            item = self.item(drive, path)
            key = self.principal(drive.site, principal)
            grants = self._own_grants(drive, item)
            previous = grants.get(key)
            grants[key] = role
            self._stamp_sharing(drive, item, removal=previous is not None and previous != role)
            return item

    def revoke(self, drive: Drive, path: PathLike, principal: str) -> Item:
        """Remove a principal's grant from an item (breaking inheritance if needed)."""
        with self.lock:
            item = self.item(drive, path)
            key = self.principal(drive.site, principal)
            grants = self._own_grants(drive, item)
            if grants.pop(key, None) is None:
                raise MutationError(f"{item.path or '/'!r} grants nothing to {principal!r}")
            self._stamp_sharing(drive, item, removal=True)
            return item

    def add_link(
        self,
        drive: Drive,
        path: PathLike,
        link_type: str,
        scope: str,
        recipients: Sequence[str] = (),
    ) -> SharingLink:
        """Create a sharing link (view/edit x anonymous/organization/users) on an item."""
        if link_type not in ("view", "edit") or scope not in ("anonymous", "organization", "users"):
            raise MutationError(
                f"link {link_type}/{scope}: expected view|edit and anonymous|organization|users"
            )
        with self.lock:
            item = self.item(drive, path)
            people = [self.user(ref).id for ref in recipients]
            guid = self.ids.guid()
            short = ids.b64url(self.ids.randbytes(12))
            kind = "w" if link_type == "edit" else "r"
            link = SharingLink(
                id=str(guid),
                type=link_type,
                scope=scope,
                share_id="u!" + ids.b64url(self.ids.randbytes(24)),
                web_url=f"https://{drive.site.hostname}/:{kind}:/s/{drive.site.name}/{short}",
                recipients=people,
                created=self.now(),
            )
            drive.links[link.id] = link
            self._own_grants(drive, item)[(PrincipalKind.LINK, link.id)] = link.role
            self._stamp_sharing(drive, item, removal=False)
            return link

    def find_link(self, drive: Drive, item: Item, selector: str) -> SharingLink:
        """A link on the item's permission root by id or by "TYPE/SCOPE"."""
        grants = item.permission_root().grants or {}
        for kind, ref in grants:
            if kind is PrincipalKind.LINK:
                link = drive.links[ref]
                if selector in (link.id, f"{link.type}/{link.scope}"):
                    return link
        raise MutationError(f"{item.path or '/'!r} has no sharing link {selector!r}")

    def remove_link(self, drive: Drive, path: PathLike, selector: str) -> Item:
        with self.lock:
            item = self.item(drive, path)
            link = self.find_link(drive, item, selector)
            self._own_grants(drive, item).pop((PrincipalKind.LINK, link.id), None)
            self._stamp_sharing(drive, item, removal=True)
            return item

    def add_link_recipient(self, drive: Drive, path: PathLike, selector: str, user: str) -> None:
        """Add a person to an existing link; with realistic gaps delta shows nothing (#15242)."""
        with self.lock:
            item = self.item(drive, path)
            link = self.find_link(drive, item, selector)
            link.recipients.append(self.user(user).id)
            if not self.realistic_gaps:
                self._stamp_sharing(drive, item.permission_root(), removal=False)

    # ----------------------------------------------------------------- libraries and access

    def rename_library(self, drive: Drive, new_title: str) -> None:
        """Change a library's title; its id and URL (webUrl) stay."""
        with self.lock:
            drive.title = new_title
            drive.modified = self.now()

    def expire_delta_tokens(self, drive: Drive) -> None:
        """Every delta token issued so far for this library (nextLinks and deltaLinks) answers
        410 from now on; tokens issued afterwards work."""
        with self.lock:
            drive.journal.epoch += 1

    def request_resync(self, drive: Drive) -> None:
        """The next delta request on this library that carries a token (a nextLink or a
        deltaLink page) answers 410 resyncRequired; a fresh enumeration is never refused."""
        with self.lock:
            drive.resync_pending = True

    def set_site_access(self, client_id: str, site: Site, *, allowed: bool) -> None:
        """Revoke or restore an app's access to a site (Graph then answers 403)."""
        with self.lock:
            app = self.directory.apps[client_id]
            if allowed:
                app.blocked_sites.discard(site.id)
            else:
                app.blocked_sites.add(site.id)

    def delete_library(self, drive: Drive) -> None:
        """Remove a library entirely (its id then answers 404)."""
        with self.lock:
            del drive.site.drives[drive.id]
            del self._drives[drive.id]


def _add_size(folder: Item | None, delta: int) -> None:
    node = folder
    while node is not None:
        node.total_size += delta
        node = node.parent


def _inheriting_descendants(item: Item) -> list[Item]:
    """Descendants whose nearest permission root is `item`."""
    found: list[Item] = []
    stack = [child for child in item.children.values() if child.grants is None]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(child for child in node.children.values() if child.grants is None)
    return found


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"
