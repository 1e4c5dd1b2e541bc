"""The items that trip sync tools (graph-facts §17): OneNote packages, malware flags,
check-outs and locks, files served other than listed, listings without hashes, items that
vanish before their download; and what a download request of an item gets.

Which of these changes are stamped in the journal follows what SharePoint would report: a
malware flag and a check-out change the item's metadata (eTag, not cTag: the content is the
same), while a co-authoring lock, the way downloads are served and the way hashes are listed
describe the service, not a change, and leave delta quiet.
"""

from __future__ import annotations

import enum
import hashlib
import zlib
from collections.abc import Callable, Sequence

from ms365sync.emulator.tenant.base import MutationError, PathLike, split_path
from ms365sync.emulator.tenant.content import Content, GeneratedContent, SuffixedContent
from ms365sync.emulator.tenant.items import ItemMutations
from ms365sync.emulator.tenant.model import Drive, Hashes, Item, Served

SUFFIX_LENGTH = 12  # bytes a rewritten download adds (rclone #2599 measured 11-12)
ONENOTE_MIME = "application/msonenote"
NOTEBOOK_TOC = "Open Notebook.onetoc2"
_SECTION_SIZE, _TOC_SIZE = 8 * 1024, 2 * 1024


class Refusal(enum.Enum):
    """Why a download request gets no bytes."""

    GONE = "gone"  # no such file: never was, a package (no content stream), or just vanished
    MALWARE = "malware"  # the malware facet is set (403 malwareDetected)
    LOCKED = "locked"  # a co-authoring lock (423)
    ENCRYPTED = "encrypted"  # a sensitivity label that encrypts (423, graph-facts §18.5)


class DownloadRefusedError(Exception):
    """A download request the tenant refuses; the Graph layer maps `refusal` to its answer."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


def served_content(item: Item) -> Content:
    """The bytes a download of the file serves now: the stored content, or for a rewritten or
    unstable file the content plus a suffix derived from its guid and content version (and,
    when unstable, its download count), so listed size and quickXorHash never match."""
    assert item.content is not None
    if item.served is Served.AS_LISTED:
        return item.content
    key = f"{item.guid}/{item.ctag_v}"
    if item.served is Served.UNSTABLE:
        key += f"/{item.download_count}"
    suffix = hashlib.sha256(key.encode()).hexdigest()[:SUFFIX_LENGTH].encode("ascii")
    return SuffixedContent(item.content, suffix)


def item_segments(item: Item) -> list[str]:
    """The item's path as segments (names may hold "/" when strict_names is off)."""
    folders = [node.name for node in item.ancestors() if not node.is_root]
    return [*reversed(folders), item.name]


def item_quirks(item: Item) -> tuple[str, ...]:
    """The troublesome-item properties an item has, by name, in this order: "package",
    "rewritten" or "unstable", "missing-hash" or "empty-hash", "malware", "checked-out",
    "locked", "encrypted", "vanishes", "zero-byte"; () for a well-behaved item or a folder."""
    names: list[str] = []
    if item.package_type is not None:
        names.append("package")
    if item.content is None:
        return tuple(names)
    if item.served is not Served.AS_LISTED:
        names.append(item.served.value)
    if item.hashes is not Hashes.LISTED:
        names.append(f"{item.hashes.value}-hash")
    flags = (
        ("malware", item.malware is not None),
        ("checked-out", item.checked_out_by is not None),
        ("locked", item.locked),
        ("encrypted", item.label is not None and item.label.encrypted),
        ("vanishes", item.vanishes),
        ("zero-byte", item.content.size == 0),
    )
    names.extend(name for name, present in flags if present)
    return tuple(names)


