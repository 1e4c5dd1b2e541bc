"""Recovering from a damaged state store without losing the mirror or re-reporting it.

When the state store is unreadable it is set aside and the library is listed again from
scratch. On its own that would report every mirrored file as added. `.permissions.json`,
written after every committed run, still says which files were mirrored and with which
permissions, and the files themselves are on disk: from both, the mirror's records are
rebuilt (hashed from disk, matched to the fresh listing by path), so the run reports only
what really differs. `.permissions.json` itself is derived data: when it is damaged it is
simply written again from the state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from ms365sync.errors import LocalStorageError
from ms365sync.localfs import names
from ms365sync.localfs.mirror import Mirror
from ms365sync.models import MirrorFile, PermissionSet, key_names, path_key
from ms365sync.state.store import StateStore

RECOVERED_PREFIX = "recovered:"


@dataclass(frozen=True)
class Baseline:
    """What `.permissions.json` says the mirror held: path -> permission labels."""

    labels: dict[str, tuple[str, ...]]


def read_permissions_file(path: Path) -> Baseline | None:
    """The file's content when it is intact (a JSON object of path -> list of strings)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        logger.warning("{} is damaged ({}); it will be written again", path, exc)
        return None
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, list) and all(isinstance(v, str) for v in value)
        for key, value in data.items()
    ):
        logger.warning("{} does not hold path -> permissions; it will be written again", path)
        return None
    return Baseline({key: tuple(value) for key, value in data.items()})


def file_stamp(path: Path) -> str | None:
    """Size and modification time of a file we wrote, to notice any later change to it."""
    try:
        found = path.stat()
    except OSError:
        return None
    return f"{found.st_size}:{found.st_mtime_ns}"


def permissions_file_intact(path: Path, stamp: str | None) -> bool:
    """Whether `.permissions.json` is still exactly as the last export left it.

    A stat, not a parse, so it stays cheap on every run however large the file: any change
    since ms365sync wrote it (truncation, an edit, a removal) makes it be written again. With
    no recorded stamp (older state) the whole file is checked.
    """
    if stamp is None:
        return read_permissions_file(path) is not None
    return file_stamp(path) == stamp


def rebuild_mirror(state: StateStore, mirror: Mirror, baseline: Baseline) -> int:
    """Record the files of `baseline` that are on disk as mirrored (inside the run
    transaction, after the fresh listing was applied); returns how many.

    A file is matched to the remote item with the same key and found on disk under the
    local name that item's names map to. A key an earlier version wrote by joining names
    that hold "/" or "\\" plainly is matched to the one item whose names join to it, so
    the plan reports the file moved to its new key, as it would with the state intact. A
    file that no longer exists remotely keeps a placeholder id, so the plan deletes it and
    reports it deleted, as the lost state would have.

    Raises:
        LocalStorageError: a mirrored file could not be read.
    """
    by_key, by_join = _tree_by_key(state)
    rebuilt = 0
    for path, labels in sorted(baseline.labels.items()):
        item_id, segments = by_key.get(path) or by_join.get(path) or _unlisted(path)
        mapped = names.local_relpath_from_segments(segments)
        if isinstance(mapped, names.Rejected):
            continue
        try:
            stat = mirror.stat(mapped.rel)
            if stat is None:
                continue  # gone locally: the plan adds it again
            size, digest = mirror.hash_file(mapped.rel)
        except (LocalStorageError, ValueError) as exc:
            logger.warning("not recovering {}: {}", path, exc)
            continue
        state.put_mirror(
            MirrorFile(
                item_id=item_id,
                path=path,
                local_path=mapped.rel,
                size=size,
                ctag=None,
                quick_xor_hash=digest,
                etag=None,
                modified=None,
                mtime_ns=stat.mtime_ns,
                permissions=PermissionSet(labels),
                ino=stat.ino,
            )
        )
        rebuilt += 1
    return rebuilt


Listed = tuple[str, tuple[str, ...]]  # a file of the tree: its item id and its names


def _tree_by_key(state: StateStore) -> tuple[dict[str, Listed], dict[str, Listed]]:
    """The tree's files by key, and those whose names hold "/" or "\\" by their names
    joined plainly (what earlier versions keyed them by) where that join is no other
    file's key or join."""
    by_key: dict[str, Listed] = {}
    by_join: dict[str, Listed | None] = {}
    for row in state.tree_files():
        if row.segments:
            key, joined = path_key(row.segments), "/".join(row.segments)
            by_key[key] = (row.item_id, row.segments)
            if joined != key:
                by_join[joined] = None if joined in by_join else (row.item_id, row.segments)
    return by_key, {j: f for j, f in by_join.items() if f is not None and j not in by_key}


def _unlisted(key: str) -> Listed:
    """A placeholder id and the names of a key of .permissions.json that is not listed. A
    key with a lone "\\" was written by a version that did not escape names: it is split
    as that version joined it."""
    try:
        segments = key_names(key)
    except ValueError:
        segments = tuple(key.split("/"))
    return RECOVERED_PREFIX + key, segments
