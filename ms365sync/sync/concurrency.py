"""How many downloads of one target are in flight at once: fixed, or following the round trips.

With `concurrency = "auto"` (the default) the number starts at 8 and is set again after every
window of completed downloads, by the gradient of their round trips (after the adaptive
limits of TCP Vegas and Netflix's concurrency-limits): a window's median download time is
compared with the lowest median seen (the floor). While downloads take about as long as the
floor, the link has room, and the limit grows by its square root; when they take longer,
the extra time is queueing somewhere (in SharePoint, in the throttle gate, in the global
download slots, or in this process's own CPU), and the limit shrinks in proportion:

    limit' = limit * min(1, TOLERANCE * floor / median) + sqrt(limit)   (bounded to [1, cap])

Throttling therefore never reads as "add more workers": a download that waited at the gate
took longer, and a window with a throttled answer in it never grows. The floor drifts up
by 1 % a window it is not renewed, so a link that became slower for good is followed.

The limit is fed completed downloads only (duration and whether they met the gate's
pause); failures leave it as it was. Windows are counted in downloads, not seconds, so the
controller needs no clock and decides the same way for the same observations (tested so).
"""

from __future__ import annotations

import math
import statistics
import threading
from dataclasses import dataclass, field

from ms365sync.sync.stop import Stop

__all__ = [
    "AUTO_CAP",
    "AUTO_START",
    "AdaptiveLimit",
    "DownloadLimit",
    "FixedLimit",
    "download_limit",
]

AUTO_CAP = 32  # what "auto" may grow to without a coordinator ([run] max_connections' default)
AUTO_START = 8  # the limit an "auto" target starts with (the fixed default before it)
TOLERANCE = 1.5  # a median up to 1.5 x the floor still counts as an empty queue
MIN_WINDOW = 8  # downloads per window, at least (a window is max(MIN_WINDOW, limit))
FLOOR_DRIFT = 1.01  # the floor rises by 1 % each window that does not renew it
_POLL = 0.1  # seconds between looks at a stop while waiting for a free place


class DownloadLimit:
    """Places for downloads in flight: `enter` waits for one, `leave` gives it back."""

    def __init__(self, limit: int) -> None:
        self._limit = max(1, limit)
        self._busy = 0
        self._peak = 0
        self._changed = threading.Condition()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def threads(self) -> int:
        """Worker threads worth starting: as many as the limit may ever allow."""
        return self._limit

    @property
    def peak(self) -> int:
        """The most downloads that were in flight at once."""
        return self._peak

    def summary(self) -> str:
        """One line for the run's log: how many were in flight at most, and why."""
        return f"at most {self._peak} in flight (concurrency = {self._limit})"

    def enter(self, stop: Stop | None = None) -> bool:
        """Wait for a place; False (and no place taken) once `stop` is requested."""
        with self._changed:
            while self._busy >= self._limit:
                if stop is not None and stop.requested:
                    return False
                self._changed.wait(_POLL if stop is not None else None)
            if stop is not None and stop.requested:
                return False
            self._busy += 1
            self._peak = max(self._peak, self._busy)
            return True

    def leave(self, seconds: float | None = None, *, throttled: bool = False) -> None:
        """Give the place back; `seconds` is how long a completed download took (None: it
        did not complete), `throttled` whether it met the throttle gate's pause."""
        with self._changed:
            self._busy -= 1
            if seconds is not None:
                self._observe(seconds, throttled)
            self._changed.notify_all()

    def _observe(self, seconds: float, throttled: bool) -> None:
        """A fixed limit learns nothing."""

    def _set(self, limit: int) -> None:
        self._limit = limit


class FixedLimit(DownloadLimit):
    """`concurrency = N`: N places, whatever the round trips do."""


@dataclass
class _Window:
    seconds: list[float] = field(default_factory=list)
    throttled: bool = False


class AdaptiveLimit(DownloadLimit):
    """`concurrency = "auto"`: the limit follows the gradient of the round trips."""

    def __init__(self, cap: int, *, start: int = AUTO_START) -> None:
        self.cap = max(1, cap)
        super().__init__(min(start, self.cap))
        self.floor: float | None = None
        self.history: list[int] = [self._limit]  # the limit after each window
        self._window = _Window()

    @property
    def threads(self) -> int:
        return self.cap

    def summary(self) -> str:
        steps = " -> ".join(str(n) for n in self.history[:40])
        return f"at most {self._peak} in flight (auto, up to {self.cap}; the limit went {steps})"

    def _observe(self, seconds: float, throttled: bool) -> None:
        window = self._window
        window.seconds.append(max(seconds, 1e-6))
        window.throttled |= throttled
        if len(window.seconds) < max(MIN_WINDOW, self._limit):
            return
        self._window = _Window()
        self._set(self.next_limit(statistics.median(window.seconds), window.throttled))
        self.history.append(self._limit)

    def next_limit(self, median: float, throttled: bool) -> int:
        """The limit after a window whose downloads took `median` seconds (half of them
        longer); renews or drifts the floor."""
        floor = median if self.floor is None else min(median, self.floor * FLOOR_DRIFT)
        self.floor = floor
        gradient = min(1.0, TOLERANCE * floor / median)
        grown = self._limit * gradient + math.sqrt(self._limit)
        if throttled:
            grown = min(grown, self._limit * gradient)  # never more while the gate pauses
        return max(1, min(self.cap, int(grown)))


def download_limit(concurrency: int | None, cap: int) -> DownloadLimit:
    """A target's places: `concurrency` fixed, or None for "auto" up to `cap`."""
    if concurrency is not None:
        return FixedLimit(concurrency)
    return AdaptiveLimit(cap)
