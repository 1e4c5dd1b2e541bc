"""run_each: every item once, on several threads, and the first failure stops the rest."""

from __future__ import annotations

import threading
import time

import pytest

from ms365sync.sync.workers import run_each


def test_every_item_is_worked_on_once_on_several_threads() -> None:
    seen: list[int] = []
    names: set[str] = set()
    lock = threading.Lock()

    def work(item: int) -> None:
        time.sleep(0.001)
        with lock:
            seen.append(item)
            names.add(threading.current_thread().name)

    run_each(list(range(200)), work, 4, name="t")
    assert sorted(seen) == list(range(200))
    assert 1 < len(names) <= 4 and all(name.startswith("t-") for name in names)


def test_no_items_and_more_threads_than_items() -> None:
    run_each([], lambda item: None, 8, name="t")
    seen: list[str] = []
    run_each(["only"], seen.append, 8, name="t")
    assert seen == ["only"]


def test_the_first_failure_stops_new_items_and_is_raised_after_the_others_finish() -> None:
    started: list[int] = []
    finished: list[int] = []

    def work(item: int) -> None:
        started.append(item)
        if item == 3:
            raise OSError("disk full")
        time.sleep(0.01)
        finished.append(item)

    with pytest.raises(OSError, match="disk full"):
        run_each(list(range(1000)), work, 2, name="t")
    assert len(started) < 20  # stopped early, not after every item
    assert sorted(finished) == sorted(i for i in started if i != 3)  # none left half-done
