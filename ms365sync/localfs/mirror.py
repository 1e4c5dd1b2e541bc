"""Every write, move, delete and read ms365sync makes on local disk, confined to the mirror.

Confinement: each operation on `<local_root>/data/` walks down from data/ one directory at a
time with openat(O_DIRECTORY | O_NOFOLLOW) and acts on the last name through that directory
descriptor, so a symbolic link anywhere below data/ (even one swapped in while an operation
runs) is refused, never followed; `Mirror.resolve` gives the same verdict to callers that
need a `Path`.

Durability: a download is written to a hidden temporary file beside its destination and
renamed over it, so a killed process leaves either the old file or the new one, never a
partial one (plus at worst a stale temporary file that `cleanup_temp_files` removes). There
is deliberately no per-file fsync: surviving power loss would cost a disk flush per file,
and after a power cut the next run re-checks sizes and hashes anyway. `write_atomic`, used
for `.permissions.json` and change logs, does fsync the file and its directory.

Every OSError is translated here into `LocalStorageError`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import secrets
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal

from loguru import logger

from ms365sync.errors import LocalStorageError
from ms365sync.localfs.names import TEMP_TOKEN_CHARS, is_temp_name, temp_name
from ms365sync.models import LocalStat
from ms365sync.quickxorhash import QuickXorHash
from ms365sync.target import DATA_DIR, LOG_DIR

__all__ = [
    "EntryKind",
    "LocalEntry",
    "LocalStat",
    "Mirror",
    "TempFile",
    "remove_stale_temp_files",
    "timestamp_ns",
    "write_atomic",
    "write_json_atomic",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not block
_FILE_MODE = 0o644  # the process umask still applies
_CHUNK = 1 << 20
_TEMP_ATTEMPTS = 16
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EXPORT_DIRS = ("", LOG_DIR)  # where write_atomic puts .permissions.json and change logs
_GONE = frozenset({errno.ENOENT, errno.ENOTDIR})
_STOP_PRUNING = frozenset({errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR, errno.EBUSY})

_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied (operation not permitted)",
    errno.ENAMETOOLONG: "file name too long",
    errno.ELOOP: "refusing to follow a symbolic link",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.EISDIR: "a directory is in the way",
    errno.EEXIST: "the destination already exists",
    errno.ENOENT: "no such file or directory",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error",
}

EntryKind = Literal["file", "dir", "symlink", "other"]


@dataclass(frozen=True, slots=True)
class LocalEntry:
    """One entry found by `Mirror.scan`; `rel` is relative to data/ with `/` separators."""

    rel: str
    size: int
    mtime_ns: int
    kind: EntryKind = "file"


class _SymlinkError(OSError):
    """A directory on the way is a symlink (O_DIRECTORY | O_NOFOLLOW says ELOOP or ENOTDIR)."""


def _storage_error(exc: OSError, path: Path, action: str) -> LocalStorageError:
    reason = exc.strerror if isinstance(exc, _SymlinkError) else _REASONS.get(exc.errno or 0)
    reason = reason or exc.strerror or type(exc).__name__
    return LocalStorageError(f"cannot {action}: {reason}", path=path, errno=exc.errno)


def _refusal(path: Path, action: str, st: os.stat_result) -> LocalStorageError:
    """The error for an entry that is not what `action` may touch (a symlink, a directory...)."""
    code = errno.ELOOP if stat.S_ISLNK(st.st_mode) else None
    code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else code
    reason = "not a regular file" if code is None else _REASONS[code]
    return LocalStorageError(f"cannot {action}: {reason}", path=path, errno=code)


def _open_dir(name: str | Path, dir_fd: int | None, shown: str) -> int:
    """Open a directory without following a symlink; raises OSError (_SymlinkError if it is
    one, naming it as `shown`)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in {errno.ELOOP, errno.ENOTDIR} and _is_symlink(name, dir_fd):
            message = f"refusing to follow a symbolic link ({shown})"
            raise _SymlinkError(errno.ELOOP, message) from exc
        raise