class QuirkMutations(ItemMutations):
    """Putting the troublesome kinds of item into a library, and serving their downloads."""

    # ----------------------------------------------------------------- packages

    def add_package(
        self,
        drive: Drive,
        path: PathLike,
        *,
        package_type: str = "oneNote",
        sections: Sequence[str] = ("Section 1.one",),
    ) -> Item:
        """Create a package (a OneNote notebook, graph-facts §17.4) holding `sections` and an
        "Open Notebook.onetoc2", all of whose downloads are rewritten (abraunegg #2973);
        missing parent folders are created. Returns the package; raises MutationError."""
        parts = split_path(path)
        if not parts:
            raise MutationError("add_package needs a name")
        with self.lock:
            parent = self.add_folder(drive, parts[:-1])
            package = self._new_item(drive, parent, parts[-1], content=None)
            package.package_type = package_type
            for name in (*sections, NOTEBOOK_TOC):
                seed = zlib.crc32(f"{drive.id}/{package.path}/{name}".encode())
                size = _TOC_SIZE if name == NOTEBOOK_TOC else _SECTION_SIZE
                content = GeneratedContent(seed, size)
                section = self._new_item(drive, package, name, content=content, mime=ONENOTE_MIME)
                section.served = Served.REWRITTEN
            return package

    # ----------------------------------------------------------------- stamped flags

    def flag_malware(
        self, drive: Drive, path: PathLike, description: str = "Malware detected"
    ) -> Item:
        """Set the malware facet (graph-facts §17.5): stamped, eTag changes, cTag does not."""
        return self._flag(drive, path, lambda item: setattr(item, "malware", description))

    def clear_malware(self, drive: Drive, path: PathLike) -> Item:
        """Remove the malware facet: stamped, eTag changes, cTag does not."""
        return self._flag(drive, path, lambda item: setattr(item, "malware", None))

    def check_out(self, drive: Drive, path: PathLike, user_id: str) -> Item:
        """Check the file out to a user (an id or email; graph-facts §17.6): stamped, eTag
        changes, cTag does not; downloads keep serving the checked-in content."""
        with self.lock:
            holder = self.user(user_id).id
            return self._flag(drive, path, lambda item: setattr(item, "checked_out_by", holder))

    def check_in(self, drive: Drive, path: PathLike) -> Item:
        """End a check-out: stamped, eTag changes, cTag does not."""
        return self._flag(drive, path, lambda item: setattr(item, "checked_out_by", None))

    def _flag(self, drive: Drive, path: PathLike, apply: Callable[[Item], object]) -> Item:
        with self.lock:
            item = self._file(drive, path)
            apply(item)
            self._touch(item)
            self._stamp(drive, item)
            return item

    # ----------------------------------------------------------------- service behaviour

    def lock_file(self, drive: Drive, path: PathLike) -> Item:
        """A co-authoring lock: downloads answer 423 (graph-facts §17.6); not stamped."""
        return self._set(drive, path, "locked", True)

    def unlock_file(self, drive: Drive, path: PathLike) -> Item:
        """Release the lock; not stamped."""
        return self._set(drive, path, "locked", False)

    def set_vanishes(self, drive: Drive, path: PathLike, vanishes: bool = True) -> Item:
        """Whether the first download request deletes the file (graph-facts §17.7)."""
        return self._set(drive, path, "vanishes", vanishes)

    def set_served(self, drive: Drive, path: PathLike, served: Served | str) -> Item:
        """How downloads serve the file (graph-facts §17.1); raises MutationError for an
        unknown value."""
        return self._set(drive, path, "served", _member(Served, served, "served"))

    def set_hashes(self, drive: Drive, path: PathLike, hashes: Hashes | str) -> Item:
        """How listings show the file's hashes (graph-facts §17.2)."""
        return self._set(drive, path, "hashes", _member(Hashes, hashes, "hashes"))

    def _set(self, drive: Drive, path: PathLike, slot: str, value: object) -> Item:
        with self.lock:
            item = self._file(drive, path)
            setattr(item, slot, value)
            return item

    # ----------------------------------------------------------------- downloads

    def open_download(self, drive: Drive, item_id: str) -> Content:
        """The bytes a download request of the item gets now. A vanishing file is deleted
        (stamped as any deletion) and refused as gone. Raises DownloadRefusedError."""
        with self.lock:
            item = drive.items.get(item_id)
            if item is None or item.content is None:
                raise DownloadRefusedError(Refusal.GONE)
            if item.vanishes:
                self.delete(drive, item_segments(item))
                raise DownloadRefusedError(Refusal.GONE)
            if item.malware is not None:
                raise DownloadRefusedError(Refusal.MALWARE)
            if item.locked:
                raise DownloadRefusedError(Refusal.LOCKED)
            if item.label is not None and item.label.encrypted:
                raise DownloadRefusedError(Refusal.ENCRYPTED)
            return served_content(item)

    def restart_download(self, drive: Drive, item_id: str) -> Content | None:
        """The bytes of a download that starts at offset 0: an unstable file counts one more
        download first, so each full download differs. None when the file is gone."""
        with self.lock:
            item = drive.items.get(item_id)
            if item is None or item.content is None:
                return None
            if item.served is Served.UNSTABLE:
                item.download_count += 1
            return served_content(item)


def _member(kind: type[Served] | type[Hashes], value: object, key: str) -> Served | Hashes:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(repr(member.value) for member in kind)
        raise MutationError(f"{key} must be one of {choices}, not {value!r}") from None
