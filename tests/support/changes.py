"""Seeded remote changes to one library (`Mutator`), chosen by integers so that a seeded
random generator (the fault soak, the crash trials, the two-process test) and hypothesis
(the property tests) drive the same code."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ms365sync.emulator import BytesContent, MutationError, Tenant
from ms365sync.emulator.tenant.model import Drive, Item, PrincipalKind, Role
from support.reliability import segments

OPS = (
    "add",
    "edit",
    "touch",
    "rename",
    "move",
    "delete",
    "folder",
    "grant",
    "revoke",
    "link",
    "unlink",
    "break",
    "restore",
    "swap",
)
_ROLES = (Role.READ, Role.WRITE, Role.OWNER)
_LINKS = (("view", "organization"), ("edit", "users"), ("view", "anonymous"))


@dataclass
class Mutator:
    """Remote changes to one library chosen by integers, so a seeded random generator and
    hypothesis drive the same code. An operation that cannot apply does nothing."""

    tenant: Tenant
    drive: Drive
    max_size: int = 4096
    prefix: str = "n"
    counter: int = 0
    applied: list[str] = field(default_factory=list)
    # Set by a change the change feed shows no entry for (a link removed from an item with
    # permissions of its own, onedrive-api-docs #937): only a permission sweep reports it.
    unreported: bool = False

    def random(self, rng: random.Random, count: int, ops: Sequence[str] = OPS) -> None:
        for _ in range(count):
            op = rng.choice(ops)
            self.apply(op, rng.randrange(1 << 30), rng.randrange(1 << 30), rng.randrange(1 << 30))

    def apply(self, op: str, a: int, b: int, c: int) -> str | None:
        """Apply one change; returns its description, or None when it did not apply."""
        self.counter += 1
        try:
            with self.tenant.lock:
                done = getattr(self, f"_{op}")(a, b, c)
        except MutationError:
            return None
        if done:
            self.applied.append(done)
        return done

    # -- choosing ----------------------------------------------------------------------

    def _files(self) -> list[Item]:
        return sorted(self.drive.files(), key=lambda i: i.path)

    def _folders(self) -> list[Item]:
        return sorted((i for i in self.drive.root.walk() if i.is_folder), key=lambda i: i.path)

    def _items(self) -> list[Item]:
        return sorted((i for i in self.drive.root.walk() if not i.is_root), key=lambda i: i.path)

    @staticmethod
    def _pick(items: Sequence[Item], index: int) -> Item | None:
        return items[index % len(items)] if items else None

    def _bytes(self, seed: int, size: int) -> bytes:
        return random.Random(f"{self.prefix}{seed}-{self.counter}").randbytes(size)

    def _name(self, like: Item | None = None) -> str:
        suffix = Path(like.name).suffix if like is not None and not like.is_folder else ""
        return f"{self.prefix}{self.counter}{suffix}"

    def _principals(self) -> list[str]:
        users = sorted(u.email for u in self.tenant.users.values())
        groups = sorted(g.display_name for g in self.tenant.groups.values())
        return (
            [f"user:{u}" for u in users]
            + [f"group:{g}" for g in groups]
            + [f"groupowners:{g}" for g in groups]
            + ["sitegroup:Visitors", "sitegroup:Members"]
            + ["everyone_except_external", "everyone"]
        )

    # -- operations --------------------------------------------------------------------

    def _add(self, a: int, b: int, c: int) -> str | None:
        folder = self._pick(self._folders(), a)
        assert folder is not None
        path = [*segments(folder), self._name() + ".txt"]
        self.tenant.add_file(self.drive, path, BytesContent(self._bytes(b, c % self.max_size)))
        return f"add {'/'.join(path)}"

    def _edit(self, a: int, b: int, c: int) -> str | None:
        item = self._pick(self._files(), a)
        if item is None:
            return None
        assert item.content is not None
        data = self._bytes(b, 1 + c % self.max_size)
        if data == item.content.read_all():
            data += b"!"
        self.tenant.edit_file(self.drive, segments(item), BytesContent(data))
        return f"edit {item.path}"

    def _touch(self, a: int, b: int, c: int) -> str | None:
        item = self._pick(self._items(), a)
        if item is None:
            return None
        self.tenant.touch(self.drive, segments(item))
        return f"touch {item.path}"

    def _rename(self, a: int, b: int, c: int) -> str | None:
        item = self._pick(self._items(), a)
        if item is None:
            return None
        old = item.path
        self.tenant.rename(self.drive, segments(item), self._name(item))
        return f"rename {old} -> {item.path}"

    def _move(self, a: int, b: int, c: int) -> str | None:
        item, folder = self._pick(self._items(), a), self._pick(self._folders(), b)
        if item is None or folder is None or folder is item.parent:
            return None
        old = item.path
        self.tenant.move(self.drive, segments(item), segments(folder))
        return f"move {old} -> {item.path}"

    def _delete(self, a: int, b: int, c: int) -> str | None:
        items = self._items() if c % 4 == 0 else self._files()  # folders now and then
        item = self._pick(items, a)
        if item is None:
            return None
        self.tenant.delete(self.drive, segments(item))
        return f"delete {item.path}"

    def _folder(self, a: int, b: int, c: int) -> str | None:
        parent = self._pick(self._folders(), a)
        assert parent is not None
        path = [*segments(parent), self._name()]
        self.tenant.add_folder(self.drive, path)
        return f"folder {'/'.join(path)}"

    def _permission_target(self, a: int) -> Item:
        items = [self.drive.root, *self._items()]
        return items[a % len(items)]

    def _grant(self, a: int, b: int, c: int) -> str | None:
        item = self._permission_target(a)
        principals = self._principals()
        who = principals[b % len(principals)]
        self.tenant.grant(self.drive, segments(item), who, _ROLES[c % len(_ROLES)])
        return f"grant {who} on {item.path or '/'}"

    def _revoke(self, a: int, b: int, c: int) -> str | None:
        item = self._permission_target(a)
        granted = item.permission_root().grants or {}
        principals = self._principals()
        for offset in range(len(principals)):
            who = principals[(b + offset) % len(principals)]
            if self.tenant.principal(self.drive.site, who) in granted:
                self.tenant.revoke(self.drive, segments(item), who)
                return f"revoke {who} on {item.path or '/'}"
        return None

    def _link(self, a: int, b: int, c: int) -> str | None:
        item = self._pick(self._items(), a)
        if item is None:
            return None
        kind, scope = _LINKS[b % len(_LINKS)]
        users = sorted(u.email for u in self.tenant.users.values())
        recipients = [users[c % len(users)]] if scope == "users" and users else []
        self.tenant.add_link(self.drive, segments(item), kind, scope, recipients)
        return f"link {kind}/{scope} on {item.path}"

    def _unlink(self, a: int, b: int, c: int) -> str | None:
        item = self._pick(self._items(), a)
        if item is None:
            return None
        grants = item.permission_root().grants or {}
        links = sorted(ref for kind, ref in grants if kind is PrincipalKind.LINK)
        if not links:
            return None
        self.unreported |= item.grants is not None and self.tenant.realistic_gaps
        self.tenant.remove_link(self.drive, segments(item), links[b % len(links)])
        return f"unlink on {item.path}"

    def _break(self, a: int, b: int, c: int) -> str | None:
        item = self._pick(self._items(), a)
        if item is None:
            return None
        self.tenant.break_inheritance(self.drive, segments(item), copy=bool(c % 2))
        return f"break inheritance of {item.path}"

    def _restore(self, a: int, b: int, c: int) -> str | None:
        owning = [i for i in self._items() if i.grants is not None]
        item = self._pick(owning, a)
        if item is None:
            return None
        self.tenant.restore_inheritance(self.drive, segments(item))
        return f"restore inheritance of {item.path}"

    def _swap(self, a: int, b: int, c: int) -> str | None:
        """Two files of one folder exchange names (the mirror must not lose either), one of
        them with new content half of the time."""
        files = self._files()
        first = self._pick(files, a)
        if first is None or first.parent is None:
            return None
        siblings = [f for f in files if f.parent is first.parent and f is not first]
        second = self._pick(siblings, b)
        if second is None:
            return None
        one, two = first.name, second.name
        parking = self._name() + ".swap"
        self.tenant.rename(self.drive, segments(first), parking)
        self.tenant.rename(self.drive, segments(second), one)
        self.tenant.rename(self.drive, segments(first), two)
        if c % 2:  # and one of them gets new content too
            self.tenant.edit_file(self.drive, segments(first), BytesContent(self._bytes(c, 9)))
        return f"swap {one} <-> {two}"
