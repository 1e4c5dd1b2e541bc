"""A download's hidden temporary file beside its destination, committed by renaming it."""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from ms365sync.localfs.syscalls import GONE, lstat_at, refusal, translated

if TYPE_CHECKING:
    from ms365sync.localfs.mirror import Mirror


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
        with translated(self.path, "write"):
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
            with translated(dest, "write"):
                self._file.close()  # flushes first: the mtime must be set after the last write
                with self._mirror._chain(self._parts, create=False) as fds:
                    here = fds[-1]
                    os.utime(
                        self._name, ns=(mtime_ns, mtime_ns), dir_fd=here, follow_symlinks=False
                    )
                    current = lstat_at(here, dest.name)
                    if current is not None and not stat.S_ISREG(current.st_mode):
                        raise refusal(dest, "write", current)
                    os.replace(self._name, dest.name, src_dir_fd=here, dst_dir_fd=here)
        except BaseException:
            self._abandon()
            raise
        self._done = True
        self._mirror.journal.settle(self.path)

    def _discard(self) -> None:
        self._check_live()
        self._done = True
        with suppress(OSError):  # a failed flush of bytes being thrown away does not matter
            self._file.close()
        with translated(self.path, "remove"):
            try:
                with self._mirror._chain(self._parts, create=False) as fds:
                    os.unlink(self._name, dir_fd=fds[-1])
            except OSError as exc:
                if exc.errno not in GONE:
                    raise
        self._mirror.journal.settle(self.path)

    def _abandon(self) -> None:
        """Discard while another error is in flight: that error is the one to report."""
        self._done = True
        with suppress(OSError):
            self._file.close()
        with suppress(OSError), self._mirror._chain(self._parts, create=False) as fds:
            os.unlink(self._name, dir_fd=fds[-1])  # if this fails, cleanup_temp_files will
            self._mirror.journal.settle(self.path)

    def _check_live(self) -> None:
        if self._done:
            raise ValueError(f"temporary file {self.path} was already committed or discarded")
