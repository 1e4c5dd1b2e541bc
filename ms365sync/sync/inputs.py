"""The planner's inputs: the remote files the mirror should hold, and what is on disk.

Remote files come from the committed tree (paths resolved, filters applied, names mapped
to safe local ones); files that cannot be mirrored (an unsafe path that cannot be mapped,
two names that are one on a case-insensitive file system, a folder not listed yet) are
reported as errors instead. Local files come from a scan of data/, split into those
ms365sync placed and those it did not (which it never deletes or overwrites).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ms365sync.localfs import names
from ms365sync.localfs.mirror import Mirror
from ms365sync.models import (
    VERSION_FIELDS,
    LocalStat,
    MirrorFile,
    PermissionSet,
    RemoteFile,
    path_key,
)
from ms365sync.state.store import StateStore, TreeRow
from ms365sync.sync import metadata as documents
from ms365sync.sync.issues import Cause, Held
from ms365sync.target import Filters, MetadataSpec

Lookup = Callable[[str | None], PermissionSet | None]


class Left(enum.Enum):
    """Why a file of the tree is left out of the plan, or mirrored under another name."""

    PROTECTED = "protected"  # its folder is not listed yet: keep its mirror record as it is
    EXCLUDED = "excluded"  # outside the filters
    FAILED = "failed"  # cannot be mirrored (unsafe name, collision): reported as an error
    MAPPED = "mapped"  # mirrored, under a safe local name that differs from its path
    SKIPPED = "skipped"  # not fetched on purpose (malware, inside a package)
    WAITING = "waiting"  # failed for good with this version: not asked for now


@dataclass(frozen=True, slots=True)
class Note:
    """A remark on one file of the tree, yielded beside the files in tree order."""

    left: Left
    item_id: str
    path: str
    reason: str = ""
    cause: Cause | None = None  # of a skip
    ctag: str | None = None  # the version a skip or a wait is about


Entry = RemoteFile | Note


@dataclass
class RemoteNotes:
    """The remarks of one read of the tree, gathered by whoever reads it."""

    protected: set[str] = field(default_factory=set)  # mirror records to leave untouched
    excluded: set[str] = field(default_factory=set)  # item ids outside the filters
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (item, reason)
    mapped: dict[str, str] = field(default_factory=dict)  # path -> why its local name differs
    skipped: dict[str, Note] = field(default_factory=dict)  # path -> the skip's note
    waiting: set[str] = field(default_factory=set)  # item ids held back (`sync.issues`)

    def files(self, entries: Iterable[Entry]) -> Iterator[RemoteFile]:
        """The files among `entries`, noting the remarks on the way."""
        for entry in entries:
            if isinstance(entry, RemoteFile):
                yield entry
            else:
                self.note(entry)

    def note(self, note: Note) -> None:
        if note.left is Left.PROTECTED:
            self.protected.add(note.item_id)
            self.errors[note.path] = (note.item_id, note.reason)
        elif note.left is Left.EXCLUDED:
            self.excluded.add(note.item_id)
        elif note.left is Left.FAILED:
            self.errors[note.path] = (note.item_id, note.reason)
        elif note.left is Left.SKIPPED:
            self.skipped[note.path] = note
            if note.cause is Cause.PACKAGE:  # out of the mirror's scope, as if filtered out
                self.excluded.add(note.item_id)
        elif note.left is Left.WAITING:
            self.waiting.add(note.item_id)
        else:
            self.mapped[note.path] = note.reason


@dataclass
class RemoteInventory:
    """The remote side of a plan, read in one go: the files and the remarks on the others."""

    files: list[RemoteFile]
    notes: RemoteNotes


def remote_files(
    state: StateStore,
    filters: Filters,
    data_dir: Path,
    lookup: Lookup,
    held: Held | None = None,
    *,
    metadata: MetadataSpec | None = None,
) -> RemoteInventory:
    """The files of the committed tree the mirror should hold, sorted by item id."""
    notes = RemoteNotes()
    files = list(
        notes.files(scan_remote(state, filters, data_dir, lookup, held, metadata=metadata))
    )
    return RemoteInventory(files, notes)


def scan_remote(
    state: StateStore,
    filters: Filters,
    data_dir: Path,
    lookup: Lookup,
    held: Held | None = None,
    *,
    metadata: MetadataSpec | None = None,
) -> Iterator[Entry]:
    """The files of the committed tree the mirror should hold, sorted by item id, with a
    `Note` for each file that is protected, excluded, in error, skipped, waiting or mapped
    to another name.

    A file whose path is not known yet keeps its mirror record untouched (protected): its
    folder was not listed, and deleting it would act on an incomplete picture. A file's path
    is its key (`models.path_key`), which the filters see too. A file the listing flags as
    malware, or inside a package (`held`), is skipped, and one waiting after a lasting
    failure left alone. The mirror keeps what it holds of the flagged and the waiting
    files: they come as `pinned` files (the version and place recorded, the permissions of
    now, so a kept copy's permissions never lag), while a file inside a package leaves the
    mirror like a filtered-out one (graph-facts §17.4, §17.5).

    With `metadata` (the target reads document metadata) each file comes with its
    document, and the metadata filters leave files out as the path filters do; a file whose
    list item the list's delta has not reported yet is protected like an unplaced one.
    """
    held = held or Held()
    # A file kept as recorded keeps its local name: nothing else may take it meanwhile.
    taken = {names.collision_key(r.local_path): r.path for r in held.records.values()}
    for row in state.tree_files():
        if row.segments is None:
            why = "its folder is not listed yet"
            yield Note(Left.PROTECTED, row.item_id, f"(item {row.item_id})", why)
            continue
        path = path_key(row.segments)
        if not filters.accepts(path):
            yield Note(Left.EXCLUDED, row.item_id, path)
            continue
        doc = None
        if metadata is not None:
            if row.metadata is None:
                why = "its list item (its columns) is not listed yet"
                yield Note(Left.PROTECTED, row.item_id, path, why)
                continue
            doc = row.metadata
            # Decoded only to be judged: no filter, no decoding (a pass reads every file).
            if metadata.filters and not documents.accepts(metadata, documents.document(doc)):
                yield Note(Left.EXCLUDED, row.item_id, path)
                continue
        skip = _skip(row, path, held)
        if skip is not None:
            yield skip
            record = held.records.get(row.item_id)
            if record is not None:
                yield _pinned(record, lookup(row.perm_src), doc)
            continue
        permissions = lookup(row.perm_src)
        yield from _mirrorable(row, path, data_dir, taken, permissions=permissions, doc=doc)


def _skip(row: TreeRow, path: str, held: Held) -> Note | None:
    """The note of a file the run does not fetch on purpose, else None."""
    if row.malware is not None:
        said = f": {row.malware}" if row.malware else ""
        why = f"SharePoint flags it as malware{said}; not downloaded (an earlier copy is kept)"
        return Note(Left.SKIPPED, row.item_id, path, why, Cause.MALWARE, row.ctag)
    package = held.packages.get(row.item_id)
    if package is not None:
        why = (
            f"inside the package {package!r} (a OneNote notebook or the like); not "
            "mirrored unless include_packages = true"
        )
        return Note(Left.SKIPPED, row.item_id, path, why, Cause.PACKAGE, row.ctag)
    if row.item_id in held.waiting:
        return Note(Left.WAITING, row.item_id, path, held.waiting[row.item_id], ctag=row.ctag)
    return None


def _pinned(record: MirrorFile, permissions: PermissionSet | None, doc: str | None) -> RemoteFile:
    """A kept file as the plan sees it: the version and place recorded, the permissions
    its permission source has now (and its document metadata)."""
    version = {name: getattr(record, name) for name in VERSION_FIELDS}
    return RemoteFile(**version, permissions=permissions, pinned=True, metadata=doc)


def _mirrorable(
    row: TreeRow,
    path: str,
    data_dir: Path,
    taken: dict[str, str],
    *,
    permissions: PermissionSet | None,
    doc: str | None,
) -> Iterator[Entry]:
    assert row.segments is not None
    mapped = names.local_relpath_from_segments(row.segments, root=data_dir)
    if isinstance(mapped, names.Rejected):
        yield Note(Left.FAILED, row.item_id, path, mapped.reason)
        return
    key = names.collision_key(mapped.rel)
    if key in taken:
        yield Note(Left.FAILED, row.item_id, path, f"same local name as {taken[key]!r}")
        return
    taken[key] = path
    if mapped.changed:
        yield Note(Left.MAPPED, row.item_id, path, mapped.note)
    yield RemoteFile(
        item_id=row.item_id,
        path=path,
        local_path=mapped.rel,
        size=row.size,
        ctag=row.ctag,
        quick_xor_hash=row.quick_xor_hash,
        etag=row.etag,
        modified=row.modified,
        permissions=permissions,
        metadata=doc,
    )


@dataclass
class LocalInventory:
    """The local side of a plan: every regular file under data/, and the ones not ours."""

    files: dict[str, LocalStat] = field(default_factory=dict)
    foreign: frozenset[str] = frozenset()


def local_files(mirror: Mirror, state: StateStore) -> LocalInventory:
    """Scan data/ (read only; symlinks and temporary files are never counted as ours).

    Raises:
        LocalStorageError: data/ cannot be read.
    """
    ours = state.mirror_local_paths()
    files: dict[str, LocalStat] = {}
    foreign: set[str] = set()
    for entry in mirror.scan():
        if entry.kind != "file":
            continue
        files[entry.rel] = LocalStat(entry.size, entry.mtime_ns)
        if entry.rel not in ours:
            foreign.add(entry.rel)
    return LocalInventory(files, frozenset(foreign))
