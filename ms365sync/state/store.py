"""Per-target state store (SQLite, under `<local_root>/.ms365sync/`): opening, copies, runs.

It holds the remote tree as of the last complete listing (`tree`), the permission sets read
from Graph (`perms`), the files ms365sync placed and reported and the per-file errors to retry
(`mirror`), the delta link and other metadata (`meta`), and the outputs not yet written and
the run history (`outbox`); `schema` creates and versions the tables. A listing streams its
pages into the stage first; a run then applies the stage, plans, acts and records everything
in one transaction (`StateStore.run()`), so a crash at any point leaves the previous
committed state intact and no change event is lost or reported twice.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ms365sync.errors import CorruptStateError, LocalStorageError, MS365SyncError, StateError
from ms365sync.state import db as sqlitedb
from ms365sync.state import schema
from ms365sync.state.fields import FieldsTables
from ms365sync.state.meta import Meta, MetaTables
from ms365sync.state.mirror import FileError, GrantRow, IssueRow, MirrorTables, PathLabels
from ms365sync.state.outbox import OutboxTables, PendingExport, RunRecord
from ms365sync.state.perms import PermTables
from ms365sync.state.tree import StageSummary, StructureChange, TreeRow, TreeTables
from ms365sync.target import DB_NAME

__all__ = [
    "FileError",
    "GrantRow",
    "IssueRow",
    "Meta",
    "PathLabels",
    "PendingExport",
    "RunRecord",
    "StageSummary",
    "StateStore",
    "StructureChange",
    "TreeRow",
]


def _check_file(path: Path) -> None:
    """An existing store must be a file with content: SQLite would open an empty file (or
    create a missing one) as a new, empty store and the run would look like a first run."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path, action="read the state store") from exc
    if not path.is_file():
        raise CorruptStateError("not a file", path=path)
    if info.st_size == 0:
        raise CorruptStateError("empty file", path=path)


class StateStore(TreeTables, PermTables, MirrorTables, MetaTables, OutboxTables, FieldsTables):
    """The SQLite state of one target, its tables' methods mixed in from their modules.
    Not thread-safe: use from the syncer's thread."""

    def __init__(self, state_dir: Path, *, connection: sqlite3.Connection | None = None) -> None:
        """Open (creating or migrating) the store in `state_dir`.

        Raises:
            StateError: the store is corrupt, truncated, unreadable or from a newer version.
        """
        self.path = state_dir / DB_NAME
        if connection is None:
            _check_file(self.path)
            try:
                state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LocalStorageError.from_oserror(exc, action="create the state folder") from exc
            connection = sqlitedb.connect(self.path)
        self._db = connection
        try:
            self._check()
            schema.create(self._db)
            schema.migrate(self._db, self.path)
            schema.index(self._db)
        except (MS365SyncError, sqlite3.Error) as exc:
            connection.close()
            if isinstance(exc, sqlite3.Error):
                raise sqlitedb.translate(exc, self.path) from exc
            raise

    @classmethod
    def snapshot(cls, state_dir: Path) -> StateStore:
        """An in-memory copy of the store (for dry runs): changes to it are never written.

        The files are copied aside first: even a read-only SQLite connection creates the
        -wal and -shm files of a WAL database, and a dry run must not touch the target.

        Raises:
            StateError: the store exists but cannot be read.
        """
        memory = sqlite3.connect(":memory:", isolation_level=None)
        path = state_dir / DB_NAME
        try:
            if path.exists():
                _copy_into(path, memory)
        except (sqlite3.DatabaseError, OSError) as exc:
            memory.close()
            raise StateError(f"unreadable ({exc})", path=path) from exc
        return cls(state_dir, connection=memory)

    @staticmethod
    def read_meta(state_dir: Path) -> Meta | None:
        """The store's meta entries, read without opening the store for writing (None: no
        store, or one that cannot be read; its own run will say why). For planning across
        targets at the start of a run; a target's syncer may be writing it meanwhile."""
        rows = _read_only(state_dir, "SELECT key, value FROM meta")
        if rows is None:
            return None
        return Meta.decode({str(key): str(value) for key, value in rows})

    @staticmethod
    def read_file_count(state_dir: Path) -> int | None:
        """How many files the store records as mirrored, read without opening it for
        writing (None: no store, or one that cannot be read). Never creates or migrates a
        store: for reports across targets (`ms365sync shards`, `check`)."""
        rows = _read_only(state_dir, "SELECT COUNT(*) FROM mirror")
        return None if rows is None else int(rows[0][0])

    @staticmethod
    def set_aside(state_dir: Path) -> Path:
        """Move an unreadable store out of the way (kept for inspection); returns where."""
        path = state_dir / DB_NAME
        aside = path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        return aside

    def _check(self) -> None:
        row = self._db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            detail = row[0] if row else "no answer"
            raise CorruptStateError(f"integrity check failed: {detail}", path=self.path)

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        """One atomic unit: everything inside commits together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _copy_into(path: Path, memory: sqlite3.Connection) -> None:
    """Load the database at `path` (with its write-ahead log) into `memory`, read only."""
    with tempfile.TemporaryDirectory(prefix="ms365sync-dry-") as scratch:
        copy = Path(scratch) / DB_NAME
        for suffix in ("", "-wal"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                shutil.copyfile(source, Path(f"{copy}{suffix}"))
        source_db = sqlite3.connect(copy)
        try:
            source_db.backup(memory)
        finally:
            source_db.close()


def _read_only(state_dir: Path, query: str) -> list[Any] | None:
    """`query`'s rows from the store, opened read-only (None: no store, or unreadable)."""
    path = state_dir / DB_NAME
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return db.execute(query).fetchall()
    except sqlite3.Error:
        return None
    finally:
        db.close()
