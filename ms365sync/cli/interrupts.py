"""SIGINT and SIGTERM as a stop token, and what the command says and exits with after one.

The first signal asks the run to stop (`sync.stop.Stop`): no new target or download
starts, the downloads in flight get `[run] stop_timeout`, what completed is committed. A
second signal abandons what is in flight at once. A run that a signal cut short exits
128 + the signal's number (130 for SIGINT, 143 for SIGTERM), with one line saying how
far it got; a signal that arrives once the work is done changes nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from ms365sync.coordinator import RunReport
from ms365sync.sync.stop import Stop

__all__ = ["exit_code", "interrupted_line", "stop_on_signals"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: Stop) -> Iterator[Stop]:
    """Feed SIGINT and SIGTERM to `stop` inside the block (on the main thread: only it
    receives signals; elsewhere the block runs without)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def exit_code(stop: Stop) -> int:
    """128 + the number of the signal that stopped the run (130 for SIGINT, 143 for SIGTERM)."""
    reason = stop.reason or "SIGINT"
    return 128 + signal.Signals[reason].value


def interrupted_line(stop: Stop, report: RunReport) -> str:
    """One line: which signal, how many of the planned files are done, what is left."""
    done = sum(result.counters.files_fetched for result in report.results)
    planned = sum(result.counters.files_to_fetch for result in report.results)
    waiting = sum(1 for r in report.results if r.interrupted and r.document is None)
    unit = "file" if planned == 1 else "files"
    line = f"ms365sync: interrupted ({stop.reason}): {done:,} of {planned:,} {unit} done, committed"
    if waiting:
        line += f"; {waiting} {'target' if waiting == 1 else 'targets'} not synced"
    return line + "; the rest is left for the next run"
