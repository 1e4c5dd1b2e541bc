"""ThrottleGate on a fake clock: shared pauses, back-off, proactive pacing, counters."""

from __future__ import annotations

import itertools
import threading

import pytest

from ms365sync.graph.throttle import RateLimit, ThrottleGate


def _gate(clock, **options) -> ThrottleGate:
    options.setdefault("rng", lambda: 1.0)
    return ThrottleGate(clock=clock.now, sleep=clock.sleep, **options)


def test_open_gate_does_not_sleep(clock) -> None:
    gate = _gate(clock)
    for _ in range(5):
        gate.wait()
    assert clock.sleeps == []
    assert gate.stats.requests == 5


def test_pause_blocks_the_next_wait_until_it_ends(clock) -> None:
    gate = _gate(clock)
    start = clock.now()
    assert gate.pause(retry_after=7) == 7
    gate.wait()
    assert clock.now() - start >= 7
    assert sum(clock.sleeps) == 7


def test_a_pause_from_one_thread_holds_every_other_thread(clock) -> None:
    gate = _gate(clock)
    start = clock.now()
    pauser = threading.Thread(target=gate.pause, kwargs={"retry_after": 30})
    pauser.start()
    pauser.join()
    released_at: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        gate.wait()
        with lock:
            released_at.append(clock.now())

    workers = [threading.Thread(target=worker) for _ in range(8)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert len(released_at) == 8
    assert all(at - start >= 30 for at in released_at)
    assert gate.stats.throttled == 1


def test_pause_uses_the_larger_of_retry_after_and_reset(clock) -> None:
    gate = _gate(clock)
    assert gate.pause(retry_after=5, reset=31) == 31
    assert gate.pause(retry_after=40, reset=31) == 40


def test_a_shorter_later_pause_never_shortens_the_current_one(clock) -> None:
    gate = _gate(clock)
    gate.pause(retry_after=30)
    gate.pause(retry_after=5)
    gate.wait()
    assert sum(clock.sleeps) == 30
    assert gate.stats.paused_seconds == 30  # wall time closed, not the sum of both pauses


def test_exponential_back_off_without_retry_after(clock) -> None:
    gate = _gate(clock, backoff_base=1.0, backoff_cap=60.0)
    delays = []
    for _ in range(4):
        delays.append(gate.pause())
        gate.wait()  # let the pause end: the next throttle is a new event
    assert delays == [1.0, 2.0, 4.0, 8.0]


def test_back_off_is_capped_and_jittered(clock) -> None:
    gate = _gate(clock, backoff_base=1.0, backoff_cap=10.0, rng=lambda: 0.0)
    for _ in range(8):
        delay = gate.pause()
        gate.wait()
    assert delay == 5.0  # cap 10, equal jitter with rng=0 -> half


def test_concurrent_throttles_of_one_event_do_not_escalate(clock) -> None:
    gate = _gate(clock)
    assert [gate.pause() for _ in range(5)] == [1.0] * 5


def test_success_resets_the_back_off(clock) -> None:
    gate = _gate(clock)
    gate.pause()
    gate.wait()
    gate.pause()
    gate.wait()
    gate.succeeded()
    assert gate.pause() == 1.0


def test_thread_back_off_does_not_close_the_gate(clock) -> None:
    gate = _gate(clock)
    assert gate.backoff(3) == 4.0
    assert clock.sleeps == [4.0]
    before = len(clock.sleeps)
    gate.wait()
    assert len(clock.sleeps) == before
    assert gate.stats.paused_seconds == 0


def test_a_back_off_drawn_first_is_held_on_the_gates_clock(clock) -> None:
    """What a download does: draw the delay, cut it to its deadline, then sleep it."""
    gate = _gate(clock, rng=lambda: 0.0)
    assert gate.backoff_delay(4) == 4.0  # ceiling 8, equal jitter with rng=0 -> half
    start = gate.now()
    gate.hold(2.5)
    assert clock.sleeps == [2.5]
    assert gate.now() - start == 2.5
    assert gate.stats.paused_seconds == 0  # this thread only: the gate stays open


def test_pacing_spreads_the_remaining_budget_until_the_reset(clock) -> None:
    gate = _gate(clock, reserve=0.03)
    start = clock.now()
    gate.observe(RateLimit(limit=1200, remaining=120, reset=5.0))
    spendable = 120 - 36  # 3 % of the limit stays in reserve for requests in flight
    for _ in range(spendable):
        gate.wait()
    elapsed = clock.now() - start
    assert 0.9 * 5.0 <= elapsed < 5.0  # paced over the window, without overshooting it
    assert gate.stats.paced_seconds > 0
    assert gate.stats.throttled == 0


def test_pacing_charges_the_request_cost(clock) -> None:
    gate = _gate(clock, reserve=0.0)
    gate.observe(RateLimit(limit=1000, remaining=100, reset=10.0))
    gate.wait(cost=5)
    gate.wait(cost=5)
    gate.wait(cost=5)
    assert clock.sleeps == [0.5, 0.5]  # 0.1 s per unit, 5 units per permission request
    assert gate.stats.resource_units == 15


def test_units_in_flight_are_taken_off_the_remaining_budget(clock) -> None:
    gate = _gate(clock, reserve=0.0)
    gate.wait(cost=100)  # two $batch envelopes of 20 permission reads, not answered yet
    gate.wait(cost=100)
    gate.observe(RateLimit(limit=1000, remaining=240, reset=10.0))
    gate.wait(cost=4)
    gate.wait(cost=4)
    assert clock.sleeps == [1.0]  # 40 spendable units over 10 s: 0.25 s per unit
    gate.finished(100)
    gate.finished(100)
    gate.observe(RateLimit(limit=1000, remaining=240, reset=10.0))
    gate.wait(cost=4)  # takes the slot reserved before the new headers arrived
    gate.wait(cost=4)  # the two 4-unit requests are still in flight: 232 units to spread,
    # though never faster than the budget's own rate (1,000 units a minute)
    assert clock.sleeps[-1] == pytest.approx(max(4 * 10.0 / 232, 4 * 60.0 / 1000))


def test_near_the_limit_requests_never_go_faster_than_the_budgets_own_rate(clock) -> None:
    gate = _gate(clock, reserve=0.0)
    start = clock.now()
    # A sliding window: the reset frees only what leaves it in a second, not the budget.
    gate.observe(RateLimit(limit=1200, remaining=200, reset=1.0))
    for _ in range(20):
        gate.wait()
        gate.finished()
        gate.observe(RateLimit(limit=1200, remaining=200, reset=1.0))
    assert clock.now() - start == pytest.approx(19 * 60.0 / 1200)  # 20 per second


def test_after_the_budget_ran_out_every_worker_resumes_paced(clock) -> None:
    gate = _gate(clock, reserve=0.0)
    gate.observe(RateLimit(limit=600, remaining=0, reset=3.0))
    gate.pause(3.0, 3.0)
    resumed = clock.now() + 3.0
    times = []
    for _ in range(4):
        gate.wait()
        times.append(clock.now())
    assert times[0] == pytest.approx(resumed)
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([0.1] * 3)


def test_pacing_never_holds_a_request_past_the_reset(clock) -> None:
    gate = _gate(clock, reserve=0.0)
    start = clock.now()
    gate.observe(RateLimit(limit=1000, remaining=10, reset=2.0))
    for _ in range(5):
        gate.wait(cost=100)  # far more than the window allows
    assert clock.now() - start == pytest.approx(2.0)


def test_pacing_ends_with_the_window(clock) -> None:
    gate = _gate(clock)
    gate.observe(RateLimit(limit=1200, remaining=120, reset=5.0))
    clock.advance(5.0)
    for _ in range(10):
        gate.wait()
    assert clock.sleeps == []


def test_no_pacing_while_plenty_of_budget_remains(clock) -> None:
    gate = _gate(clock)
    gate.observe(RateLimit(limit=1200, remaining=900, reset=30.0))
    for _ in range(10):
        gate.wait()
    assert clock.sleeps == []
    gate.observe(None)
    gate.wait()
    assert clock.sleeps == []


def test_an_exhausted_budget_waits_for_the_reset_instead_of_probing(clock) -> None:
    gate = _gate(clock)
    start = clock.now()
    gate.observe(RateLimit(limit=1200, remaining=10, reset=7.0))
    gate.wait()
    assert clock.now() - start == 7.0
    assert gate.stats.throttled == 0


def test_stats_counters(clock) -> None:
    gate = _gate(clock)
    gate.wait(cost=2)
    gate.pause(retry_after=3)
    gate.wait(cost=1)
    stats = gate.stats
    assert (stats.requests, stats.throttled, stats.paused_seconds, stats.resource_units) == (
        2,
        1,
        3.0,
        3.0,
    )
