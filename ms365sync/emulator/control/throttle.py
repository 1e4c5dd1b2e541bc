"""Resource-unit accounting per app per tenant over sliding 1-minute and 24-hour windows."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ms365sync.emulator.control.settings import ThrottleConfig

MINUTE = 60
DAY = 86_400
# SharePoint adds RateLimit-* headers once an app has used this share of its 1-minute budget.
RATELIMIT_THRESHOLD = 0.8
# Minute buckets kept for statistics (a day of history is plenty for a benchmark).
_STATS_MINUTES = 1440


class _Window:
    """A sliding window of `span` seconds over buckets `width` seconds wide.

    An amount charged at time t stays in the window until `bucket(t) + span`; bucketing makes
    RU leave up to one bucket early, never late, so a client that waits Retry-After fits.
    """

    def __init__(self, span: int, width: int) -> None:
        self.span = span
        self.width = width
        self.total = 0
        self._buckets: deque[list[int]] = deque()  # [bucket start, amount], oldest first

    def expire(self, now: float) -> None:
        """Drop buckets that have left the window."""
        while self._buckets and self._buckets[0][0] + self.span <= now:
            self.total -= self._buckets.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        start = int(now // self.width) * self.width
        if self._buckets and self._buckets[-1][0] == start:
            self._buckets[-1][1] += amount
        else:
            self._buckets.append([start, amount])
        self.total += amount

    def seconds_until(self, now: float, fits: int) -> int:
        """Whole seconds until the window holds at most `fits` RU (at least 1)."""
        total, leaves_at = self.total, now
        for start, amount in self._buckets:
            if total <= fits:
                break
            total -= amount
            leaves_at = start + self.span
        if total > fits:  # more than the whole budget: never fits, say a full window
            leaves_at = now + self.span
        return max(1, math.ceil(leaves_at - now))

    def seconds_until_oldest_leaves(self, now: float) -> int:
        if not self._buckets:
            return self.span
        return max(1, math.ceil(self._buckets[0][0] + self.span - now))


@dataclass(frozen=True)
class Decision:
    """The outcome of charging one request.

    `headers` are the RateLimit-* headers to send (and Retry-After when rejected).
    """

    admitted: bool
    retry_after: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 200


@dataclass
class _AppUsage:
    minute: _Window = field(default_factory=lambda: _Window(MINUTE, 1))
    day: _Window = field(default_factory=lambda: _Window(DAY, MINUTE))
    requests: int = 0
    rejections: int = 0
    charged: int = 0


class Throttle:
    """Charges requests against per-app budgets and decides 429/503.

    Rejected requests are counted but charge no RU: a client that waits the Retry-After it was
    given must then be admitted, which would not hold if its rejected retries kept refilling the
    window (SharePoint says throttled requests count against quotas, but it also promises that
    honouring Retry-After works; the emulator keeps the promise the client can test).
    """

    def __init__(self, config: ThrottleConfig) -> None:
        self._config = config
        self._apps: dict[str, _AppUsage] = {}
        self._ru_by_minute: dict[int, int] = {}
        self._lock = threading.Lock()

    @property
    def config(self) -> ThrottleConfig:
        return self._config

    def configure(self, config: ThrottleConfig) -> None:
        """New budgets apply from the next request; usage so far is kept."""
        with self._lock:
            self._config = config

    def charge(self, app_key: str, cost: int, now: float) -> Decision:
        """Admit and charge `cost` RU to `app_key` (e.g. "tenant/client-id"), or reject."""
        with self._lock:
            usage = self._apps.setdefault(app_key, _AppUsage())
            usage.requests += 1
            usage.minute.expire(now)
            usage.day.expire(now)
            rejection = self._rejection(usage, cost, now)
            if rejection is not None:
                usage.rejections += 1
                return rejection
            self._record(usage, cost, now)
            return Decision(True, headers=self._near_limit_headers(usage, now))

    def _rejection(self, usage: _AppUsage, cost: int, now: float) -> Decision | None:
        config = self._config
        per_minute, per_day = config.per_minute, config.per_day
        if per_day is not None and usage.day.total + cost > per_day:
            # Throttles from limits RateLimit-* does not describe come without those headers.
            wait = usage.day.seconds_until(now, max(per_day - cost, 0))
            return Decision(False, wait, (("Retry-After", str(wait)),), config.status)
        if per_minute is None or usage.minute.total + cost <= per_minute:
            return None
        wait = usage.minute.seconds_until(now, max(per_minute - cost, 0))
        headers = [("Retry-After", str(wait))]
        if config.ratelimit_headers:
            headers += self._ratelimit(per_minute, usage.minute.total, wait)
        return Decision(False, wait, tuple(headers), config.status)

    def _record(self, usage: _AppUsage, cost: int, now: float) -> None:
        usage.minute.add(now, cost)
        usage.day.add(now, cost)
        usage.charged += cost
        minute = int(now // MINUTE) * MINUTE
        self._ru_by_minute[minute] = self._ru_by_minute.get(minute, 0) + cost
        if len(self._ru_by_minute) > _STATS_MINUTES:
            del self._ru_by_minute[min(self._ru_by_minute)]

    def _near_limit_headers(self, usage: _AppUsage, now: float) -> tuple[tuple[str, str], ...]:
        limit = self._config.per_minute
        if limit is None or not self._config.ratelimit_headers:
            return ()
        if usage.minute.total < RATELIMIT_THRESHOLD * limit:
            return ()
        reset = usage.minute.seconds_until_oldest_leaves(now)
        return tuple(self._ratelimit(limit, usage.minute.total, reset))

    @staticmethod
    def _ratelimit(limit: int, used: int, reset: int) -> list[tuple[str, str]]:
        return [
            ("RateLimit-Limit", str(limit)),
            ("RateLimit-Remaining", str(max(0, limit - used))),
            ("RateLimit-Reset", str(reset)),
        ]

    def stats(self) -> dict[str, Any]:
        """RU charged per minute bucket (epoch seconds of the minute) and per-app counters."""
        with self._lock:
            return {
                "ru_by_minute": {str(m): ru for m, ru in sorted(self._ru_by_minute.items())},
                "apps": {
                    key: {
                        "requests": u.requests,
                        "rejections": u.rejections,
                        "ru_charged": u.charged,
                    }
                    for key, u in self._apps.items()
                },
            }
