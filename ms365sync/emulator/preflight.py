"""A dry-run shadow of a tenant, so a whole scenario is checked before any change applies.

`Shadow` offers the `Tenant` methods changes use, over a copy-on-read overlay: a folder's
children are copied from the real tenant the first time a change looks into it, and
mutations edit only the overlay. It tracks what a later change can trip over (names,
files versus folders, grants and sharing links, users, groups, library titles) and ignores
the rest (content, timestamps, the journal). Name rules mirror `Tenant._check_name`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.login.directory import Directory
from ms365sync.emulator.scenarios.target import find_site
from ms365sync.emulator.tenant.content import Content
from ms365sync.emulator.tenant.model import Drive, Item, Role, Site
from ms365sync.emulator.tenant.tenant import PathLike, Tenant, split_path

_INVALID_CHARS = frozenset('"*:<>?/\\|')

Grants = dict[str, Role]  # principal key ("user:ID", "link:ID" ...) -> role


class _Node:
    """An item as the scenario will have left it so far."""

    __slots__ = ("_children", "_real", "grants", "is_folder", "name", "parent")

    def __init__(self, real: Item | None, name: str, parent: _Node | None, is_folder: bool) -> None:
        self._real = real
        self._children: dict[str, _Node] | None = None if real is not None else {}
        self.name = name
        self.parent = parent
        self.is_folder = is_folder
        self.grants: Grants | None = _grant_keys(real) if real is not None else None

    @classmethod
    def of(cls, real: Item, parent: _Node | None) -> _Node:
        return cls(real, real.name, parent, real.is_folder)

    @property
    def children(self) -> dict[str, _Node]:
        if self._children is None:
            assert self._real is not None
            self._children = {n: _Node.of(c, self) for n, c in self._real.children.items()}
        return self._children

    @property
    def path(self) -> str:
        parts: list[str] = []
        node: _Node | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))

    def permission_root(self) -> _Node:
        node: _Node | None = self
        while node is not None:
            if node.grants is not None:
                return node
            node = node.parent
        raise AssertionError("the library root always holds grants")


def _grant_keys(item: Item) -> Grants | None:
    if item.grants is None:
        return None
    return {f"{kind.value}:{ref}": role for (kind, ref), role in item.grants.items()}


class Shadow:
    """The `Target` of a dry run: answers like `Tenant` and raises what it would raise."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self.sites: dict[str, Site] = tenant.sites
        self.directory: Directory = tenant.directory
        self._roots: dict[str, _Node] = {}
        self._titles: dict[str, str] = {}
        self._deleted: set[str] = set()
        self._people: dict[str, list[tuple[str, str]]] = {"user": [], "group": []}
        self._links: dict[str, tuple[str, str]] = {}  # new link key -> (type, scope)
        self._new_ids = itertools.count(1)

    # ------------------------------------------------------------------ lookups

    def library(self, site_ref: str, library: str) -> Drive:
        site = find_site(self, site_ref)
        lowered = library.lower()
        for drive in self._drives(site):
            if lowered in (self._title(drive).lower(), drive.url_segment.lower()):
                return drive
        known = ", ".join(sorted(self._title(drive) for drive in self._drives(site))) or "none"
        raise InputError(f"site {site_ref!r} has no library {library!r}; known: {known}")

    def _drives(self, site: Site) -> list[Drive]:
        return [drive for drive in site.drives.values() if drive.id not in self._deleted]

    def _title(self, drive: Drive) -> str:
        return self._titles.get(drive.id, drive.title)

    def _root(self, drive: Drive) -> _Node:
        if drive.id not in self._roots:
            self._roots[drive.id] = _Node.of(drive.root, None)
        return self._roots[drive.id]

    def item(self, drive: Drive, path: PathLike) -> _Node:
        node = self._root(drive)
        for part in split_path(path):
            child = node.children.get(part)
            if child is None:
                shown = "/".join(split_path(path))
                raise InputError(f"{self._title(drive)}: no item at {shown!r}")
            node = child
        return node

    def user(self, ref: str) -> str:
        return self._person("user", ref)

    def group(self, ref: str) -> str:
        return self._person("group", ref)

    def _person(self, kind: str, ref: str) -> str:
        lowered = ref.lower()
        for name, email in self._people[kind]:
            if lowered in (name.lower(), email.lower()):
                return f"{kind}:~{email.lower()}"
        found = self._tenant.user(ref) if kind == "user" else self._tenant.group(ref)
        return f"{kind}:{found.id}"

    def principal(self, site: Site, spec: str) -> str:
        kind, _, ref = spec.partition(":")
        if kind in ("user", "group"):
            return self._person(kind, ref)
        found_kind, found = self._tenant.principal(site, spec)
        return f"{found_kind.value}:{found}"

    # ------------------------------------------------------------------ directory

    def add_user(self, display_name: str, email: str) -> None:
        self._people["user"].append((display_name, email))

    def add_group(self, display_name: str, email: str) -> None:
        self._people["group"].append((display_name, email))

    # ------------------------------------------------------------------ items

    def _check_name(self, parent: _Node, name: str, moving: _Node | None = None) -> None:
        strict = self._tenant.strict_names
        if not name or ("/" in name and strict):
            raise InputError(f"invalid name {name!r}")
        clash = parent.children.get(name)
        if clash is not None and clash is not moving:
            raise InputError(f"{parent.path or '/'} already has an item named {name!r}")
        if not strict:
            return
        bad = _INVALID_CHARS.intersection(name)
        if bad or name != name.strip() or name.endswith(".") or name in (".", ".."):
            raise InputError(
                f'name {name!r} is not valid in SharePoint (characters " * : < > ? / \\ |, '
                "leading or trailing spaces, a trailing dot)"
            )
        lowered = name.lower()
        for sibling in parent.children.values():
            if sibling.name.lower() == lowered and sibling is not moving:
                raise InputError(f"{parent.path or '/'} already has {sibling.name!r}")

    def _new(self, parent: _Node, name: str, *, is_folder: bool) -> _Node:
        self._check_name(parent, name)
        node = _Node(None, name, parent, is_folder)
        parent.children[name] = node
        return node

    def add_folder(self, drive: Drive, path: PathLike) -> _Node:
        node = self._root(drive)
        for part in split_path(path):
            child = node.children.get(part)
            if child is None:
                child = self._new(node, part, is_folder=True)
            elif not child.is_folder:
                raise InputError(f"{child.path!r} is a file, not a folder")
            node = child
        return node

    def add_file(
        self, drive: Drive, path: PathLike, content: Content, *, mime_type: str | None = None
    ) -> _Node:
        parts = split_path(path)
        if not parts:
            raise InputError("add_file needs a file name")
        return self._new(self.add_folder(drive, parts[:-1]), parts[-1], is_folder=False)

    def _file(self, drive: Drive, path: PathLike) -> _Node:
        node = self.item(drive, path)
        if node.is_folder:
            raise InputError(f"{node.path or '/'!r} is a folder, not a file")
        return node

    def _non_root(self, drive: Drive, path: PathLike) -> _Node:
        node = self.item(drive, path)
        if node.parent is None:
            raise InputError("the library root cannot be renamed, moved or deleted")
        return node

    def edit_file(self, drive: Drive, path: PathLike, content: Content) -> _Node:
        return self._file(drive, path)

    def touch(self, drive: Drive, path: PathLike) -> _Node:
        return self.item(drive, path)

    def rename(self, drive: Drive, path: PathLike, new_name: str) -> _Node:
        node = self._non_root(drive, path)
        assert node.parent is not None
        self._check_name(node.parent, new_name, moving=node)
        del node.parent.children[node.name]
        node.name = new_name
        node.parent.children[new_name] = node
        return node

    def move(
        self, drive: Drive, path: PathLike, new_parent: PathLike, new_name: str | None = None
    ) -> _Node:
        node = self._non_root(drive, path)
        target = self.item(drive, new_parent)
        if not target.is_folder or target is node or _is_inside(target, node):
            raise InputError(f"cannot move {node.path!r} into {target.path!r}")
        name = new_name or node.name
        self._check_name(target, name, moving=node)
        assert node.parent is not None
        del node.parent.children[node.name]
        node.parent, node.name = target, name
        target.children[name] = node
        return node

    def delete(self, drive: Drive, path: PathLike) -> None:
        node = self._non_root(drive, path)
        assert node.parent is not None
        del node.parent.children[node.name]

    # ------------------------------------------------------------------ permissions

    def _own(self, node: _Node) -> Grants:
        if node.grants is None:
            inherited = node.permission_root().grants
            assert inherited is not None
            node.grants = dict(inherited)
        return node.grants

    def break_inheritance(self, drive: Drive, path: PathLike, *, copy: bool = True) -> _Node:
        node = self.item(drive, path)
        if node.grants is None:
            node.grants = dict(node.permission_root().grants or {}) if copy else {}
        return node

    def restore_inheritance(self, drive: Drive, path: PathLike) -> _Node:
        node = self._non_root(drive, path)
        node.grants = None
        return node

    def grant(self, drive: Drive, path: PathLike, principal: str, role: Role) -> _Node:
        node = self.item(drive, path)
        self._own(node)[self.principal(drive.site, principal)] = role
        return node

    def revoke(self, drive: Drive, path: PathLike, principal: str) -> _Node:
        node = self.item(drive, path)
        if self._own(node).pop(self.principal(drive.site, principal), None) is None:
            raise InputError(f"{node.path or '/'!r} grants nothing to {principal!r}")
        return node

    def add_link(
        self,
        drive: Drive,
        path: PathLike,
        link_type: str,
        scope: str,
        recipients: Sequence[str] = (),
    ) -> str:
        node = self.item(drive, path)
        for person in recipients:
            self.user(person)
        key = f"link:~{next(self._new_ids)}"
        self._links[key] = (link_type, scope)
        self._own(node)[key] = Role.WRITE if link_type == "edit" else Role.READ
        return key

    def _find_link(self, drive: Drive, node: _Node, selector: str) -> str:
        for key in node.permission_root().grants or {}:
            kind, _, ref = key.partition(":")
            if kind != "link":
                continue
            link = drive.links.get(ref)
            link_type, scope = (link.type, link.scope) if link else self._links[key]
            if selector in (ref, f"{link_type}/{scope}"):
                return key
        raise InputError(f"{node.path or '/'!r} has no sharing link {selector!r}")

    def remove_link(self, drive: Drive, path: PathLike, selector: str) -> _Node:
        node = self.item(drive, path)
        key = self._find_link(drive, node, selector)
        self._own(node).pop(key, None)
        return node

    def add_link_recipient(self, drive: Drive, path: PathLike, selector: str, user: str) -> None:
        self._find_link(drive, self.item(drive, path), selector)
        self.user(user)

    # ------------------------------------------------------------------ libraries and access

    def rename_library(self, drive: Drive, new_title: str) -> None:
        self._titles[drive.id] = new_title

    def expire_delta_tokens(self, drive: Drive) -> None:
        """Nothing a later change could trip over."""

    def request_resync(self, drive: Drive) -> None:
        """Nothing a later change could trip over."""

    def set_site_access(self, client_id: str, site: Site, *, allowed: bool) -> None:
        if client_id not in self.directory.apps:
            raise InputError(f"unknown app {client_id!r}")

    def delete_library(self, drive: Drive) -> None:
        self._deleted.add(drive.id)


def _is_inside(node: _Node, ancestor: _Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False
