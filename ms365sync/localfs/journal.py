"""The temporary files a run is about to create, recorded before each one is created.

A killed run leaves its temporary files behind (a download's `.part` beside its
destination, a file parked during a swap of names, an export being written). The next run
removes exactly the ones recorded here and nothing else, so a file of the user's that only
looks like one of ours (`data/.notes.ms365sync-abcd1234.part`) is never touched.

The journal is `<local_root>/.ms365sync/temp-files`: one record per name, appended with a
single `write` (atomic for a file opened with O_APPEND), never flushed to disk. A killed
process loses nothing the kernel already has; after a power cut a lost record only leaves a
temporary file behind, never deletes a file that was not ours. It holds the names of one
run: the next run's cleanup empties it. A run that ends with every temporary file it made
renamed into place or removed (`settle`) empties it itself when it closes the journal, so
the next run does not look up a name per file the last one downloaded.

Records are relative to the local root and end with NUL, which no file name holds: `+name`
before a name is created, `-name` when it turned out to be taken by someone else's file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ms365sync.localfs.syscalls import translated
from ms365sync.target import STATE_DIR

__all__ = ["TEMP_JOURNAL", "TempJournal"]

TEMP_JOURNAL = "temp-files"

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_CLAIM, _RELEASE, _END = b"+", b"-", b"\0"


class TempJournal:
    """The temporary names created under one local root (see the module). Thread-safe.

    `claim` and `release` take absolute paths below the local root; `recorded` gives them
    back relative to it, with `/` separators.
    """

    def __init__(self, local_root: Path | str) -> None:
        self.local_root = Path(local_root).absolute()
        self.path = self.local_root / STATE_DIR / TEMP_JOURNAL
        self._fd: int | None = None
        self._lock = threading.Lock()
        # The names claimed by this process whose temporary files may still exist.
        self._pending: set[str] = set()
        # Whether every record in the file is one of this process's: true once the journal
        # was found empty or emptied, false while it may hold a killed run's records.
        self._own_records = False

    def __repr__(self) -> str:
        return f"TempJournal({str(self.path)!r})"

    def claim(self, path: Path) -> None:
        """Record `path` before the temporary file is created there. Raises
        LocalStorageError (the journal cannot be written), ValueError if `path` is not
        below the local root."""
        self._append(_CLAIM, path)

    def release(self, path: Path) -> None:
        """Forget a claimed `path` that was not created after all (the name was taken, or
        its creation failed): whatever is there is not ours. Raises LocalStorageError."""
        self._append(_RELEASE, path)

    def settle(self, path: Path) -> None:
        """Note that the temporary file claimed at `path` is gone (renamed into place or
        removed): the next run need not look for it. Call only once it is gone."""
        rel = self._relative(path)
        with self._lock:
            self._pending.discard(rel)

    def recorded(self) -> list[str]:
        """The names claimed and not released, relative to the local root, in the order of
        their claims. A missing journal holds none. Raises LocalStorageError."""
        with translated(self.path, "read"):
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                return []
            with open(fd, "rb") as file:
                data = file.read()
        names: dict[str, None] = {}
        # The last piece is empty, or a record cut short by a crash: not a name.
        for record in data.split(_END)[:-1]:
            name = os.fsdecode(record[1:])
            if record[:1] == _CLAIM:
                names[name] = None
            elif record[:1] == _RELEASE:
                names.pop(name, None)
        return list(names)

    def clear(self) -> None:
        """Forget every record (once the files they name are gone). Raises LocalStorageError."""
        with self._lock, translated(self.path, "empty"):
            self._own_records = True
            if self._fd is not None:
                os.ftruncate(self._fd, 0)
                return
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                return
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)

    def close(self) -> None:
        """Close the journal's descriptor; the next claim opens it again. Empties the
        journal first when it holds only this process's records and each of their
        temporary files is gone. Raises LocalStorageError (the journal cannot be emptied)."""
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            try:
                if self._own_records and not self._pending:
                    with translated(self.path, "empty"):
                        os.ftruncate(fd, 0)
            finally:
                os.close(fd)

    def _relative(self, path: Path) -> str:
        return Path(path).relative_to(self.local_root).as_posix()

    def _append(self, kind: bytes, path: Path) -> None:
        rel = self._relative(path)
        record = kind + os.fsencode(rel) + _END
        with self._lock, translated(self.path, "record a temporary file in"):
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, _FLAGS, 0o600)
                if os.fstat(self._fd).st_size == 0:
                    self._own_records = True
            os.write(self._fd, record)
            if kind == _CLAIM:
                self._pending.add(rel)
            else:
                self._pending.discard(rel)
