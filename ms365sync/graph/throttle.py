"""One throttle gate per tenant: every worker waits at it, and one 429 pauses them all.

SharePoint throttles per app per tenant in resource units (RU) per minute and answers
429/503 with an integer Retry-After; once an app has used 80 % of its one-minute budget it
adds RateLimit-Limit / -Remaining / -Reset (graph-facts §9). The gate honours the larger of
Retry-After and RateLimit-Reset for everyone, backs off exponentially (with jitter) when the
server gave no delay, and, while RateLimit headers say the budget is nearly spent, spreads
the remaining units evenly until the reset instead of running into 429s.

With a `TenantBudget` (`graph.budget`) the gate also charges each request to the budget the
app's workers share and holds it as long as the budget says, and tells the other workers of
every pause (a 429 or 503, or RateLimit headers with nothing left).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from ms365sync.graph.budget import TenantBudget

__all__ = ["BUDGET_WINDOW_S", "GateStats", "RateLimit", "ThrottleGate"]

# RateLimit-Limit is the app's one-minute resource-unit budget (graph-facts §9.4).
BUDGET_WINDOW_S = 60.0


@dataclass(frozen=True)
class RateLimit:
    """The RateLimit-* response headers (IETF draft-03): budget, units left, seconds to reset."""

    limit: int
    remaining: int
    reset: float


@dataclass(frozen=True)
class GateStats:
    """Counters for the run summary.

    `paused_seconds` is how long the gate was closed after throttling (wall time, not summed
    per thread); `paced_seconds` is the total delay proactive pacing added across requests.
    """

    requests: int
    throttled: int
    paused_seconds: float
    paced_seconds: float
    resource_units: float


class ThrottleGate:
    """Shared by every worker thread and every target of one tenant; thread-safe.

    Call `wait(cost)` before each request, `finished(cost)` once it is answered (or failed),
    `observe(rate)` with each response's RateLimit headers, `pause(retry_after, reset)` after
    a 429/503 and `succeeded()` after any other answer. `clock`, `sleep` and `rng` are
    injectable so tests run on a fake clock.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        pace_below: float = 0.25,
        reserve: float = 0.03,
        budget: TenantBudget | None = None,
    ) -> None:
        """Configure the gate.

        `pace_below` is the Remaining/Limit fraction under which pacing starts; `reserve` is
        the fraction of the limit kept unspent as a safety cushion; `budget` is the budget
        shared with the app's other workers (None: this gate's own pacing only).
        """
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._pace_below = pace_below
        self._reserve = reserve
        self._lock = threading.Lock()
        self._paused_until = float("-inf")
        self._streak = 0  # consecutive throttle events without a server-given delay
        self._pace_until = float("-inf")
        self._seconds_per_unit = 0.0
        self._next_slot = float("-inf")
        self._in_flight = 0.0  # units of requests sent (or about to be) and not yet answered
        self._requests = 0
        self._throttled = 0
        self._paused_seconds = 0.0
        self._paced_seconds = 0.0
        self._units = 0.0

    def wait(self, cost: float = 1.0) -> None:
        """Block while the gate is paused, then take a paced slot for a request of `cost` RU
        (and its units from the shared budget, holding as long as that says)."""
        self._wait_until_open()
        if self.budget is not None:
            hold = self.budget.charge(cost)
            if hold > 0:
                with self._lock:
                    self._paced_seconds += hold
                self._sleep(hold)
                self._wait_until_open()
        with self._lock:
            delay = self._take_slot(self._clock(), cost)
            self._in_flight += cost
            self._requests += 1
            self._units += cost
            self._paced_seconds += delay
        if delay > 0:
            self._sleep(delay)
            self._wait_until_open()  # a throttle may have closed the gate meanwhile

    def _wait_until_open(self) -> None:
        while True:
            with self._lock:
                delay = self._paused_until - self._clock()
            if delay <= 0:
                return
            self._sleep(delay)

    def _take_slot(self, now: float, cost: float) -> float:
        if now >= self._pace_until or self._seconds_per_unit <= 0:
            return 0.0
        # Never hold a request past the reset: the budget is refilled by then.
        slot = min(max(now, self._next_slot), self._pace_until)
        self._next_slot = slot + cost * self._seconds_per_unit
        return slot - now

    def finished(self, cost: float = 1.0) -> None:
        """Record that a request of `cost` RU got its answer (or failed): no longer in flight."""
        with self._lock:
            self._in_flight = max(0.0, self._in_flight - cost)

    def pause(self, retry_after: float | None = None, reset: float | None = None) -> float:
        """Close the gate for every user after a 429/503; returns the pause in seconds.

        The pause lasts the larger of `retry_after` and `reset`; with neither it is an
        exponential back-off with jitter that grows with each throttle event. Throttles
        arriving while the gate is already closed belong to the same event and never
        shorten the pause.
        """
        with self._lock:
            now = self._clock()
            self._throttled += 1
            given = [value for value in (retry_after, reset) if value is not None and value >= 0]
            if given:
                seconds = max(given)
            else:
                if now >= self._paused_until:
                    self._streak += 1
                seconds = self._backoff_delay(self._streak)
            self._extend_pause(now, now + seconds)
        logger.info("Graph throttled the app; pausing all requests for {:.1f} s", seconds)
        if self.budget is not None:
            self.budget.pause(seconds)
        return seconds

    def _extend_pause(self, now: float, until: float) -> None:
        if until > self._paused_until:
            self._paused_seconds += until - max(now, self._paused_until)
            self._paused_until = until

    def observe(self, rate: RateLimit | None) -> None:
        """Pace the following requests from a response's RateLimit headers (None: no headers).

        The units of requests still in flight are taken off the remaining budget: the
        server may not have charged them yet, and one `$batch` of permission reads is 100 RU.
        """
        if rate is None or rate.limit <= 0:
            return
        if self._observe(rate) and self.budget is not None:
            self.budget.pause(rate.reset)  # nothing left this minute: for every worker

    def _observe(self, rate: RateLimit) -> bool:
        """`observe`; whether the budget is spent until the reset."""
        with self._lock:
            now = self._clock()
            if rate.remaining >= self._pace_below * rate.limit:
                self._pace_until = float("-inf")
                return False
            left = rate.remaining - self._reserve * rate.limit
            # Never faster than the budget's own rate while it is nearly spent: with a sliding
            # window (as the emulator keeps) the reset frees only what left the window, not
            # the whole budget, and spending faster than that only meets 429s.
            sustainable = BUDGET_WINDOW_S / rate.limit
            if left < 1:
                # Nothing left to spend before the window resets: wait for it, do not probe,
                # and resume at the budget's rate rather than all workers at once.
                self._extend_pause(now, now + rate.reset)
                self._pace_until = max(self._pace_until, self._paused_until + rate.reset)
                self._seconds_per_unit = sustainable
                return True
            self._pace_until = now + rate.reset
            self._seconds_per_unit = max(rate.reset / max(left - self._in_flight, 1.0), sustainable)
            return False

    def succeeded(self) -> None:
        """Record a non-throttled answer: the next throttle event starts a fresh back-off."""
        with self._lock:
            self._streak = 0

    def backoff(self, attempt: int) -> float:
        """Sleep this thread only (not the gate) before retry `attempt` after a 5xx or a drop."""
        seconds = self.backoff_delay(attempt)
        self._sleep(seconds)
        return seconds

    def backoff_delay(self, attempt: int) -> float:
        """How long `backoff(attempt)` would sleep (jittered: each call draws again)."""
        with self._lock:
            return self._backoff_delay(attempt)

    def hold(self, seconds: float) -> None:
        """Sleep this thread only (not the gate) for `seconds`, on the gate's clock."""
        self._sleep(max(0.0, seconds))

    def now(self) -> float:
        """The gate's clock (monotonic seconds; a fake one in tests)."""
        return self._clock()

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** max(attempt - 1, 0))
        return ceiling * (0.5 + self._rng() / 2)  # "equal jitter": never shorter than half

    @property
    def stats(self) -> GateStats:
        """A snapshot of the counters."""
        with self._lock:
            return GateStats(
                requests=self._requests,
                throttled=self._throttled,
                paused_seconds=self._paused_seconds,
                paced_seconds=self._paced_seconds,
                resource_units=self._units,
            )
