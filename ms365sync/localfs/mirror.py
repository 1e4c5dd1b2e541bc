"""Every write, move, delete and read ms365sync makes on local disk, confined to the mirror.

Confinement: each operation on `<local_root>/data/` walks down from data/ one directory at a
time with openat(O_DIRECTORY | O_NOFOLLOW) and acts on the last name through that directory
descriptor, so a symbolic link anywhere below data/ (even one swapped in while an operation
runs) is refused, never followed; `Mirror.resolve` gives the same verdict to callers that
need a `Path`.

Durability: a download is written to a hidden temporary file beside its destination and
renamed over it, so a killed process leaves either the old file or the new one, never a
partial one (plus at worst a stale temporary file that `cleanup_temp_files` removes: every
temporary name is claimed in the target's `TempJournal` before it is created). There
is deliberately no per-file fsync: surviving power loss would cost a disk flush per file,
and after a power cut the next run re-checks sizes and hashes anyway. `write_atomic`, used
for `.permissions.json` and change logs, does fsync the file and its directory.

Every OSError is translated here into `LocalStorageError`.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from ms365sync.errors import LocalStorageError
from ms365sync.localfs.journal import TempJournal
from ms365sync.localfs.names import is_temp_name, temp_name
from ms365sync.localfs.syscalls import (
    DIR_FLAGS,
    GONE,
    REASONS,
    create_temp,
    lstat_at,
    open_dir,
    refusal,
    storage_error,
    translated,
)
from ms365sync.localfs.tempfile import TempFile
from ms365sync.models import LocalStat
from ms365sync.quickxorhash import QuickXorHash
from ms365sync.target import DATA_DIR, LOG_DIR

__all__ = [
    "EntryKind",
    "LocalEntry",
    "Mirror",
    "timestamp_ns",
]

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not block
_CHUNK = 1 << 20
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EXPORT_DIRS = ("", LOG_DIR)  # where write_atomic puts .permissions.json and change logs
_CLEANED = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})  # gone, or not ours to follow
_STOP_PRUNING = frozenset({errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR, errno.EBUSY})


EntryKind = Literal["file", "dir", "symlink", "other"]


@dataclass(frozen=True, slots=True)
class LocalEntry:
    """One entry found by `Mirror.scan`; `rel` is relative to data/ with `/` separators."""

    rel: str
    size: int
    mtime_ns: int
    kind: EntryKind = "file"


def _parts(local_rel: str) -> tuple[str, ...]:
    """Split a path relative to data/; raises ValueError if it could name anything outside."""
    parts = tuple(local_rel.split("/"))
    if local_rel.startswith("/") or any(p in {"", ".", ".."} or "\0" in p for p in parts):
        raise ValueError(f"not a safe path relative to the mirror: {local_rel!r}")
    return parts


def timestamp_ns(moment: datetime) -> int:
    """`moment` in integer nanoseconds since the epoch, exactly (also before 1970), as
    `commit` and `set_mtime` set it. Raises ValueError if `moment` is naive."""
    if moment.utcoffset() is None:
        raise ValueError(f"mtime must be timezone-aware, got {moment.isoformat()}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _prune(fds: Sequence[int], parts: Sequence[str]) -> None:
    """Remove the now-empty directories holding `parts[-1]`, deepest first, never data/."""
    for index in range(len(parts) - 1, 0, -1):
        try:
            os.rmdir(parts[index - 1], dir_fd=fds[index - 1])
        except OSError as exc:
            if exc.errno in _STOP_PRUNING:
                return
            raise


class Mirror:
    """The mirror of one target: every path is relative to `<local_root>/data/` and confined
    to it. Relative paths use `/`; one that is absolute or has an empty, `.` or `..` segment
    raises ValueError in every method."""

    def __init__(self, local_root: Path | str) -> None:
        self.local_root = Path(local_root).absolute()
        self.data_dir = self.local_root / DATA_DIR
        self.journal = TempJournal(self.local_root)

    def close(self) -> None:
        """Close the temporary-name journal (it opens again when a temporary file is made)."""
        self.journal.close()

    def __repr__(self) -> str:
        return f"Mirror({str(self.local_root)!r})"

    def resolve(self, local_rel: str) -> Path:
        """The absolute path of `local_rel`, after checking with lstat that no existing
        component from data/ down is a symlink. Raises LocalStorageError (ELOOP) if one is."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        steps = [self.data_dir.joinpath(*parts[:depth]) for depth in range(len(parts) + 1)]
        with translated(path, "resolve"):
            for step in steps:
                try:
                    st = os.lstat(step)
                except (FileNotFoundError, NotADirectoryError):
                    break
                if stat.S_ISLNK(st.st_mode):
                    raise refusal(step, "resolve", st)
        return path

    def open_temp(self, local_rel: str) -> TempFile:
        """Create the parent directories (never through a symlink) and a new hidden temporary
        file beside `local_rel`, mode 0644 less the umask. Raises LocalStorageError."""
        parts = _parts(local_rel)
        dest = self.data_dir.joinpath(*parts)
        with translated(dest, "create a temporary file"), self._chain(parts, create=True) as fds:
            fd, name = create_temp(fds[-1], parts[-1], journal=self.journal, folder=dest.parent)
            raw = os.fdopen(fd, "wb", buffering=0)
            raw.name = str(dest.with_name(name))  # for error messages written by the caller
        # The default (small) buffer: a run may hold hundreds of staged temporary files open.
        return TempFile(self, local_rel, parts, name, io.BufferedWriter(raw))

    def commit(self, tmp: TempFile, local_rel: str, *, mtime: datetime) -> None:
        """Close `tmp`, set its mtime and atime to `mtime`, and rename it over `local_rel`.

        On failure the temporary file is removed and the destination is unchanged. Raises
        LocalStorageError (also when the destination is a symlink or a directory) and
        ValueError (naive `mtime`, `local_rel` not the one `tmp` was opened for, `tmp` done).
        """
        if local_rel != tmp.local_rel:
            raise ValueError(f"{tmp.path} was opened for {tmp.local_rel!r}, not {local_rel!r}")
        tmp._commit(timestamp_ns(mtime))

    def discard(self, tmp: TempFile) -> None:
        """Close and remove `tmp`. Raises LocalStorageError, or ValueError if `tmp` is done."""
        tmp._discard()

    def set_mtime(self, local_rel: str, mtime: datetime, *, placed: int | None) -> LocalStat:
        """Set the mtime and atime of the regular file `local_rel`; returns its stat after.

        In place only on the very file the mirror placed: `placed` (its recorded inode
        number) is this file's and no other hard link shares it. Anything else (a hard link
        to a file elsewhere, a file swapped in or bound over it, an adopted file, one
        recorded without its inode) is copied into a new file of the mirror's own that
        replaces it, so the time (and nothing else) of a file reachable from outside data/
        is ever changed. Raises LocalStorageError (also for a symlink or a non-file),
        ValueError if `mtime` is naive.
        """
        ns = timestamp_ns(mtime)
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        with translated(path, "set the time of"), self._chain(parts, create=False) as fds:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=fds[-1])
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise refusal(path, "set the time of", st)
                if st.st_ino == placed and st.st_nlink == 1:
                    os.utime(fd, ns=(ns, ns))
                    st = os.fstat(fd)
                else:
                    st = self._replace_with_copy(fds[-1], path, fd, st, ns)
            finally:
                os.close(fd)
        return LocalStat(st.st_size, st.st_mtime_ns, st.st_ino)

    def _replace_with_copy(
        self, dir_fd: int, path: Path, source: int, seen: os.stat_result, ns: int
    ) -> os.stat_result:
        """Copy the open file `source` into a new temporary file beside `path`, give it the
        time `ns` and rename it over `path` (if `path` is still `seen`); its stat."""
        temp_fd, temp = create_temp(dir_fd, path.name, journal=self.journal, folder=path.parent)
        try:
            with open(temp_fd, "wb", buffering=0) as out, open(source, "rb", closefd=False) as src:
                buffer = bytearray(_CHUNK)
                view = memoryview(buffer)
                while count := src.readinto(buffer):
                    out.write(view[:count])
                os.utime(out.fileno(), ns=(ns, ns))
                copied = os.fstat(out.fileno())
            now = lstat_at(dir_fd, path.name)
            if now is None or not os.path.samestat(now, seen):
                raise LocalStorageError("cannot set the time of: it changed meanwhile", path=path)
            os.replace(temp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
                self.journal.settle(path.parent / temp)
            raise
        self.journal.settle(path.parent / temp)
        return copied

    def cleanup_temp_files(self) -> int:
        """Remove the temporary files a killed run left behind: exactly those its journal
        names (under data/, and beside the target's exports in the local root and its
        sync_logs/), and only when each is still a regular file named like ours reached
        without a symlink; then empty the journal. Returns how many were removed. A file of
        someone else's that only looks like one of ours is never touched. Raises
        LocalStorageError."""
        removed = 0
        for rel in self.journal.recorded():
            try:
                parts = _parts(rel)
            except ValueError:
                continue  # not a name this version writes: leave whatever is there
            if not is_temp_name(parts[-1]):
                continue
            if parts[0] == DATA_DIR and len(parts) > 1:
                removed += self._remove_temp(parts[1:])
            elif "/".join(parts[:-1]) in _EXPORT_DIRS:
                removed += _remove_export_temp(self.local_root, parts)
        self.journal.clear()
        return removed

    def park(self, local_rel: str, token: str) -> str:
        """Move the file `local_rel` aside to a hidden temporary name beside it (claimed in
        the journal first, so a killed run's next run removes it) and return that name,
        relative to data/. Raises LocalStorageError, ValueError."""
        folder, _, name = local_rel.rpartition("/")
        parked = temp_name(name, token)
        parked_rel = f"{folder}/{parked}" if folder else parked
        path = self.data_dir.joinpath(*_parts(parked_rel))
        self.journal.claim(path)
        try:
            self.move(local_rel, parked_rel)
        except BaseException:
            self.journal.release(path)  # whatever holds the name now is not ours
            raise
        return parked_rel

    def unpark(self, parked_rel: str, local_rel: str) -> None:
        """Move a file `park` set aside to `local_rel` (replacing a regular file there); its
        hidden name is then gone. Raises LocalStorageError, ValueError."""
        self.move(parked_rel, local_rel, replace=True)
        self.journal.settle(self.data_dir.joinpath(*_parts(parked_rel)))

    def _remove_temp(self, parts: Sequence[str]) -> int:
        """Unlink the temporary file `parts` (below data/) if it is a regular file; 1 if so."""
        path = self.data_dir.joinpath(*parts)
        with translated(path, "remove"):
            try:
                with self._chain(parts, create=False) as fds:
                    found = lstat_at(fds[-1], parts[-1])
                    if found is None or not stat.S_ISREG(found.st_mode):
                        return 0
                    os.unlink(parts[-1], dir_fd=fds[-1])
                    return 1
            except OSError as exc:
                if exc.errno in _CLEANED:
                    return 0
                raise

    def move(self, old_rel: str, new_rel: str, *, replace: bool = False) -> None:
        """Rename a file or directory within data/, creating the new parents and removing old
        parents left empty. An existing destination is an error unless it is a regular file,
        the source is one too, and `replace` is true. Raises LocalStorageError."""
        old, new = _parts(old_rel), _parts(new_rel)
        if old == new:
            return
        old_path, new_path = self.data_dir.joinpath(*old), self.data_dir.joinpath(*new)
        with translated(old_path, "move"), self._chain(old, create=False) as src:
            source = os.stat(old[-1], dir_fd=src[-1], follow_symlinks=False)
            if not (stat.S_ISREG(source.st_mode) or stat.S_ISDIR(source.st_mode)):
                raise refusal(old_path, "move", source)
            here = f"move {old_rel!r} here"
            with translated(new_path, here), self._chain(new, create=True) as dst:
                _check_move_target(lstat_at(dst[-1], new[-1]), source, new_path, here, replace)
                os.rename(old[-1], new[-1], src_dir_fd=src[-1], dst_dir_fd=dst[-1])
            _prune(src, old)

    def delete(self, local_rel: str) -> bool:
        """Unlink a regular file and then its parent directories left empty (never data/
        itself, never recursively); a missing file is not an error. Returns whether a file
        was removed. Raises LocalStorageError (also for a symlink or a directory)."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        with translated(path, "delete"):
            try:
                with self._chain(parts, create=False) as fds:
                    st = os.stat(parts[-1], dir_fd=fds[-1], follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        raise refusal(path, "delete", st)
                    os.unlink(parts[-1], dir_fd=fds[-1])
                    _prune(fds, parts)
            except OSError as exc:
                if exc.errno in GONE:
                    return False
                raise
        return True

    def exists(self, local_rel: str) -> bool:
        """Whether anything (file, directory or symlink) has the name `local_rel`.
        Raises LocalStorageError, e.g. when a directory on the way is a symlink."""
        parts = _parts(local_rel)
        with translated(self.data_dir.joinpath(*parts), "look up"):
            return self._lstat(parts) is not None

    def stat(self, local_rel: str) -> LocalStat | None:
        """Size and mtime of the regular file `local_rel`, or None if nothing is there.
        Raises LocalStorageError when it is a symlink, a directory or another non-file."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        with translated(path, "stat"):
            st = self._lstat(parts)
        if st is None:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise refusal(path, "stat", st)
        return LocalStat(st.st_size, st.st_mtime_ns, st.st_ino)

    def hash_file(self, local_rel: str) -> tuple[int, str]:
        """Size and base64 quickXorHash of the regular file `local_rel`, streamed.
        Raises LocalStorageError (missing, unreadable, a symlink or not a regular file)."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        hasher, size = QuickXorHash(), 0
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        with translated(path, "read"), self._chain(parts, create=False) as fds:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=fds[-1])
            with open(fd, "rb", buffering=0) as file:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise refusal(path, "read", st)
                while count := file.readinto(buffer):
                    hasher.update(view[:count])
                    size += count
        return size, hasher.b64digest()

    def scan(self) -> Iterator[LocalEntry]:
        """Every entry under data/, parents before children and sorted by name, without
        following symlinks (reported with kind "symlink") and skipping our temporary files.
        Raises LocalStorageError."""
        for _, rel, entry in self._walk():
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:  # the path is built only here: a scan is one per file
                raise storage_error(exc, self.data_dir / rel, "stat") from exc
            kind = _kind(st)
            if kind == "file" and is_temp_name(entry.name):
                continue
            yield LocalEntry(rel, st.st_size, st.st_mtime_ns, kind)

    @contextmanager
    def _chain(self, parts: Sequence[str], *, create: bool) -> Iterator[list[int]]:
        """Descriptors of data/ and each directory above `parts[-1]`, opened without following
        symlinks (and created first if `create`); data/ first. Raises OSError."""
        fds = [self._open_data(create)]
        try:
            for name in parts[:-1]:
                shown = "/".join(parts[: len(fds)])
                try:
                    fds.append(open_dir(name, fds[-1], shown))
                except FileNotFoundError:
                    if not create:
                        raise
                    with suppress(FileExistsError):  # created meanwhile by someone else
                        os.mkdir(name, dir_fd=fds[-1])
                    fds.append(open_dir(name, fds[-1], shown))
            yield fds
        finally:
            for fd in reversed(fds):
                os.close(fd)

    def _open_data(self, create: bool) -> int:
        try:
            return open_dir(self.data_dir, None, "data/ itself")
        except FileNotFoundError:
            if not create:
                raise
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return open_dir(self.data_dir, None, "data/ itself")

    def _lstat(self, parts: Sequence[str]) -> os.stat_result | None:
        try:
            with self._chain(parts, create=False) as fds:
                return lstat_at(fds[-1], parts[-1])
        except OSError as exc:
            if exc.errno in GONE:
                return None
            raise

    def _walk(self) -> Iterator[tuple[int, str, os.DirEntry[str]]]:
        with translated(self.data_dir, "scan"):
            try:
                top = self._open_data(False)
            except FileNotFoundError:
                return
        try:
            yield from _walk_fd(top, self.data_dir, "")
        finally:
            os.close(top)


def _walk_fd(fd: int, base: Path, prefix: str) -> Iterator[tuple[int, str, os.DirEntry[str]]]:
    """(directory fd, rel, entry) for everything below `fd` (the directory `base / prefix`),
    parents first, never through a symlink. Raises LocalStorageError."""
    with translated(base / prefix, "list"), os.scandir(fd) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        rel = prefix + entry.name
        yield fd, rel, entry
        if entry.is_dir(follow_symlinks=False):
            with translated(base / rel, "list"):
                try:
                    child = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in GONE or exc.errno == errno.ELOOP:
                        continue  # removed or replaced while we walked: not ours to follow
                    raise
            try:
                yield from _walk_fd(child, base, rel + "/")
            finally:
                os.close(child)


def _remove_export_temp(local_root: Path, parts: Sequence[str]) -> int:
    """Unlink the temporary file `parts` of an export (in the local root or its sync_logs/,
    which a run refuses to be a symlink) if it is a regular file; 1 if so."""
    folder = local_root.joinpath(*parts[:-1])
    with translated(folder / parts[-1], "remove"):
        try:
            fd = os.open(folder, DIR_FLAGS if parts[:-1] else DIR_FLAGS & ~os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno in _CLEANED:
                return 0
            raise
        try:
            found = lstat_at(fd, parts[-1])
            if found is None or not stat.S_ISREG(found.st_mode):
                return 0
            with suppress(FileNotFoundError):
                os.unlink(parts[-1], dir_fd=fd)
            return 1
        finally:
            os.close(fd)


def _kind(st: os.stat_result) -> EntryKind:
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    return "other"


def _check_move_target(
    target: os.stat_result | None, source: os.stat_result, path: Path, action: str, replace: bool
) -> None:
    """Raise LocalStorageError unless a move may land on `target` (None: nothing there)."""
    if target is None:
        return
    if os.path.samestat(target, source) and target.st_nlink == 1:
        return  # the same entry: a case-only rename on a case-insensitive file system
    if stat.S_ISLNK(target.st_mode) or stat.S_ISDIR(target.st_mode):
        raise refusal(path, action, target)
    if not (replace and stat.S_ISREG(target.st_mode) and stat.S_ISREG(source.st_mode)):
        raise LocalStorageError(
            f"cannot {action}: {REASONS[errno.EEXIST]}", path=path, errno=errno.EEXIST
        )
