"""The state store's SQLite connection, with SQLite's errors translated at this boundary.

A full disk, a read-only file system or a permission problem is a `LocalStorageError`
(the target fails, nothing is committed, the store stays as it was); only a store SQLite
itself calls corrupt (or not a database) is a `CorruptStateError`, which makes the syncer
set the store aside and rebuild it.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ms365sync.errors import CorruptStateError, LocalStorageError, MS365SyncError, StateError

# Primary result codes (sqlite3.h); the extended codes keep them in their low byte.
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT = 3, 5, 6, 8, 10, 11
_FULL, _CANTOPEN, _AUTH, _NOTADB = 13, 14, 23, 26
_STORAGE = {
    _FULL: ("no space left on device", errno.ENOSPC),
    _READONLY: ("read-only file system", errno.EROFS),
    _PERM: ("permission denied", errno.EACCES),
    _AUTH: ("permission denied", errno.EACCES),
    _CANTOPEN: ("cannot open the file", None),
    _IOERR: ("input/output error", errno.EIO),
}
_MESSAGES = (  # Python 3.10 has no sqlite_errorcode: recognise SQLite's own messages
    ("database or disk is full", _FULL),
    ("readonly database", _READONLY),
    ("disk i/o error", _IOERR),
    ("unable to open database file", _CANTOPEN),
    ("file is not a database", _NOTADB),
    ("malformed", _CORRUPT),
)


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    return next((value for phrase, value in _MESSAGES if phrase in text), None)


def translate(exc: sqlite3.Error, path: Path) -> MS365SyncError:
    """The ms365sync error for an SQLite failure on the store at `path`."""
    code = _code(exc)
    if code == _IOERR and _disk_full(path):
        code = _FULL  # SQLite reports a failed write on a full disk as a plain I/O error
    if code in _STORAGE:
        reason, number = _STORAGE[code]
        return LocalStorageError(f"state store: {reason} ({exc})", path=path, errno=number)
    if code in (_CORRUPT, _NOTADB):
        return CorruptStateError(f"corrupt ({exc})", path=path)
    if code in (_BUSY, _LOCKED):
        return StateError(f"locked by another process ({exc})", path=path)
    return StateError(f"unreadable ({exc})", path=path)


def _disk_full(path: Path) -> bool:
    try:
        found = os.statvfs(path.parent)
    except OSError:
        return False
    return found.f_bavail == 0


class Connection(sqlite3.Connection):
    """A connection whose execute calls raise ms365sync errors instead of sqlite3 ones."""

    store_path: Path = Path("state.db")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise translate(exc, self.store_path) from exc

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            raise translate(exc, self.store_path) from exc

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        try:
            return super().executescript(script)
        except sqlite3.Error as exc:
            raise translate(exc, self.store_path) from exc


def connect(path: Path) -> Connection:
    """Open the store (autocommit mode; transactions are explicit), WAL journal.

    Raises:
        LocalStorageError, StateError, CorruptStateError: as `translate` decides.
    """
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30, factory=Connection)
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc
    assert isinstance(connection, Connection)
    connection.store_path = path
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection
