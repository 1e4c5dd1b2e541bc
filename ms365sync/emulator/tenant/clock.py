"""The emulator's clock: wall-clock time plus an offset tests advance to expire tokens and URLs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone


class Clock:
    """Seconds since the epoch as the emulator sees them.

    Everything that expires (access tokens, download URLs, throttle windows) reads this clock,
    so `advance(3600)` makes an hour pass for the emulator without waiting. Time never runs
    backwards: a negative advance is refused.
    """

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """The emulator's current time."""
        return self._base() + self._offset

    def wall(self) -> float:
        """The unadvanced time, for checking what clients stamp with their own clocks."""
        return self._base()

    @property
    def offset(self) -> float:
        """How far the emulator's time runs ahead of the wall clock, in seconds."""
        return self._offset

    def advance(self, seconds: float) -> float:
        """Move the emulator's time forward; returns the new time.

        Raises ValueError for a negative amount.
        """
        if seconds < 0:
            raise ValueError(f"the clock only moves forward, not by {seconds} s")
        with self._lock:
            self._offset += seconds
        return self.now()

    def utcnow(self) -> datetime:
        """The emulator's current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), tz=timezone.utc)
