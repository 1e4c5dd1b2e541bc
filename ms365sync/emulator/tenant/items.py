"""The tenant's item mutations: folders and files created, edited, touched, renamed, moved
and deleted, each stamped in the library's journal as delta will report it."""

from __future__ import annotations

from ms365sync.emulator.tenant import ids
from ms365sync.emulator.tenant.base import (
    MutationError,
    PathLike,
    TenantBase,
    split_path,
)
from ms365sync.emulator.tenant.content import Content, mime_type_for
from ms365sync.emulator.tenant.model import ChangeKind, Drive, Item, Tombstone

_INVALID_CHARS = set('"*:<>?/\\|')  # never allowed in a SharePoint name
# The whole decoded library-relative path (folders + name) SharePoint accepts (graph-facts §17.9).
MAX_PATH_LENGTH = 400


class ItemMutations(TenantBase):
    """Creating, changing and deleting folders and files."""

    # ----------------------------------------------------------------- journal

    def _stamp(self, drive: Drive, item: Item) -> None:
        item.change_seq = drive.journal.append(item.id, ChangeKind.CHANGE, self.now())

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
        full_path = f"{parent.path}/{name}".lstrip("/")
        if len(full_path) > MAX_PATH_LENGTH:
            raise MutationError(
                f"path {full_path[:40]!r}... is {len(full_path)} characters long; SharePoint "
                f"allows at most {MAX_PATH_LENGTH} (folders + name, decoded)",
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
            node.id,
            node.guid,
            node.is_folder,
            node.parent.id,
            seq,
            now,
            node.etag_v + 1,
            node.list_item_id,
        )

    def _file(self, drive: Drive, path: PathLike) -> Item:
        item = self.item(drive, path)
        if item.is_folder:
            raise MutationError(f"{item.path or '/'!r} is a folder, not a file")
        return item


def _add_size(folder: Item | None, delta: int) -> None:
    node = folder
    while node is not None:
        node.total_size += delta
        node = node.parent
