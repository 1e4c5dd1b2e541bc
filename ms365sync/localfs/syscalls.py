"""The system calls the mirror, its temporary files and atomic writes share, with every
OSError turned into a one-line `LocalStorageError` (the reasons a user can act on)."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ms365sync.errors import LocalStorageError
from ms365sync.localfs.names import TEMP_TOKEN_CHARS, temp_name

if TYPE_CHECKING:
    from ms365sync.localfs.journal import TempJournal

NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


FILE_MODE = 0o644  # the process umask still applies


_TEMP_ATTEMPTS = 16


_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


REASONS = {
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


class SymlinkError(OSError):
    """A directory on the way is a symlink (O_DIRECTORY | O_NOFOLLOW says ELOOP or ENOTDIR)."""


def storage_error(exc: OSError, path: Path, action: str) -> LocalStorageError:
    reason = exc.strerror if isinstance(exc, SymlinkError) else REASONS.get(exc.errno or 0)
    reason = reason or exc.strerror or type(exc).__name__
    return LocalStorageError(f"cannot {action}: {reason}", path=path, errno=exc.errno)


def refusal(path: Path, action: str, st: os.stat_result) -> LocalStorageError:
    """The error for an entry that is not what `action` may touch (a symlink, a directory...)."""
    code = errno.ELOOP if stat.S_ISLNK(st.st_mode) else None
    code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else code
    reason = "not a regular file (a pipe, socket or device)" if code is None else REASONS[code]
    return LocalStorageError(f"cannot {action}: {reason}", path=path, errno=code, in_the_way=True)


@contextmanager
def translated(path: Path, action: str) -> Iterator[None]:
    """Turn an OSError raised inside the block into a one-line LocalStorageError."""
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, path, action) from exc


def create_temp(
    dir_fd: int, name: str, *, journal: TempJournal | None = None, folder: Path | None = None
) -> tuple[int, str]:
    """Create and open a new hidden temporary file for `name` in `dir_fd` (O_EXCL). With a
    `journal`, each name tried is claimed in it first (as a path in `folder`, the directory
    `dir_fd` is) and released again unless it was created."""
    for _ in range(_TEMP_ATTEMPTS):
        candidate = temp_name(name, _temp_token())
        if journal is not None:
            assert folder is not None, "a journal needs the folder's path"
            journal.claim(folder / candidate)
        try:
            return os.open(candidate, NEW_FILE_FLAGS, FILE_MODE, dir_fd=dir_fd), candidate
        except BaseException as exc:
            if journal is not None and folder is not None:
                journal.release(folder / candidate)  # taken by a file that is not ours
            if not isinstance(exc, FileExistsError):
                raise
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


def fsync_dir(dir_fd: int) -> None:
    try:
        os.fsync(dir_fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # some file systems cannot sync a directory
            raise


DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


GONE = frozenset({errno.ENOENT, errno.ENOTDIR})


def open_dir(name: str | Path, dir_fd: int | None, shown: str) -> int:
    """Open a directory without following a symlink; raises OSError (SymlinkError if it is
    one, naming it as `shown`)."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in {errno.ELOOP, errno.ENOTDIR} and is_symlink(name, dir_fd):
            message = f"refusing to follow a symbolic link ({shown})"
            raise SymlinkError(errno.ELOOP, message) from exc
        raise


def is_symlink(name: str | Path, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def refuse_symlinks(paths: Iterable[Path]) -> None:
    """Refuse to work through a symbolic link at any of `paths` (a target's own folders and
    files beside data/): a run would read or write outside the target. A missing path is
    fine: the run creates it.

    Raises:
        LocalStorageError: one of them is a symbolic link (ELOOP), or cannot be examined.
    """
    for path in paths:
        try:
            found = path.lstat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise storage_error(exc, path, "examine") from exc
        if stat.S_ISLNK(found.st_mode):
            raise LocalStorageError(
                "refusing to follow a symbolic link (the target's own files stay in the target)",
                path=path,
                errno=errno.ELOOP,
            )
