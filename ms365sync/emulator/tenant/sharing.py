"""The tenant's permission mutations: inheritance broken and restored, grants, sharing links
and their recipients, journalled with the sharing feed's real gaps when asked to."""

from __future__ import annotations

from collections.abc import Sequence

from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.base import MutationError, PathLike, TenantBase
from ms365sync.emulator.tenant.model import (
    ChangeKind,
    Drive,
    GrantKey,
    Item,
    PrincipalKind,
    Role,
    SharingLink,
)


class SharingMutations(TenantBase):
    """Changing who may see what: grants, inheritance and sharing links."""

    # ----------------------------------------------------------------- journal

    def _stamp_sharing(self, drive: Drive, item: Item, *, removal: bool) -> None:
        """Record a permission change of `item` (and, without gaps, of its inheriting children).

        With realistic gaps, a removal carries no sharedChanged marker and children that
        inherit the change get no entry at all (graph-facts §5.8, onedrive-api-docs #1248/#1250);
        `remove_link` and `add_link_recipient` make no entry at all.
        """
        now = self.now()
        item.sharing_seq = drive.journal.append(item.id, ChangeKind.SHARING, now)
        item.sharing_marked = not (removal and self.realistic_gaps)
        if self.realistic_gaps:
            return
        for child in _inheriting_descendants(item):
            child.sharing_seq = drive.journal.append(child.id, ChangeKind.SHARING, now)
            child.sharing_marked = True

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
        """Remove a sharing link; with realistic gaps delta shows nothing of it (#937),
        unless taking it off an inheriting item gave that item its own permissions."""
        with self.lock:
            item = self.item(drive, path)
            link = self.find_link(drive, item, selector)
            inherited = item.grants is None
            self._own_grants(drive, item).pop((PrincipalKind.LINK, link.id), None)
            if inherited or not self.realistic_gaps:
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

    # ----------------------------------------------------------------- the marks

    def drop_shared_facets(self, drive: Drive, paths: Sequence[PathLike] | None = None) -> None:
        """Make delta leave out the `shared` facet of the items at `paths` (None: of every
        item, the root included), as SharePoint has done (onedrive-api-docs #714, #1101)."""
        with self.lock:
            if paths is None:
                self.unmarked = None
            elif self.unmarked is not None:
                self.unmarked.update(self.item(drive, path).id for path in paths)

    def restore_shared_facets(self) -> None:
        with self.lock:
            self.unmarked = set()


def _inheriting_descendants(item: Item) -> list[Item]:
    """Descendants whose nearest permission root is `item`."""
    found: list[Item] = []
    stack = [child for child in item.children.values() if child.grants is None]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(child for child in node.children.values() if child.grants is None)
    return found
