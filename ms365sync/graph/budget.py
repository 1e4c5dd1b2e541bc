"""The tenant's resource-unit budget, shared by every worker that syncs for one app.

SharePoint throttles per app per tenant (graph-facts §9.3): N processes that each pace
themselves to the whole one-minute budget spend N times it together and meet 429s, and
Microsoft's guidance is that a throttled app pauses all its requests (§9.5). A worker's
`ThrottleGate` therefore asks a `TenantBudget` before each request:

- `charge(cost)` takes `cost` resource units from the budget and answers how long to hold
  the request (the pace of the budget, and any pause another worker announced);
- `pause(seconds)` tells every worker to hold that long (after a 429 or 503, or when the
  RateLimit headers say the minute's units are spent).

Two backends: `StaticShare` (no infrastructure: each of N shards paces itself to 1/N of
the minute's and the day's budget) and, with the `redis` extra, `RedisBudget`
(`budget_redis`: one bucket and one pause for every worker of the app, in Redis).

The buckets are token buckets whose refill and burst together never exceed the budget in
any window of its length: a bucket of capacity C refilled at r units a second lets at
most C + r*T through in T seconds, so the minute bucket holds 5 % of the share as its burst
and refills at 93 %, the day bucket half and half (a new bucket may spend half the day's
share at once, then follows the day's rate). The minute keeps 2 % in hand because the
service counts a request when it arrives, not when it was charged here: requests charged
within one minute can reach SharePoint within a little less (queues, connection set-up,
retries), and the service's window would then hold more than the bucket let through.

A charge beyond what the bucket holds is taken as debt: the request waits until the refill
has paid it, and the next one waits behind it, so concurrent workers are served in the
order they asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from ms365sync.errors import ConfigError

__all__ = [
    "DAY_S",
    "MINUTE_S",
    "BucketShape",
    "StaticShare",
    "TenantBudget",
    "open_budget",
    "redacted_url",
]

MINUTE_S = 60.0
DAY_S = 86_400.0
MINUTE_BURST = 0.05  # of the minute's share
MINUTE_MARGIN = 0.02  # of the minute's share, never spent: for requests bunched on the way
DAY_BURST = 0.5  # of the day's share


class TenantBudget(Protocol):
    """What a `ThrottleGate` asks before each request (thread-safe)."""

    @property
    def description(self) -> str:
        """One line for the log: the backend and its share, without secrets."""
        ...

    def charge(self, cost: float) -> float:
        """Take `cost` resource units; the seconds to hold the request before sending it."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every worker's next requests for `seconds` from now."""
        ...

    def close(self) -> None:
        """Release what the backend holds (connections)."""
        ...


@dataclass(frozen=True)
class BucketShape:
    """Capacity and refill rate (units a second) of the minute and the day buckets for a
    share of `ru_per_minute` and `ru_per_day`."""

    minute_capacity: float
    minute_rate: float
    day_capacity: float
    day_rate: float

    @classmethod
    def of(cls, ru_per_minute: float, ru_per_day: float, *, shares: int = 1) -> BucketShape:
        """The buckets of one of `shares` equal shares of the budget."""
        minute = ru_per_minute / max(1, shares)
        day = ru_per_day / max(1, shares)
        return cls(
            minute_capacity=minute * MINUTE_BURST,
            minute_rate=minute * (1 - MINUTE_BURST - MINUTE_MARGIN) / MINUTE_S,
            day_capacity=day * DAY_BURST,
            day_rate=day * (1 - DAY_BURST) / DAY_S,
        )


class StaticShare:
    """1/`shares` of the tenant's budget, paced in this process alone (no infrastructure).

    A pause is this worker's own: the gate that calls `pause` already holds every thread
    of the process, and no other process can be told.
    """

    def __init__(
        self,
        ru_per_minute: float,
        ru_per_day: float,
        *,
        shares: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shares = max(1, shares)
        self.ru_per_minute = ru_per_minute
        self.shape = BucketShape.of(ru_per_minute, ru_per_day, shares=self.shares)
        self._clock = clock
        self._lock = threading.Lock()
        self._minute = self.shape.minute_capacity
        self._day = self.shape.day_capacity
        self._at = clock()

    @property
    def description(self) -> str:
        per_minute = self.ru_per_minute / self.shares
        if self.shares == 1:
            return f"static: the whole budget, {per_minute:,.0f} RU a minute"
        return f"static: 1/{self.shares} of the budget, {per_minute:,.0f} RU a minute"

    def charge(self, cost: float) -> float:
        shape = self.shape
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._at)
            self._at = now
            self._minute = min(shape.minute_capacity, self._minute + elapsed * shape.minute_rate)
            self._day = min(shape.day_capacity, self._day + elapsed * shape.day_rate)
            self._minute -= cost
            self._day -= cost
            return max(0.0, -self._minute / shape.minute_rate, -self._day / shape.day_rate)

    def pause(self, seconds: float) -> None:
        """Nothing to tell: the calling gate pauses this process's threads itself."""

    def close(self) -> None:
        """Nothing is held."""


def redacted_url(url: str) -> str:
    """`url` without its password (and user name), for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_budget(
    url: str | None,
    ru_per_minute: float,
    ru_per_day: float,
    *,
    shares: int,
    tenant: str,
    client_id: str,
) -> TenantBudget | None:
    """The budget the workers of a run share: in Redis at `url` when set (this worker's
    1/`shares` when Redis cannot be reached), else 1/`shares` of it paced here when the
    targets are split over several shards, else none (the gate reacts to RateLimit headers
    and 429s alone, as one process that holds every target may).

    Raises:
        ConfigError: `url` is set and the `redis` extra is not installed.
    """
    if url:
        try:
            from ms365sync.graph.budget_redis import RedisBudget  # noqa: PLC0415 -- an extra
        except ImportError as exc:
            raise ConfigError(
                f"[run] budget_url needs the redis package ({exc.name or 'redis'} is not "
                "installed): pip install 'ms365sync[redis]'"
            ) from None
        return RedisBudget(
            url, ru_per_minute, ru_per_day, tenant=tenant, client_id=client_id, shares=shares
        )
    if shares > 1:
        return StaticShare(ru_per_minute, ru_per_day, shares=shares)
    return None
