"""A per-target lock, so two runs never work on the same target at once.

An advisory `flock` on `<local_root>/.ms365sync/lock`: the kernel releases it when the
holder exits, even after kill -9, so a stale lock cannot block later runs. The file holds
the holder's pid and host for the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from loguru import logger

from ms365sync.errors import LocalStorageError, LockError
from ms365sync.target import LOCK_NAME


@contextlib.contextmanager
def target_lock(
    state_dir: Path,
    *,
    timeout: float = 0.0,
    poll: float = 0.2,
    waiting: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the target's lock, waiting up to `timeout` seconds for another run to finish;
    `waiting` is called between attempts, and what it raises ends the wait.

    Raises:
        LockError: still held by another run after `timeout`.
        LocalStorageError: the lock file cannot be created.
    """
    path = state_dir / LOCK_NAME
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path, action="create the lock") from exc
    try:
        _acquire(fd, path, timeout, poll, waiting)
        _note_holder(fd)
        logger.debug("holding the lock {}", path)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _note_holder(fd: int) -> None:
    """Write who holds the lock, for the other run's message. Only informative: on a full
    disk the run goes on and fails, if it must, with the error of what it was doing."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())


def _acquire(
    fd: int, path: Path, timeout: float, poll: float, waiting: Callable[[], None] | None
) -> None:
    deadline = time.monotonic() + timeout
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockError(path=path, holder=_holder(fd)) from None
            if not said:  # said once, so an operator sees why the run does not start
                logger.info("{} is held by {}; waiting up to {:g} s", path, _holder(fd), timeout)
                said = True
            if waiting is not None:
                waiting()
            time.sleep(poll)


def _holder(fd: int) -> str | None:
    return os.pread(fd, 200, 0).decode(errors="replace").strip() or None
