"""A download that keeps failing the same way gives up within a bounded time per file.

A file whose every download is cut short, or whose connection drops on every attempt, is
retried with exponential back-off (1, 2, 4 ... s, as after a 5xx) for at most
`download_give_up` seconds (60 by default) without getting further, then listed under
`errors` with one line saying why, while the rest of the run goes on; the next run tries it
again. A download that gets further on each attempt is not cut off, however long it takes.
Each retry is logged at debug level and the giving up once as a warning.

Time here is the throttle gate's clock, which moves only when someone sleeps on it
(support.reliability.VirtualTime), and its back-off has no jitter: no test waits for real,
and the simulated seconds are exact.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from loguru import logger

from ms365sync.emulator import GeneratedContent, Item
from ms365sync.graph import ThrottleGate
from ms365sync.sync.result import SyncResult
from support.harness import Call, World, add_many, make_world
from support.reliability import TargetedFaults, VirtualTime, make_client

BAD = "bad/report.bin"
SIZE = 100_000  # under one read chunk (1 MiB): a cut body leaves nothing to resume from
# With back-offs of exactly 1, 2, 4, 8, 16 s and the last wait cut to the deadline, the
# failing file's attempts start at 0, 1, 3, 7, 15, 31 and 60 s: seven, then it gives up.
ATTEMPTS, SECONDS = 7, 60.0


def _world(tmp_path: Path) -> tuple[World, Item, list[str]]:
    world = make_world(tmp_path)
    world.ok()
    bad = world.tenant.add_file(world.drive, BAD, GeneratedContent(7, SIZE))
    good = add_many(world, 5, folder="good")
    return world, bad, good


def _run(world: World, time: VirtualTime, **spec: object) -> SyncResult:
    gate = ThrottleGate(clock=time.now, sleep=time.sleep, rng=lambda: 1.0)
    with make_client(world.emulator, recorder=world.recorder, gate=gate) as client:
        return world.ok(client=client, **spec)


def _fetches(world: World, item: Item) -> list[Call]:
    """The download-host requests for `item` that got an answer (a dropped one gets none)."""
    return [c for c in world.recorder.downloads(status=None) if str(item.guid) in c.url]


def _gave_up(result: SyncResult, good: list[str]) -> str:
    """The failing file's reason, once the rest of the run is checked to have gone on."""
    log = result.log
    assert log is not None
    assert set(log.errors) == {BAD}
    assert set(log.changes.added) == set(good)
    reason = log.errors[BAD].reason
    assert "\n" not in reason
    return reason


def _next_run_mirrors_it(world: World, faults: TargetedFaults) -> None:
    faults.aimed.clear()
    fixed = world.ok()
    assert fixed.log is not None and not fixed.log.errors
    assert set(fixed.log.changes.added) == {BAD}
    assert world.data() == world.remote_files()


def test_a_file_whose_every_download_is_cut_short_gives_up_within_the_bound(
    tmp_path: Path,
) -> None:
    world, bad, good = _world(tmp_path)
    faults = TargetedFaults.install(world.emulator)
    faults.aimed.append(("truncate", str(bad.guid)))
    time = VirtualTime()
    result = _run(world, time)
    reason = _gave_up(result, good)
    assert f"{ATTEMPTS} attempts in 60 s without getting further" in reason
    assert f"body ended after 0 of {SIZE} bytes" in reason
    assert "(gave-up)" in reason
    # Only the failing file ever waited: the clock is its back-off, bounded by the deadline.
    assert time.now() == SECONDS
    assert len(_fetches(world, bad)) == ATTEMPTS
    assert not [c for c in world.recorder.calls if str(bad.id) in c.url]  # never re-read
    _next_run_mirrors_it(world, faults)


def test_a_file_whose_connection_drops_every_time_gives_up_within_the_bound(
    tmp_path: Path,
) -> None:
    world, bad, good = _world(tmp_path)
    faults = TargetedFaults.install(world.emulator)
    faults.aimed.append(("drop", str(bad.guid)))
    time = VirtualTime()
    result = _run(world, time)
    reason = _gave_up(result, good)
    assert f"{ATTEMPTS} attempts in 60 s without getting further" in reason
    assert "no answer: RemoteDisconnected" in reason
    assert time.now() == SECONDS
    assert world.emulator.app.request_counts()["download dropped"] == ATTEMPTS
    assert _fetches(world, bad) == []
    _next_run_mirrors_it(world, faults)


