"""The stop token: a first request stops new items, the grace then the fence abandon the
ones under way, and nothing passes a closed fence."""

from __future__ import annotations

import io
import threading

import pytest

from ms365sync.sync.stop import Abandoned, Stop
from ms365sync.sync.workers import run_each


def test_a_second_request_abandons_and_the_first_names_the_reason() -> None:
    stop = Stop(grace=60)
    assert not stop.requested and stop.remaining() is None
    stop.request("SIGTERM")
    assert stop.requested and not stop.abandoned and stop.reason == "SIGTERM"
    assert 0 < (stop.remaining() or 0) <= 60
    stop.request("SIGINT")
    assert stop.abandoned and stop.reason == "SIGTERM" and stop.remaining() == 0


def test_a_closed_fence_lets_no_write_through() -> None:
    stop = Stop()
    file = io.BytesIO()
    fenced = stop.fenced(file)
    fenced.write(b"before")
    stop.close_fence()
    with pytest.raises(Abandoned):
        fenced.write(b"after")
    with pytest.raises(Abandoned), stop.writing():
        pass
    assert file.getvalue() == b"before"


def test_closing_the_fence_waits_for_the_write_under_way() -> None:
    stop = Stop()
    inside, leave, closed = threading.Event(), threading.Event(), threading.Event()

    def writer() -> None:
        with stop.writing():
            inside.set()
            leave.wait(10)

    def closer() -> None:
        stop.close_fence()
        closed.set()

    threads = [threading.Thread(target=writer), threading.Thread(target=closer)]
    threads[0].start()
    assert inside.wait(10)
    threads[1].start()
    assert not closed.wait(0.2)  # still writing
    leave.set()
    assert closed.wait(10)
    for thread in threads:
        thread.join()


def test_a_requested_stop_starts_no_item_and_lets_the_ones_under_way_finish() -> None:
    stop = Stop(grace=60)
    started, finished = [], []
    go = threading.Event()

    def work(item: int) -> None:
        started.append(item)
        if item == 1:
            stop.request("SIGINT")
        go.wait(10)
        finished.append(item)

    go.set()
    complete = run_each(list(range(100)), work, 1, name="t", stop=stop)
    assert not complete and started == finished == [0, 1]


def test_the_end_of_the_grace_abandons_the_items_under_way() -> None:
    stop = Stop(grace=0)
    release = threading.Event()
    started: list[int] = []

    def work(item: int) -> None:
        started.append(item)
        stop.request("SIGTERM")
        release.wait(10)  # held until after run_each returned

    try:
        assert run_each([1, 2, 3], work, 1, name="t", stop=stop) is False
        assert stop.abandoned and started == [1]
    finally:
        release.set()


def test_without_a_request_every_item_is_done() -> None:
    seen: list[int] = []
    assert run_each(list(range(20)), seen.append, 4, name="t", stop=Stop()) is True
    assert sorted(seen) == list(range(20))


def test_wait_returns_once_requested_or_at_its_timeout() -> None:
    stop = Stop()
    assert stop.wait(0.05) is False
    threading.Timer(0.05, stop.request, args=("SIGTERM",)).start()
    assert stop.wait(30) is True and stop.reason == "SIGTERM"
