"""Running one function over many items on a few threads, with no hand-over per item.

Each worker thread takes the next item itself, and the function keeps its own results, so
finishing an item wakes no other thread. With a thread pool, every finished download woke
the thread collecting the results; on a busy two-core machine that hand-over, made while
holding the GIL, was a quarter of a sync's time holding it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["run_each"]

T = TypeVar("T")


def run_each(items: Sequence[T], work: Callable[[T], None], threads: int, *, name: str) -> None:
    """Call `work` on every item, on up to `threads` threads, starting items in order.

    The first exception `work` raises (or an interruption of the calling thread) stops the
    threads from starting more items; it is raised here once every thread has finished the
    item it was on.
    """
    position = iter(range(len(items)))
    taking = threading.Lock()
    failure: list[BaseException] = []

    def loop() -> None:
        while not failure:
            with taking:
                index = next(position, None)
            if index is None:
                return
            try:
                work(items[index])
            except BaseException as exc:
                failure.append(exc)
                return

    # Each thread runs in a copy of the caller's context: log lines keep the caller's target.
    pool = [
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(loop,),
            name=f"{name}-{number}",
            daemon=True,
        )
        for number in range(max(1, min(threads, len(items))))
    ]
    for thread in pool:
        thread.start()
    try:
        for thread in pool:
            thread.join()
    except BaseException as exc:  # interrupted while waiting: let the threads wind down
        failure.append(exc)
        for thread in pool:
            thread.join()
        raise
    if failure:
        raise failure[0]
