"""Property tests over random remote histories: the mirror and the change logs follow any of them.

A history is a sequence of remote changes (files and folders added, edited, touched,
renamed, moved, swapped and deleted; grants, revocations, sharing links, inheritance broken
and restored) with sync runs in between, some of them with a permission sweep (always the
one after a change the feed shows nothing of, such as a removed link). After
every run the mirror and .permissions.json equal the tenant's truth, and the run's change
log holds exactly the net effect of the history since the previous run: each change once,
nothing spurious (a touch, or a change undone before the run, reports nothing).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms365sync.target import PermissionPolicy
from support.changes import OPS, Mutator
from support.harness import make_world
from support.reliability import (
    FileTruth,
    assert_events,
    assert_mirror_equals_truth,
    assert_state_consistent,
    expected_events,
    log_files,
    truth,
)

SYNC = ("sync", 0, 0, 0)  # a run; ("sync", 1, ...) is a run with a full permission sweep
numbers = st.integers(min_value=0, max_value=1 << 20)
changes = st.tuples(st.sampled_from(OPS), numbers, numbers, numbers)
runs = st.tuples(st.just("sync"), st.integers(0, 1), st.just(0), st.just(0))
steps = st.one_of(runs, changes, changes)  # two changes for one run, on average


def run_history(history: list[tuple[str, int, int, int]]) -> None:
    with tempfile.TemporaryDirectory(prefix="ms365sync-history-") as tmp:
        world = make_world(Path(tmp))
        mutator = Mutator(world.tenant, world.drive, max_size=64)
        before: dict[str, FileTruth] = {}
        logs: set[Path] = set()
        for op, a, b, c in [*history, SYNC]:
            if op != "sync":
                mutator.apply(op, a, b, c)
                continue
            # A change delta shows nothing of is reported by the next sweep: that run sweeps.
            sweep = PermissionPolicy("always" if a or mutator.unreported else "interval")
            mutator.unreported = False
            result = world.sync(force=True, permissions=sweep)
            assert result.ok and result.log is not None, result.error
            assert not result.log.errors, (mutator.applied, result.log.errors)
            after = truth(world.tenant, world.drive)
            new_logs = log_files(world.root) - logs
            assert_events(new_logs, expected_events(before, after))
            assert_mirror_equals_truth(world.tenant, world.drive, world.root)
            assert_state_consistent(world.root)
            before, logs = after, logs | new_logs


@settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=24))
def test_random_histories(history: list[tuple[str, int, int, int]]) -> None:
    run_history(history)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=60))
def test_random_histories_long(history: list[tuple[str, int, int, int]]) -> None:
    run_history(history)
