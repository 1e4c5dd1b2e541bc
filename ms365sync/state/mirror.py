"""The mirror's records (what ms365sync placed in data/ and reported) and per-file errors.

Rows read in bulk come back as `NamedTuple`s made straight from SQLite's tuples (`_row`,
no Python call per row). The check a no-op run makes over every record
(`mirror_as_recorded`) makes no row object at all: on 100,000 records even a named tuple
per row would cost it about a third more.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

from ms365sync.models import Grant, LocalStat, MirrorFile, as_recorded
from ms365sync.state.perms import (
    decode_grants,
    decode_permissions,
    encode_grants,
    encode_labels,
)
from ms365sync.state.schema import MIRROR_COLUMNS

__all__ = ["FileError", "GrantRow", "IssueRow", "MirrorTables", "PathLabels"]

_Row = TypeVar("_Row", bound=tuple[Any, ...])


def _row(kind: type[_Row]) -> Callable[[tuple[Any, ...]], _Row]:
    """Make a `kind` from a row as it is (C only, unlike `kind._make`)."""
    return functools.partial(tuple.__new__, kind)


class PathLabels(NamedTuple):
    """A mirror file's path and permission labels (a member of .permissions.json)."""

    path: str
    labels: list[str]


class GrantRow(NamedTuple):
    """A mirror file's entry in the grants file, as stored."""

    path: str
    item_id: str
    stored_grants: str  # equal grants are equal text: a key for what is made of them
    perm_src: str | None  # the item whose permissions apply (itself: its own)

    @property
    def grants(self) -> tuple[Grant, ...]:
        """The grants, decoded (cached by their stored text)."""
        return decode_grants(self.stored_grants)


class FileError(NamedTuple):
    """A file that could not be mirrored as listed (`sync.issues`): transient ones are
    tried again by the next run, permanent ones when the item changes (`ctag`) or at
    `retry_at`, skipped ones when the item changes or stops being what it is."""

    item_id: str
    path: str | None
    reason: str
    attempts: int
    kind: str  # "transient", "permanent" or "skipped"
    cause: str | None
    ctag: str | None
    retry_at: float | None
    first_seen: float


class IssueRow(NamedTuple):
    """One file's issue as a run records it."""

    path: str
    reason: str
    kind: str
    cause: str | None = None
    ctag: str | None = None
    retry_at: float | None = None


_PATH_LABELS = _row(PathLabels)
_GRANT_ROW = _row(GrantRow)
_FILE_ERROR = _row(FileError)


