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

from loguru import logger

from ms365sync.sync.stop import Stop

__all__ = ["run_each"]

T = TypeVar("T")

_POLL = 0.1  # seconds between looks at a stop's grace while the items run


def run_each(
    items: Sequence[T],
    work: Callable[[T], None],
    threads: int,
    *,
    name: str,
    stop: Stop | None = None,
) -> bool:
    """Call `work` on every item, on up to `threads` threads, starting items in order.

    Returns whether every item was started and finished: once `stop` is requested no item
    starts, the ones under way get the stop's grace, and then they are abandoned (the
    stop's fence is closed, so they write nothing more; their threads, daemons, are left to
    end on their own) and this returns False.

    The first exception `work` raises (or an interruption of the calling thread) stops the
    threads from starting more items; it is raised here once every thread has finished the
    item it was on (or was abandoned).
    """
    position = iter(range(len(items)))
    taking = threading.Lock()
    failure: list[BaseException] = []
    taken = [0]
    size = max(1, min(threads, len(items)))
    running = [size]
    finished = threading.Event()

    def stopping() -> bool:
        return bool(failure) or (stop is not None and stop.requested)

    def loop() -> None:
        try:
            while not stopping():
                with taking:
                    index = next(position, None)
                    taken[0] += index is not None
                if index is None:
                    return
                try:
                    work(items[index])
                except BaseException as exc:
                    failure.append(exc)
                    return
        finally:
            with taking:
                running[0] -= 1
                if not running[0]:
                    finished.set()

    # Each thread runs in a copy of the caller's context: log lines keep the caller's target.
    pool = [
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(loop,),
            name=f"{name}-{number}",
            daemon=True,
        )
        for number in range(size)
    ]
    for thread in pool:
        thread.start()
    try:
        complete = _wait(finished, stop, name)
    except BaseException as exc:  # interrupted while waiting: let the threads wind down
        failure.append(exc)
        for thread in pool:
            thread.join()
        raise
    if failure:
        raise failure[0]
    return complete and taken[0] == len(items)


def _wait(finished: threading.Event, stop: Stop | None, name: str) -> bool:
    """Wait for the threads; False when a stop's grace ended first (the fence is closed)."""
    if stop is None:
        finished.wait()
        return True
    noticed = False
    while not finished.wait(_POLL):
        remaining = stop.remaining()
        if remaining is None:
            continue
        if not noticed:
            logger.debug("{}: stopping: nothing new starts; {:.1f} s for the rest", name, remaining)
            noticed = True
        if remaining <= 0:
            logger.debug("{}: stopping: abandoned what was under way", name)
            stop.close_fence()
            return False
    return True
