"""The tenant's budget in Redis: one bucket and one pause for every worker of an app.

Each charge is one round trip: a Lua script (atomic on the server) refills the minute and
day buckets from the server's clock (`TIME`: the workers' clocks never have to agree),
takes the request's units and answers how long to hold it, the shared pause included. A
pause is a key holding the server time until which everyone holds; it only ever grows.
Keys live under `ms365sync:{tenant:client}:` (the braces keep them in one Redis Cluster
slot) and expire two days after their last use.

Redis unavailable (refused, timed out, gone mid-run): the worker paces itself to its static
share (`StaticShare`) and says so once; it tries Redis again every `RETRY_S`, one thread at
a time, and says so when Redis answers again. The budget store never stops a sync.

Needs the `redis` extra (`pip install 'ms365sync[redis]'`); imported only when
`[run] budget_url` is set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis
from loguru import logger

from ms365sync.graph.budget import BucketShape, StaticShare, redacted_url

__all__ = ["RETRY_S", "RedisBudget"]

RETRY_S = 30.0  # how long a worker keeps to its static share before asking Redis again
TIMEOUT_S = 2.0  # connect and answer: a budget store that hangs must not hang the sync
KEY_TTL_S = 2 * 86_400

_CHARGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local mcap, mrate = tonumber(ARGV[2]), tonumber(ARGV[3])
local dcap, drate = tonumber(ARGV[4]), tonumber(ARGV[5])
local b = redis.call('HMGET', KEYS[1], 'minute', 'day', 'at')
local m = tonumber(b[1]) or mcap
local d = tonumber(b[2]) or dcap
local at = tonumber(b[3]) or now
local elapsed = math.max(0, now - at)
m = math.min(mcap, m + elapsed * mrate) - cost
d = math.min(dcap, d + elapsed * drate) - cost
redis.call('HSET', KEYS[1], 'minute', tostring(m), 'day', tostring(d), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
local hold = 0
if m < 0 then hold = -m / mrate end
if d < 0 then hold = math.max(hold, -d / drate) end
local p = tonumber(redis.call('GET', KEYS[2]) or '0')
if p > now then hold = math.max(hold, p - now) end
return tostring(hold)
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local untl = now + seconds
local p = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > p then
    redis.call('SET', KEYS[1], tostring(untl), 'PX', math.ceil(seconds * 1000) + 1000)
end
return tostring(math.max(untl, p) - now)
"""


class RedisBudget:
    """The whole tenant budget, shared through Redis by every worker of (tenant, client)."""

    def __init__(
        self,
        url: str,
        ru_per_minute: float,
        ru_per_day: float,
        *,
        tenant: str,
        client_id: str,
        shares: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`shares` is this worker's part of the budget while Redis cannot be reached."""
        self.url = redacted_url(url)
        self.ru_per_minute = ru_per_minute
        self.shape = BucketShape.of(ru_per_minute, ru_per_day)
        prefix = f"ms365sync:{{{tenant.lower()}:{client_id.lower()}}}:"
        self.bucket_key, self.pause_key = prefix + "bucket", prefix + "pause"
        self._redis = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
        )
        self._charge = self._redis.register_script(_CHARGE)
        self._pause = self._redis.register_script(_PAUSE)
        self._fallback = StaticShare(ru_per_minute, ru_per_day, shares=shares, clock=clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until: float | None = None  # None: Redis answered last time
        self._probing = False

    @property
    def description(self) -> str:
        return (
            f"redis at {self.url}: {self.ru_per_minute:,.0f} RU a minute shared by every "
            f"worker (alone: {self._fallback.description})"
        )

    @property
    def reachable(self) -> bool:
        """Whether Redis answered the last time it was asked."""
        with self._lock:
            return self._down_until is None

    def charge(self, cost: float) -> float:
        if not self._ask_redis():
            return self._fallback.charge(cost)
        shape = self.shape
        try:
            answer = self._charge(
                keys=[self.bucket_key, self.pause_key],
                args=[
                    cost,
                    shape.minute_capacity,
                    shape.minute_rate,
                    shape.day_capacity,
                    shape.day_rate,
                    KEY_TTL_S,
                ],
            )
        except redis.RedisError as exc:
            self._went_down(exc)
            return self._fallback.charge(cost)
        self._answered()
        return max(0.0, float(answer))

    def pause(self, seconds: float) -> None:
        if seconds <= 0 or not self._ask_redis():
            return
        try:
            self._pause(keys=[self.pause_key], args=[seconds])
        except redis.RedisError as exc:
            self._went_down(exc)
            return
        self._answered()

    def close(self) -> None:
        self._redis.close()

    def _ask_redis(self) -> bool:
        """Whether this call goes to Redis: yes while it answers; while it does not, one
        caller at a time once `RETRY_S` has passed, the others keep to the static share."""
        with self._lock:
            if self._down_until is None:
                return True
            if self._probing or self._clock() < self._down_until:
                return False
            self._probing = True
            return True

    def _went_down(self, exc: redis.RedisError) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._clock() + RETRY_S
            self._probing = False
        if first:
            logger.warning(
                "budget: the budget store at {} cannot be reached ({}); pacing to this "
                "worker's own share ({}) until it answers",
                self.url,
                type(exc).__name__,
                self._fallback.description,
            )

    def _answered(self) -> None:
        with self._lock:
            if self._down_until is None:
                return
            self._down_until = None
            self._probing = False
        logger.info("budget: the budget store at {} answers again", self.url)