class MirrorTables:
    """The mirror and errors tables of a `StateStore` (a mixin over its connection)."""

    _db: sqlite3.Connection

    # ------------------------------------------------------------------ mirror

    def mirror_files(self, page: int = 1000) -> Iterator[MirrorFile]:
        """Every recorded mirror file, sorted by item id, read a page at a time after the
        last id passed: records written meanwhile for ids already passed do not disturb it."""
        after = ""
        while True:
            rows = self._db.execute(
                f"SELECT {MIRROR_COLUMNS} FROM mirror WHERE item_id > ? ORDER BY item_id LIMIT ?",
                (after, page),
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield from map(_mirror_file, rows)

    def mirror_records(self, item_ids: Iterable[str]) -> dict[str, MirrorFile]:
        """The records of those of `item_ids` the mirror holds, by item id."""
        ids = list(item_ids)
        found: dict[str, MirrorFile] = {}
        for start in range(0, len(ids), 500):  # SQLite before 3.32 allows 999 parameters
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {MIRROR_COLUMNS} FROM mirror WHERE item_id IN ({marks})", chunk
            )
            found.update((row[0], _mirror_file(row)) for row in rows)
        return found

    def mirror_as_recorded(self, local: Mapping[str, LocalStat]) -> bool:
        """Whether every recorded mirror file is in `local` (local path -> what is on disk)
        as it was placed (`models.as_recorded`)."""
        return all(
            as_recorded(local.get(local_path), size, mtime_ns)
            for local_path, size, mtime_ns in self._db.execute(
                "SELECT local_path, COALESCE(local_size, size), mtime_ns FROM mirror"
            )
        )

    def mirror_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM mirror").fetchone()[0])

    def put_mirror(self, file: MirrorFile) -> None:
        self._db.execute(
            "DELETE FROM mirror WHERE path = ? AND item_id != ?", (file.path, file.item_id)
        )
        self._db.execute(
            f"INSERT INTO mirror({MIRROR_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(item_id) DO UPDATE SET path=excluded.path, "
            "local_path=excluded.local_path, "
            "size=excluded.size, ctag=excluded.ctag, qxh=excluded.qxh, etag=excluded.etag, "
            "modified=excluded.modified, mtime_ns=excluded.mtime_ns, labels=excluded.labels, "
            "grants=excluded.grants, ino=excluded.ino, local_size=excluded.local_size, "
            "metadata=excluded.metadata",
            (
                file.item_id,
                file.path,
                file.local_path,
                file.size,
                file.ctag,
                file.quick_xor_hash,
                file.etag,
                file.modified,
                file.mtime_ns,
                encode_labels(file.permissions.labels),
                encode_grants(file.permissions.grants),
                file.ino,
                file.local_size,
                file.metadata,
            ),
        )

    def drop_mirror(self, item_id: str) -> None:
        self._db.execute("DELETE FROM mirror WHERE item_id = ?", (item_id,))

    def mirror_local_paths(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT local_path FROM mirror")}

    def mirror_labels(self) -> Iterator[PathLabels]:
        """Every mirror file's labels, sorted by path, for .permissions.json."""
        for path, labels in self._db.execute("SELECT path, labels FROM mirror ORDER BY path"):
            yield _PATH_LABELS((path, json.loads(labels)))

    def mirror_metadata(self) -> Iterator[tuple[str, str, str]]:
        """Every mirror file's path, item id and reported metadata (files with some),
        sorted by path: the metadata sidecar's input."""
        return iter(
            self._db.execute(
                "SELECT path, item_id, metadata FROM mirror WHERE metadata IS NOT NULL "
                "ORDER BY path"
            )
        )

    def mirror_grant_rows(self) -> Iterator[GrantRow]:
        """Every mirror file's grants and permission source, sorted by path: the grants
        file's input."""
        return map(
            _GRANT_ROW,
            self._db.execute(
                "SELECT m.path, m.item_id, m.grants, i.perm_src FROM mirror m "
                "LEFT JOIN items i ON i.item_id = m.item_id ORDER BY m.path"
            ),
        )

    # ------------------------------------------------------------------ errors

    def has_transient_errors(self) -> bool:
        """Whether any file is failing in a way the next run tries again."""
        return bool(
            self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM errors WHERE kind = 'transient')"
            ).fetchone()[0]
        )

    def retry_due(self, now: float) -> bool:
        """Whether a permanent failure's waiting time is over (the next run tries it)."""
        row = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM errors WHERE retry_at IS NOT NULL AND retry_at <= ?)",
            (now,),
        ).fetchone()
        return bool(row[0])

    def record_issues(
        self, current: Mapping[str, IssueRow], kept: set[str], now: float
    ) -> set[str]:
        """Record this run's issues (key: item id, else path), keep the rows of `kept` as
        they are and forget the rest. An issue that persists with the same kind, cause and
        item version counts one more attempt and keeps when it was first seen. Returns the
        keys that are new or changed (their kind, cause or version)."""
        stored = {
            row[0]: (row[1], row[2], row[3])
            for row in self._db.execute("SELECT item_id, kind, cause, ctag FROM errors")
        }
        gone = [(key,) for key in stored.keys() - current.keys() - kept]
        self._db.executemany("DELETE FROM errors WHERE item_id = ?", gone)
        fresh: set[str] = set()
        for key, row in current.items():
            same = stored.get(key) == (row.kind, row.cause, row.ctag)
            if not same:
                fresh.add(key)
                self._db.execute("DELETE FROM errors WHERE item_id = ?", (key,))
            self._db.execute(
                "INSERT INTO errors(item_id, path, reason, first_seen, attempts, kind, cause, "
                "ctag, retry_at) VALUES(?,?,?,?,1,?,?,?,?) ON CONFLICT(item_id) DO UPDATE SET "
                "path=excluded.path, reason=excluded.reason, attempts=attempts+1, "
                "retry_at=excluded.retry_at",
                (key, row.path, row.reason, now, row.kind, row.cause, row.ctag, row.retry_at),
            )
        return fresh

    def errors(self) -> list[FileError]:
        """The files that could not be mirrored as listed, sorted by kind and path."""
        return list(
            map(
                _FILE_ERROR,
                self._db.execute(
                    "SELECT item_id, path, reason, attempts, kind, cause, ctag, retry_at, "
                    "first_seen FROM errors ORDER BY kind, path"
                ),
            )
        )


def _mirror_file(row: tuple[Any, ...]) -> MirrorFile:
    return MirrorFile(
        item_id=row[0],
        path=row[1],
        local_path=row[2],
        size=row[3],
        ctag=row[4],
        quick_xor_hash=row[5],
        etag=row[6],
        modified=row[7],
        mtime_ns=row[8],
        permissions=decode_permissions(row[9], row[10]),
        ino=row[11],
        local_size=row[12],
        metadata=row[13],
    )
