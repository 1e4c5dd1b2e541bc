"""The tenant budget a gate charges: its static share, its Redis backend against a real
redis-server, and the gate's use of it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from ms365sync.errors import ConfigError
from ms365sync.graph.budget import (
    MINUTE_S,
    BucketShape,
    StaticShare,
    open_budget,
    redacted_url,
)
from ms365sync.graph.throttle import RateLimit, ThrottleGate
from support.redis_server import RedisServer, redis_server, require_redis_server


class FakeClock:
    """A clock that moves when told (or slept on); the sleeps are recorded."""

    def __init__(self) -> None:
        self._now = 1_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)


# ------------------------------------------------------------------ the static share


def _sent(budget: StaticShare, clock: FakeClock, requests: list[tuple[float, int]]) -> list:
    """Charge each (gap before it, cost) in turn; when each would be sent, and its cost."""
    sent = []
    for gap, cost in requests:
        clock.advance(gap)
        sent.append((clock.now() + budget.charge(cost), cost))
    return sent


@given(
    shares=st.integers(1, 8),
    requests=st.lists(
        st.tuples(st.floats(0, 3), st.sampled_from([1, 2, 5])), min_size=1, max_size=300
    ),
)
def test_no_minute_ever_sends_more_than_the_share(
    shares: int, requests: list[tuple[float, int]]
) -> None:
    clock = FakeClock()
    budget = StaticShare(1_250, 1_200_000, shares=shares, clock=clock.now)
    sent = sorted(_sent(budget, clock, requests))
    share = 1_250 / shares
    for start, _ in sent:
        in_minute = sum(cost for when, cost in sent if start <= when < start + MINUTE_S)
        assert in_minute <= share + 1e-6


def test_a_busy_worker_is_paced_to_its_share_and_an_idle_one_keeps_a_small_burst() -> None:
    clock = FakeClock()
    budget = StaticShare(1_250, 1_200_000, shares=4, clock=clock.now)
    assert budget.shape.minute_capacity == pytest.approx(1_250 / 4 * 0.05)
    holds = [budget.charge(1) for _ in range(400)]
    assert holds[:15] == [0.0] * 15  # the burst: 5 % of 312.5 units
    # Then one unit every 60 / (312.5 * 0.93) s: 400 units take about 79 s.
    assert holds[-1] == pytest.approx((400 - 15.625) * MINUTE_S / (312.5 * 0.93))
    clock.advance(3_600)
    assert budget.charge(5) == 0.0  # refilled, never beyond the burst


def test_the_day_share_binds_once_half_of_it_is_spent() -> None:
    clock = FakeClock()
    budget = StaticShare(100_000, 2_000, shares=2, clock=clock.now)  # 1,000 RU a day each
    shape = budget.shape
    assert shape == BucketShape.of(100_000, 2_000, shares=2)
    assert budget.charge(500) == 0.0  # half the day at once: within both buckets
    # The day bucket (500 units, refilled at 500 a day) is now empty: the next unit waits
    # for the day's refill, far longer than the minute's.
    assert budget.charge(1) == pytest.approx(1 / shape.day_rate, rel=0.01)


def test_no_budget_for_one_process_a_static_share_for_shards() -> None:
    assert open_budget(None, 1_250, 1_200_000, shares=1, tenant="t", client_id="c") is None
    shard = open_budget(None, 1_250, 1_200_000, shares=3, tenant="t", client_id="c")
    assert isinstance(shard, StaticShare) and shard.shares == 3
    assert shard.description == "static: 1/3 of the budget, 417 RU a minute"


def test_a_budget_url_without_the_redis_extra_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis raises ImportError
    monkeypatch.delitem(sys.modules, "ms365sync.graph.budget_redis", raising=False)
    with pytest.raises(ConfigError) as caught:
        open_budget("redis://h:6379/0", 1_250, 1_200_000, shares=1, tenant="t", client_id="c")
    message = str(caught.value)
    assert "budget_url" in message and "pip install 'ms365sync[redis]'" in message
    assert "\n" not in message


def test_urls_lose_their_password_in_every_text() -> None:
    assert redacted_url("redis://:s3cret@cache:6380/2") == "redis://***@cache:6380/2"
    assert redacted_url("rediss://user:pw@[::1]/0") == "rediss://***@[::1]/0"
    assert redacted_url("redis://cache:6379/0") == "redis://cache:6379/0"


# ------------------------------------------------------------------ the gate


class RecordingBudget:
    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.charged: list[float] = []
        self.paused: list[float] = []

    @property
    def description(self) -> str:
        return "recording"

    def charge(self, cost: float) -> float:
        self.charged.append(cost)
        return self.hold

    def pause(self, seconds: float) -> None:
        self.paused.append(seconds)

    def close(self) -> None:
        pass


def test_the_gate_charges_each_request_and_holds_as_the_budget_says() -> None:
    clock = FakeClock()
    budget = RecordingBudget(hold=0.25)
    gate = ThrottleGate(clock=clock.now, sleep=clock.sleep, budget=budget)
    gate.wait(5)
    gate.wait(1)
    assert budget.charged == [5, 1]
    assert clock.sleeps == [0.25, 0.25]
    assert gate.stats.paced_seconds == pytest.approx(0.5)


def test_the_gate_tells_every_worker_of_a_throttle_and_of_a_spent_minute() -> None:
    clock = FakeClock()
    budget = RecordingBudget(hold=0.0)
    gate = ThrottleGate(clock=clock.now, sleep=clock.sleep, rng=lambda: 1.0, budget=budget)
    gate.pause(retry_after=7)
    gate.observe(RateLimit(limit=1_250, remaining=900, reset=30))  # plenty left: nothing
    gate.observe(RateLimit(limit=1_250, remaining=0, reset=20))  # spent until the reset
    assert budget.paused == [7, 20]


# ------------------------------------------------------------------ Redis


@pytest.fixture
def server(tmp_path: Path):
    require_redis_server()
    with redis_server(tmp_path) as started:
        yield started


def _redis_budget(url: str, clock: FakeClock | None = None, *, shares: int = 2):
    from ms365sync.graph.budget_redis import RedisBudget

    options = {} if clock is None else {"clock": clock.now}
    return RedisBudget(
        url, 600, 1_200_000, tenant="Contoso.onmicrosoft.com", client_id="APP", shares=shares,
        **options,
    )  # fmt: skip


def test_workers_share_one_bucket_and_one_pause(server: RedisServer) -> None:
    first, second = _redis_budget(server.url), _redis_budget(server.url)
    try:
        capacity = first.shape.minute_capacity  # 30 units: 5 % of 600
        assert first.charge(capacity) == 0.0
        # The other worker finds the bucket empty: it waits for the refill of its unit
        # (one unit at 558 a minute: 93 % of 600), less the few milliseconds that passed.
        hold = second.charge(1)
        assert 0 < hold <= MINUTE_S / 558 + 1e-6
        first.pause(30)
        assert 29 < second.charge(1) <= 30
        keys = set(second._redis.keys("ms365sync:*"))
        assert keys == {
            b"ms365sync:{contoso.onmicrosoft.com:app}:bucket",
            b"ms365sync:{contoso.onmicrosoft.com:app}:pause",
        }
    finally:
        first.close()
        second.close()


def test_without_redis_a_worker_paces_to_its_share_says_so_once_and_comes_back(
    server: RedisServer, tmp_path: Path
) -> None:
    from ms365sync.graph.budget_redis import RETRY_S

    clock = FakeClock()
    budget = _redis_budget(server.url, clock, shares=2)
    records: list[str] = []
    sink = logger.add(records.append, level="INFO", format="{level} {message}")
    try:
        assert budget.charge(1) == 0.0 and budget.reachable
        server.stop()
        # Its own share: a fresh 1/2 of 600 a minute, a burst of 15 units, then paced.
        holds = [budget.charge(1) for _ in range(16)]
        assert holds[:15] == [0.0] * 15 and holds[15] > 0
        assert not budget.reachable
        clock.advance(RETRY_S)
        budget.charge(1)  # asks Redis again: still down, nothing more said
        budget.pause(10)  # nowhere to tell: never raises
        warnings = [r for r in records if r.startswith("WARNING")]
        assert len(warnings) == 1
        assert "cannot be reached (ConnectionError)" in warnings[0]
        assert "1/2 of the budget" in warnings[0]
        restarted = RedisServer(tmp_path, port=server.port)
        restarted.start()
        try:
            clock.advance(RETRY_S)
            budget.charge(1)
            assert budget.reachable
            assert any("answers again" in r for r in records)
        finally:
            restarted.stop()
    finally:
        logger.remove(sink)
        budget.close()


def test_a_password_never_reaches_the_log(tmp_path: Path) -> None:
    from ms365sync.graph.budget_redis import RedisBudget

    require_redis_server()
    closed = RedisServer(tmp_path).port  # nobody listens there
    records: list[str] = []
    sink = logger.add(records.append, level="DEBUG", format="{message}")
    budget = RedisBudget(
        f"redis://:hunter2@127.0.0.1:{closed}/0", 600, 1_200_000, tenant="t", client_id="c"
    )
    try:
        budget.charge(1)
        assert "hunter2" not in budget.description and "***@127.0.0.1" in budget.description
        assert records and not any("hunter2" in record for record in records)
    finally:
        logger.remove(sink)
        budget.close()
