"""A request to stop a run early, shared by every thread of it, and the fence that keeps
abandoned downloads out of `data/` once the run records what it did.

The first request stops new work from starting (no new target, batch or download) and
gives the downloads in flight `grace` seconds to finish; a second request, or the end of
the grace, abandons them. Abandoning closes the fence: every write a download makes under
`data/` (its temporary file, its bytes, its rename into place) goes through `writing`,
and once `close_fence` returns no such write happens again, so a run can record what
completed and commit while abandoned threads are still waiting on the network. What they
leave behind is a temporary file the journal names, removed by the next run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

from ms365sync.target import STOP_TIMEOUT_S

__all__ = ["Abandoned", "Stop", "Stopped"]


class Abandoned(Exception):  # noqa: N818 (a state, as StopIteration)
    """Raised to a download that writes after the run abandoned it."""


class Stopped(Exception):  # noqa: N818
    """Raised where a stop ends a step that cannot be recorded in part (a listing)."""


class Stop:
    """A stop token: `request` it (from a signal handler, say); the run checks it.

    Thread-safe. `request` takes no lock (it only sets attributes, which the GIL makes
    atomic), so a signal handler can call it whatever the interrupted thread was holding;
    waiting for a request is therefore a poll, `POLL` seconds apart.
    """

    POLL = 0.1

    def __init__(self, grace: float = STOP_TIMEOUT_S) -> None:
        self.grace = grace
        self.reason: str | None = None  # what asked first, e.g. "SIGINT"
        self._at: float | None = None  # time.monotonic() of the first request
        self._abandon = False
        self._fence = threading.Condition(threading.Lock())
        self._closed = False
        self._writers = 0

    def __repr__(self) -> str:
        state = "abandoned" if self.abandoned else "requested" if self.requested else "running"
        return f"Stop({state}, reason={self.reason!r})"

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for: start nothing new."""
        return self._at is not None

    @property
    def abandoned(self) -> bool:
        """Whether work in flight is to be dropped now (a second request)."""
        return self._abandon

    def request(self, reason: str) -> None:
        """Ask the run to stop; asked a second time, to abandon what is in flight now."""
        if self._at is not None:
            self._abandon = True
            return
        self.reason = reason
        self._at = time.monotonic()  # set last: `requested` then finds the reason set

    def remaining(self) -> float | None:
        """Seconds of the grace left (0 once abandoned; None: no stop was asked for)."""
        at = self._at
        if at is None:
            return None
        if self._abandon:
            return 0.0
        return max(0.0, at + self.grace - time.monotonic())

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a request; whether one came."""
        deadline = time.monotonic() + timeout
        while not self.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.POLL, left))
        return True

    # ------------------------------------------------------------------ the fence

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the fence open for one write under `data/`.

        Raises:
            Abandoned: the fence is closed; write nothing.
        """
        with self._fence:
            if self._closed:
                raise Abandoned
            self._writers += 1
        try:
            yield
        finally:
            with self._fence:
                self._writers -= 1
                if not self._writers:
                    self._fence.notify_all()

    def fenced(self, file: BinaryIO) -> BinaryIO:
        """`file` with its writes through the fence (a closed fence raises Abandoned)."""
        return cast(BinaryIO, _FencedFile(file, self))

    def close_fence(self) -> None:
        """Abandon the work in flight: wait for the writes under way, and let no other start."""
        self._abandon = True
        with self._fence:
            self._closed = True
            self._fence.wait_for(lambda: self._writers == 0)


class _FencedFile:
    """A file whose writes pass the stop's fence: once a stop abandons the download, the
    next write raises Abandoned instead of touching the disk."""

    def __init__(self, file: BinaryIO, stop: Stop) -> None:
        self._file = file
        self._stop = stop
        self.name: object = getattr(file, "name", None)  # what error messages call it

    def write(self, data: bytes) -> int:
        with self._stop.writing():
            return self._file.write(data)

    def truncate(self, size: int | None = None) -> int:
        with self._stop.writing():
            return self._file.truncate(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return self._file.seekable()
