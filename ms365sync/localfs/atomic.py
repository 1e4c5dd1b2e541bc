"""Whole files written atomically and durably: `.permissions.json`, the grants file, change
logs and checkpoints (temporary file, fsync, rename, fsync of the folder)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from ms365sync.localfs.syscalls import create_temp, fsync_dir, translated

if TYPE_CHECKING:
    from ms365sync.localfs.journal import TempJournal


def write_atomic(
    path: Path, data: bytes | Iterable[bytes], *, journal: TempJournal | None = None
) -> None:
    """Replace `path` with `data` (bytes, or pieces of them written as they come) atomically
    and durably: temporary file in the same directory, fsync, rename, fsync of the
    directory; parents are created. The temporary name is claimed in `journal` first, if
    given, so that the next run removes it if this process is killed. Raises
    LocalStorageError, or what producing a piece raised (the temporary file is removed and
    `path` left as it was)."""
    path = Path(path).absolute()
    logger.debug("writing {}", path)
    with translated(path, "write"):
        path.parent.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd, name = create_temp(dir_fd, path.name, journal=journal, folder=path.parent)
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
                    if journal is not None:
                        journal.settle(path.parent / name)
                raise
            if journal is not None:
                journal.settle(path.parent / name)
            fsync_dir(dir_fd)
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
