"""The planner's inputs: the remote files the mirror should hold, and what is on disk.

Remote files come from the committed tree (paths resolved, filters applied, names mapped
to safe local ones); files that cannot be mirrored (an unsafe path that cannot be mapped,
two names that are one on a case-insensitive file system, a folder not listed yet) are
reported as errors instead. Local files come from a scan of data/, split into those
ms365sync placed and those it did not (which it never deletes or overwrites).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ms365sync.localfs import names
from ms365sync.localfs.mirror import Mirror
from ms365sync.models import LocalStat, PermissionSet, RemoteFile
from ms365sync.state.store import StateStore, TreeRow
from ms365sync.target import Filters

Lookup = Callable[[str | None], PermissionSet | None]


@dataclass
class RemoteInventory:
    """The remote side of a plan."""

    files: list[RemoteFile] = field(default_factory=list)  # sorted by item id
    protected: set[str] = field(default_factory=set)  # mirror records to leave untouched
    excluded: set[str] = field(default_factory=set)  # item ids outside the filters
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (item, reason)
    mapped: dict[str, str] = field(default_factory=dict)  # path -> why its local name differs


def remote_files(
    state: StateStore, filters: Filters, data_dir: Path, lookup: Lookup
) -> RemoteInventory:
    """The files of the committed tree the mirror should hold, sorted by item id."""
    found = RemoteInventory()
    found.files.extend(scan_remote(state, filters, data_dir, lookup, found))
    return found


def scan_remote(
    state: StateStore, filters: Filters, data_dir: Path, lookup: Lookup, found: RemoteInventory
) -> Iterator[RemoteFile]:
    """Yield the files of the committed tree the mirror should hold, sorted by item id, and
    note in `found` (as they are passed) the files that are protected, excluded, in error
    or mapped to another local name; `found.files` is left alone.

    A file whose path is not known yet keeps its mirror record untouched (protected): its
    folder was not listed, and deleting it would act on an incomplete picture.
    """
    taken: dict[str, str] = {}
    for row in state.tree_files():
        if row.segments is None:
            found.protected.add(row.item_id)
            found.errors[f"(item {row.item_id})"] = (row.item_id, "its folder is not listed yet")
            continue
        path = "/".join(row.segments)
        if not filters.accepts(path):
            found.excluded.add(row.item_id)
            continue
        remote = _mirrorable(row, path, data_dir, taken, found, permissions=lookup(row.perm_src))
        if remote is not None:
            yield remote


def _mirrorable(
    row: TreeRow,
    path: str,
    data_dir: Path,
    taken: dict[str, str],
    found: RemoteInventory,
    *,
    permissions: PermissionSet | None,
) -> RemoteFile | None:
    assert row.segments is not None
    mapped = names.local_relpath_from_segments(row.segments, root=data_dir)
    if isinstance(mapped, names.Rejected):
        found.errors[path] = (row.item_id, mapped.reason)
        return None
    key = names.collision_key(mapped.rel)
    if key in taken:
        found.errors[path] = (row.item_id, f"same local name as {taken[key]!r}")
        return None
    taken[key] = path
    if mapped.changed:
        found.mapped[path] = mapped.note
    return RemoteFile(
        item_id=row.item_id,
        path=path,
        local_path=mapped.rel,
        size=row.size,
        ctag=row.ctag,
        quick_xor_hash=row.quick_xor_hash,
        etag=row.etag,
        modified=row.modified,
        permissions=permissions,
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