def test_the_bound_is_the_targets_download_give_up(tmp_path: Path) -> None:
    world, bad, good = _world(tmp_path)
    faults = TargetedFaults.install(world.emulator)
    faults.aimed.append(("truncate", str(bad.guid)))
    time = VirtualTime()
    result = _run(world, time, download_give_up=5.0)
    # Attempts at 0, 1 and 3 s, then one at the deadline, 5 s (its back-off of 4 s cut to 2).
    assert "4 attempts in 5 s without getting further" in _gave_up(result, good)
    assert time.now() == 5.0


def test_a_download_that_gets_further_each_time_is_not_cut_off(tmp_path: Path) -> None:
    """Each attempt takes 30 s and is cut half-way through what is left, three times: 90 s
    of failures, more than the deadline, but each got further, so the fourth completes."""
    world = make_world(tmp_path)
    world.ok()
    big = world.tenant.add_file(world.drive, "big.bin", GeneratedContent(3, 8 << 20))
    faults = TargetedFaults.install(world.emulator)
    faults.aimed.append(("truncate", str(big.guid)))
    time = VirtualTime()
    slow: list[Call] = []

    def slow_and_cut(call: Call) -> None:
        if call.is_download and str(big.guid) in call.url and faults.aimed:
            time.sleep(30.0)
            slow.append(call)
            if len(slow) == 3:
                faults.aimed.clear()  # the fourth attempt gets the rest whole

    world.recorder.reactions.append(slow_and_cut)
    result = _run(world, time)
    assert result.log is not None and not result.log.errors
    assert set(result.log.changes.added) == {"big.bin"}
    assert world.data()["big.bin"] == world.remote_files()["big.bin"]
    assert time.now() > SECONDS
    ranges = [c.status for c in _fetches(world, big)]
    assert ranges == [200, 206, 206, 206]  # resumed each time from where it was cut


def test_each_retry_is_logged_at_debug_and_giving_up_once_as_a_warning(
    tmp_path: Path,
) -> None:
    world, bad, _good = _world(tmp_path)
    faults = TargetedFaults.install(world.emulator)
    faults.aimed.append(("drop", str(bad.guid)))
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(str(m).rstrip("\n")), level="DEBUG", format="{level} {message}"
    )
    try:
        _run(world, VirtualTime())
    finally:
        logger.remove(sink)
    retries = [line for line in lines if line.startswith(f"DEBUG download of {BAD}: attempt")]
    assert len(retries) == ATTEMPTS - 1
    assert all("no answer: RemoteDisconnected" in line for line in retries)
    assert "retrying in 16.0 s" in retries[4]  # exponential, as after a 5xx
    warnings = [line for line in lines if line.startswith("WARNING")]
    assert warnings == [
        f"WARNING download of {BAD} gave up after {ATTEMPTS} attempts in 60 s without getting "
        "further: no answer: RemoteDisconnected"
    ]
    # The signed download URL never reaches a log: every tempauth there is redacted.
    assert set(re.findall(r"tempauth=([^&\s\]]+)", "\n".join(lines))) <= {"<redacted>"}


@pytest.mark.parametrize("kind", ["truncate", "drop"])
def test_files_that_keep_failing_all_give_up_within_the_bound(tmp_path: Path, kind: str) -> None:
    """Sixteen such files on eight threads (the case still running after 600 s): each gives
    up, and the clock, which every waiting thread moves, holds no more than the sixteen
    deadlines."""
    world = make_world(tmp_path)
    world.ok()
    faults = TargetedFaults.install(world.emulator)
    for index in range(16):
        item = world.tenant.add_file(world.drive, f"bad/{index}.bin", GeneratedContent(index, 999))
        faults.aimed.append((kind, str(item.guid)))
    time = VirtualTime()
    result = _run(world, time)
    assert result.log is not None and len(result.log.errors) == 16
    assert all("(gave-up)" in entry.reason for entry in result.log.errors.values())
    assert time.now() <= 16 * SECONDS
