"""concurrency = "auto": the number of downloads in flight follows the round trips, within its
cap; a fixed number stays fixed; waiting for a place ends with a stop."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ms365sync.sync.concurrency import (
    AUTO_START,
    MIN_WINDOW,
    AdaptiveLimit,
    FixedLimit,
    download_limit,
)
from ms365sync.sync.stop import Stop
from ms365sync.sync.syncer import Syncer
from support.harness import add_many, make_world


def _window(limit: AdaptiveLimit, seconds: float, *, throttled: bool = False) -> int:
    """Complete one window of downloads that each took `seconds`; the limit after it."""
    for _ in range(max(MIN_WINDOW, limit.limit)):
        assert limit.enter()
        limit.leave(seconds, throttled=throttled)
    return limit.limit


def test_the_limit_grows_while_round_trips_stay_at_their_floor_up_to_its_cap() -> None:
    limit = AdaptiveLimit(32)
    assert limit.limit == AUTO_START
    seen = [_window(limit, 0.030) for _ in range(12)]
    assert seen[:6] == [10, 13, 16, 20, 24, 28]  # limit + its square root, each window
    assert seen[-1] == 32 and max(seen) == 32  # never past the cap
    assert limit.history == [8, *seen]


def test_the_limit_falls_when_round_trips_inflate_and_never_below_one() -> None:
    limit = AdaptiveLimit(32)
    for _ in range(8):
        _window(limit, 0.030)
    assert limit.limit == 32
    falling = [_window(limit, 0.300) for _ in range(4)]  # ten times the floor: queueing
    assert falling == sorted(falling, reverse=True) and falling[-1] < 16
    for _ in range(30):
        _window(limit, 30.0)
    assert limit.limit >= 1
    assert limit.limit <= 2


def test_a_small_inflation_within_the_tolerance_still_grows() -> None:
    limit = AdaptiveLimit(64)
    _window(limit, 0.030)
    before = limit.limit
    assert _window(limit, 0.044) > before  # 1.47 x the floor: no queue yet


def test_a_throttled_window_never_grows_the_limit() -> None:
    limit = AdaptiveLimit(32)
    _window(limit, 0.030)
    held = limit.limit
    assert [_window(limit, 0.030, throttled=True) for _ in range(5)] == [held] * 5
    assert _window(limit, 0.030) > held  # the gate opened again


def test_the_floor_follows_a_link_that_became_slower_for_good() -> None:
    limit = AdaptiveLimit(32)
    for _ in range(3):
        _window(limit, 0.010)
    low = limit.limit
    slower = [_window(limit, 0.030) for _ in range(120)]  # 3 x as long, no more queueing
    assert slower[0] < low  # at first it reads as queueing
    assert limit.floor == pytest.approx(0.030)  # the floor rose 1 % a window to the new one
    assert slower[-1] == 32


def test_a_fixed_limit_learns_nothing_and_failures_teach_nothing() -> None:
    fixed = download_limit(5, cap=32)
    assert isinstance(fixed, FixedLimit) and fixed.threads == 5
    for _ in range(40):
        assert fixed.enter()
        fixed.leave(10.0)
    assert fixed.limit == 5
    auto = download_limit(None, cap=3)
    assert isinstance(auto, AdaptiveLimit) and (auto.limit, auto.threads) == (3, 3)
    for _ in range(40):
        assert auto.enter()
        auto.leave(None)  # did not complete: no observation
    assert auto.history == [3]


def test_a_full_limit_makes_the_next_download_wait_and_a_stop_ends_the_wait() -> None:
    limit = FixedLimit(1)
    stop = Stop(grace=0)
    assert limit.enter(stop)
    entered = threading.Event()
    outcome: list[bool] = []

    def second() -> None:
        outcome.append(limit.enter(stop))
        entered.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not entered.wait(0.3)  # no place while the first is in flight
    limit.leave()
    assert entered.wait(5) and outcome == [True]
    assert limit.peak == 1
    third: list[bool] = []
    waiter = threading.Thread(target=lambda: third.append(limit.enter(stop)))
    waiter.start()
    stop.request("test")
    waiter.join(5)
    assert third == [False]  # stopped while waiting: no place taken
    thread.join()
    assert not limit.enter(stop)


@pytest.mark.parametrize("concurrency", [None, 2])
def test_a_sync_keeps_its_downloads_within_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, concurrency: int | None
) -> None:
    world = make_world(tmp_path)
    add_many(world, 40)
    service = world.emulator.app.downloads
    original = service.handle
    lock = threading.Lock()
    flight = [0, 0]  # in flight now, most at once

    def handle(request: Any) -> Any:
        with lock:
            flight[0] += 1
            flight[1] = max(flight[1], flight[0])
        try:
            return original(request)
        finally:
            with lock:
                flight[0] -= 1

    monkeypatch.setattr(service, "handle", handle)
    with world.client() as client:
        result = Syncer(world.spec(concurrency=concurrency), client, max_downloads=3).sync()
    assert result.ok and result.log is not None and not result.log.errors
    assert world.data() == world.remote_files()
    assert 1 <= flight[1] <= (3 if concurrency is None else concurrency)