def _is_symlink(name: str | Path, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


@contextmanager
def _translated(path: Path, action: str) -> Iterator[None]:
    """Turn an OSError raised inside the block into a one-line LocalStorageError."""
    try:
        yield
    except OSError as exc:
        raise _storage_error(exc, path, action) from exc


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


def _create_temp(dir_fd: int, name: str) -> tuple[int, str]:
    """Create and open a new hidden temporary file for `name` in `dir_fd` (O_EXCL)."""
    for _ in range(_TEMP_ATTEMPTS):
        candidate = temp_name(name, _temp_token())
        try:
            return os.open(candidate, _NEW_FILE_FLAGS, _FILE_MODE, dir_fd=dir_fd), candidate
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", name)


def _temp_token() -> str:
    """TEMP_TOKEN_CHARS random letters and digits from one draw of the system's randomness
    (a draw per character was eight system calls per downloaded file)."""
    value = secrets.randbits(64)  # 36 ** 8 < 2 ** 64: every token can come out
    token = []
    for _ in range(TEMP_TOKEN_CHARS):
        value, digit = divmod(value, len(_TOKEN_ALPHABET))
        token.append(_TOKEN_ALPHABET[digit])
    return "".join(token)


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _prune(fds: Sequence[int], parts: Sequence[str]) -> None:
    """Remove the now-empty directories holding `parts[-1]`, deepest first, never data/."""
    for index in range(len(parts) - 1, 0, -1):
        try:
            os.rmdir(parts[index - 1], dir_fd=fds[index - 1])
        except OSError as exc:
            if exc.errno in _STOP_PRUNING:
                return
            raise


class TempFile:
    """A hidden temporary file beside its destination, from `Mirror.open_temp`.

    Write through `write` (errors translated) or `file` (a seekable binary file named by its
    path; its OSErrors are the caller's to translate). Leaving the `with` block without
    `Mirror.commit` discards it. It holds one descriptor, which closing `file` early frees.
    """

    def __init__(
        self, mirror: Mirror, local_rel: str, parts: tuple[str, ...], name: str, file: BinaryIO
    ) -> None:
        self.local_rel = local_rel
        self.path = mirror.data_dir.joinpath(*parts[:-1], name)
        self._mirror = mirror
        self._parts = parts
        self._name = name
        self._file = file
        self._done = False

    @property
    def file(self) -> BinaryIO:
        """The open binary file."""
        return self._file

    @property
    def done(self) -> bool:
        """Whether the file was committed or discarded."""
        return self._done

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append `data`. Raises LocalStorageError (disk full, I/O error), ValueError if closed."""
        with _translated(self.path, "write"):
            return self._file.write(data)

    def __enter__(self) -> TempFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._done:
            return
        if exc is None:
            self._discard()
        else:
            self._abandon()

    def _commit(self, mtime_ns: int) -> None:
        self._check_live()
        dest = self._mirror.data_dir.joinpath(*self._parts)
        try:
            with _translated(dest, "write"):
                self._file.close()  # flushes first: the mtime must be set after the last write
                with self._mirror._chain(self._parts, create=False) as fds:
                    here = fds[-1]
                    os.utime(
                        self._name, ns=(mtime_ns, mtime_ns), dir_fd=here, follow_symlinks=False
                    )
                    current = _lstat_at(here, dest.name)
                    if current is not None and not stat.S_ISREG(current.st_mode):
                        raise _refusal(dest, "write", current)
                    os.replace(self._name, dest.name, src_dir_fd=here, dst_dir_fd=here)
        except BaseException:
            self._abandon()
            raise
        self._done = True

    def _discard(self) -> None:
        self._check_live()
        self._done = True
        with suppress(OSError):  # a failed flush of bytes being thrown away does not matter
            self._file.close()
        with _translated(self.path, "remove"):
            try:
                with self._mirror._chain(self._parts, create=False) as fds:
                    os.unlink(self._name, dir_fd=fds[-1])
            except OSError as exc:
                if exc.errno not in _GONE:
                    raise

    def _abandon(self) -> None:
        """Discard while another error is in flight: that error is the one to report."""
        self._done = True
        with suppress(OSError):
            self._file.close()
        with suppress(OSError), self._mirror._chain(self._parts, create=False) as fds:
            os.unlink(self._name, dir_fd=fds[-1])  # if this fails, cleanup_temp_files will

    def _check_live(self) -> None:
        if self._done:
            raise ValueError(f"temporary file {self.path} was already committed or discarded")


class Mirror:
    """The mirror of one target: every path is relative to `<local_root>/data/` and confined
    to it. Relative paths use `/`; one that is absolute or has an empty, `.` or `..` segment
    raises ValueError in every method."""

    def __init__(self, local_root: Path | str) -> None:
        self.local_root = Path(local_root).absolute()
        self.data_dir = self.local_root / DATA_DIR

    def __repr__(self) -> str:
        return f"Mirror({str(self.local_root)!r})"

    def resolve(self, local_rel: str) -> Path:
        """The absolute path of `local_rel`, after checking with lstat that no existing
        component from data/ down is a symlink. Raises LocalStorageError (ELOOP) if one is."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        steps = [self.data_dir.joinpath(*parts[:depth]) for depth in range(len(parts) + 1)]
        with _translated(path, "resolve"):
            for step in steps:
                try:
                    st = os.lstat(step)
                except (FileNotFoundError, NotADirectoryError):
                    break
                if stat.S_ISLNK(st.st_mode):
                    raise _refusal(step, "resolve", st)
        return path

    def open_temp(self, local_rel: str) -> TempFile:
        """Create the parent directories (never through a symlink) and a new hidden temporary
        file beside `local_rel`, mode 0644 less the umask. Raises LocalStorageError."""
        parts = _parts(local_rel)
        dest = self.data_dir.joinpath(*parts)
        with _translated(dest, "create a temporary file"), self._chain(parts, create=True) as fds:
            fd, name = _create_temp(fds[-1], parts[-1])
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

    def set_mtime(self, local_rel: str, mtime: datetime) -> None:
        """Set the mtime and atime of the regular file `local_rel`.
        Raises LocalStorageError (also for a symlink), ValueError if `mtime` is naive."""
        ns = timestamp_ns(mtime)
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        with _translated(path, "set the time of"), self._chain(parts, create=False) as fds:
            st = os.stat(parts[-1], dir_fd=fds[-1], follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise _refusal(path, "set the time of", st)
            os.utime(parts[-1], ns=(ns, ns), dir_fd=fds[-1], follow_symlinks=False)

    def cleanup_temp_files(self) -> int:
        """Remove the temporary files a killed run left anywhere under data/ (only regular
        files named exactly like ours, never through a symlink), and those of a killed
        `write_atomic` beside the target's exports (in the local root and its sync_logs/);
        returns how many. Raises LocalStorageError."""
        removed = 0
        for dir_fd, rel, entry in self._walk():
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                with _translated(self.data_dir / rel, "remove"), suppress(FileNotFoundError):
                    os.unlink(entry.name, dir_fd=dir_fd)
                    removed += 1
        for folder in _EXPORT_DIRS:
            removed += remove_stale_temp_files(self.local_root / folder)
        return removed

    def move(self, old_rel: str, new_rel: str, *, replace: bool = False) -> None:
        """Rename a file or directory within data/, creating the new parents and removing old
        parents left empty. An existing destination is an error unless it is a regular file,
        the source is one too, and `replace` is true. Raises LocalStorageError."""
        old, new = _parts(old_rel), _parts(new_rel)
        if old == new:
            return
        old_path, new_path = self.data_dir.joinpath(*old), self.data_dir.joinpath(*new)
        with _translated(old_path, "move"), self._chain(old, create=False) as src:
            source = os.stat(old[-1], dir_fd=src[-1], follow_symlinks=False)
            if not (stat.S_ISREG(source.st_mode) or stat.S_ISDIR(source.st_mode)):
                raise _refusal(old_path, "move", source)
            here = f"move {old_rel!r} here"
            with _translated(new_path, here), self._chain(new, create=True) as dst:
                _check_move_target(_lstat_at(dst[-1], new[-1]), source, new_path, here, replace)
                os.rename(old[-1], new[-1], src_dir_fd=src[-1], dst_dir_fd=dst[-1])
            _prune(src, old)

    def delete(self, local_rel: str) -> bool:
        """Unlink a regular file and then its parent directories left empty (never data/
        itself, never recursively); a missing file is not an error. Returns whether a file
        was removed. Raises LocalStorageError (also for a symlink or a directory)."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        with _translated(path, "delete"):
            try:
                with self._chain(parts, create=False) as fds:
                    st = os.stat(parts[-1], dir_fd=fds[-1], follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        raise _refusal(path, "delete", st)
                    os.unlink(parts[-1], dir_fd=fds[-1])
                    _prune(fds, parts)
            except OSError as exc:
                if exc.errno in _GONE:
                    return False
                raise
        return True

    def exists(self, local_rel: str) -> bool:
        """Whether anything (file, directory or symlink) has the name `local_rel`.
        Raises LocalStorageError, e.g. when a directory on the way is a symlink."""
        parts = _parts(local_rel)
        with _translated(self.data_dir.joinpath(*parts), "look up"):
            return self._lstat(parts) is not None

    def stat(self, local_rel: str) -> LocalStat | None:
        """Size and mtime of the regular file `local_rel`, or None if nothing is there.
        Raises LocalStorageError when it is a symlink, a directory or another non-file."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        with _translated(path, "stat"):
            st = self._lstat(parts)
        if st is None:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise _refusal(path, "stat", st)
        return LocalStat(st.st_size, st.st_mtime_ns)

    def hash_file(self, local_rel: str) -> tuple[int, str]:
        """Size and base64 quickXorHash of the regular file `local_rel`, streamed.
        Raises LocalStorageError (missing, unreadable, a symlink or not a regular file)."""
        parts = _parts(local_rel)
        path = self.data_dir.joinpath(*parts)
        hasher, size = QuickXorHash(), 0
        buffer = bytearray(_CHUNK)
        view = memoryview(buffer)
        with _translated(path, "read"), self._chain(parts, create=False) as fds:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=fds[-1])
            with open(fd, "rb", buffering=0) as file:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise _refusal(path, "read", st)
                while count := file.readinto(buffer):
                    hasher.update(view[:count])
                    size += count
        return size, hasher.b64digest()

    def scan(self) -> Iterator[LocalEntry]:
        """Every entry under data/, parents before children and sorted by name, without
        following symlinks (reported with kind "symlink") and skipping our temporary files.
        Raises LocalStorageError."""
        for _, rel, entry in self._walk():
            with _translated(self.data_dir / rel, "stat"):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
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
                    fds.append(_open_dir(name, fds[-1], shown))
                except FileNotFoundError:
                    if not create:
                        raise
                    with suppress(FileExistsError):  # created meanwhile by someone else
                        os.mkdir(name, dir_fd=fds[-1])
                    fds.append(_open_dir(name, fds[-1], shown))
            yield fds
        finally:
            for fd in reversed(fds):
                os.close(fd)

    def _open_data(self, create: bool) -> int:
        try:
            return _open_dir(self.data_dir, None, "data/ itself")
        except FileNotFoundError:
            if not create:
                raise
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return _open_dir(self.data_dir, None, "data/ itself")

    def _lstat(self, parts: Sequence[str]) -> os.stat_result | None:
        try:
            with self._chain(parts, create=False) as fds:
                return _lstat_at(fds[-1], parts[-1])
        except OSError as exc:
            if exc.errno in _GONE:
                return None
            raise

    def _walk(self) -> Iterator[tuple[int, str, os.DirEntry[str]]]:
        with _translated(self.data_dir, "scan"):
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
    with _translated(base / prefix, "list"), os.scandir(fd) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        rel = prefix + entry.name
        yield fd, rel, entry
        if entry.is_dir(follow_symlinks=False):
            with _translated(base / rel, "list"):
                try:
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in _GONE or exc.errno == errno.ELOOP:
                        continue  # removed or replaced while we walked: not ours to follow
                    raise
            try:
                yield from _walk_fd(child, base, rel + "/")
            finally:
                os.close(child)


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
        raise _refusal(path, action, target)
    if not (replace and stat.S_ISREG(target.st_mode) and stat.S_ISREG(source.st_mode)):
        raise LocalStorageError(
            f"cannot {action}: {_REASONS[errno.EEXIST]}", path=path, errno=errno.EEXIST
        )


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace `path` with `data` (bytes, or pieces of them written as they come) atomically
    and durably: temporary file in the same directory, fsync, rename, fsync of the
    directory; parents are created. Raises LocalStorageError, or what producing a piece
    raised (the temporary file is removed and `path` left as it was)."""
    path = Path(path)
    logger.debug("writing {}", path)
    with _translated(path, "write"):
        path.parent.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd, name = _create_temp(dir_fd, path.name)
            try:
                with os.fdopen(fd, "wb", buffering=1 << 20) as file:
                    for piece in (data,) if isinstance(data, bytes) else data:
                        file.write(piece)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(name, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with suppress(OSError):  # the write's own error is the one to report
                    os.unlink(name, dir_fd=dir_fd)
                raise
            _fsync_dir(dir_fd)
        finally:
            os.close(dir_fd)


def write_json_atomic(path: Path, obj: object, *, sort_keys: bool = True) -> None:
    """Write `obj` as UTF-8 JSON (indent 2, non-ASCII kept) with `write_atomic`.
    Raises LocalStorageError, and TypeError/ValueError for objects JSON cannot encode."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=sort_keys) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate in a name: keep the JSON valid
        data = (json.dumps(obj, indent=2, ensure_ascii=True, sort_keys=sort_keys) + "\n").encode()
    write_atomic(path, data)


def remove_stale_temp_files(directory: Path) -> int:
    """Remove the temporary files a killed `write_atomic` left directly in `directory`
    (not below it); returns how many. A missing directory holds none. Raises LocalStorageError."""
    directory = Path(directory)
    removed = 0
    with _translated(directory, "remove stale temporary files in"):
        try:
            with os.scandir(directory) as entries:
                listing = list(entries)
        except FileNotFoundError:
            return 0
        for entry in listing:
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                with suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _fsync_dir(dir_fd: int) -> None:
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # some file systems cannot sync a directory
            raise
