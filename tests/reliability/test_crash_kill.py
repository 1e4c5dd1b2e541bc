"""Crash consistency: kill -9 of a real `ms365sync` process at seeded points, then a rerun.

The test serves a tenant over HTTPS (with latency, so each phase lasts a while) and starts
`python -m ms365sync --config sites.toml -v --log-file L`. Each trial changes the tenant,
picks a phase (listing, permission reads, downloading, placing, committing, exporting),
waits for the line the engine logs when it enters that phase, waits a seeded moment more
and sends SIGKILL. A second process then runs to completion. Afterwards: no temporary or
parked file anywhere, the state store opens and its records are exactly the files on
disk, the mirror equals the export, and the change logs of the trial hold every change
event exactly once, with no spurious one.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ms365sync.emulator import Emulator, EmulatorConfig, LatencyConfig, synthetic_tenant
from ms365sync.emulator.cli import sites_toml
from ms365sync.state.store import StateStore
from support.changes import Mutator
from support.reliability import (
    FileTruth,
    Library,
    assert_events,
    assert_mirror_equals_export,
    assert_state_consistent,
    expected_events,
    libraries,
    start_sync,
    temp_leftovers,
    truth,
    wait_for_line,
)

# Changes between trials: mostly content and moves (long download and placing phases),
# some permission changes, and swapped names (the two-step rename).
TRIAL_OPS = (
    *("add", "add", "edit", "edit", "rename", "move", "delete", "swap"),
    *("grant", "revoke", "link", "break", "restore", "touch", "folder"),
)


@dataclass(frozen=True)
class Phase:
    name: str
    marker: str  # a substring of the debug line logged when the phase starts
    max_delay: float  # seconds after the marker within which the kill lands


PHASES = (
    Phase("listing", "/root/delta", 0.04),
    Phase("permissions", "reading the permissions of", 0.06),
    Phase("downloading", "fetching ", 0.1),
    Phase("placing", "placing files", 0.01),
    Phase("committing", "change log built", 0.005),
    Phase("exporting", "writing ", 0.02),
)


@dataclass
class CrashLab:
    """A served tenant, a target mirrored by child processes, and the trials' outcomes."""

    tmp: Path
    seed: int
    files: int = 400
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (phase, outcome)

    def __post_init__(self) -> None:
        self.tenant = synthetic_tenant(
            self.files, seed=self.seed, size_min=0, size_max=16384, unique_share=0.03
        )
        latency = LatencyConfig(8.0, 4.0)
        self.emulator = Emulator(self.tenant, EmulatorConfig(seed=self.seed, latency=latency))
        self.rng = random.Random(self.seed)

    def run(self, trials: int) -> None:
        with self.emulator.server(ca_bundle_path=self.tmp / "ca.pem") as server:
            config = self.tmp / "sites.toml"
            config.write_text(
                sites_toml(self.emulator, server.base_url, "ca.pem", "mirror"), "utf-8"
            )
            (library,) = libraries(self.tenant, self.tmp / "mirror")
            before: dict[str, FileTruth] = {}
            for trial in range(trials):
                before = self._trial(config, library, trial, before)

    def _trial(
        self, config: Path, library: Library, trial: int, before: dict[str, FileTruth]
    ) -> dict[str, FileTruth]:
        if trial:
            mutator = Mutator(self.tenant, library.drive, max_size=16384, prefix=f"t{trial}-")
            mutator.random(self.rng, 25, TRIAL_OPS)
        after = truth(self.tenant, library.drive)
        logs = library.logs()
        phase = PHASES[(self.seed + trial) % len(PHASES)]
        committed = last_run(library.local_root)
        outcome = self._killed_run(config, trial, phase)
        self.outcomes.append((phase.name, outcome + landing(library.local_root, committed)))
        self._complete(config, trial)
        where = f"trial {trial}, killed in {phase.name}: "
        assert temp_leftovers(library.local_root) == [], where
        assert not list(library.local_root.glob(".ms365sync/*corrupt*")), where
        assert_state_consistent(library.local_root)
        assert_mirror_equals_export(self.tenant, self.tmp / "mirror", self.tmp / "exports")
        assert_events(library.logs() - logs, expected_events(before, after))
        return after

    def _killed_run(self, config: Path, trial: int, phase: Phase) -> str:
        delay = self.rng.uniform(0.0, phase.max_delay)  # drawn first: the sequence is seeded
        log = self.tmp / "logs" / f"trial-{trial:03d}-killed.log"
        child = start_sync(config, log)
        try:
            if wait_for_line(log, phase.marker, child):
                time.sleep(delay)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=60)
        return "killed" if child.returncode == -signal.SIGKILL else f"exit {child.returncode}"

    def _complete(self, config: Path, trial: int) -> None:
        log = self.tmp / "logs" / f"trial-{trial:03d}-rerun.log"
        child = start_sync(config, log)
        code = child.wait(timeout=600)
        assert code == 0, log.with_suffix(".err").read_text(errors="replace")[-3000:]

    def killed_in(self) -> Counter[str]:
        return Counter(phase for phase, outcome in self.outcomes if outcome.startswith("killed"))

    def landings(self) -> Counter[str]:
        return Counter(outcome for _, outcome in self.outcomes)


def last_run(local_root: Path) -> str | None:
    """The id of the last run the state store committed (None: none yet)."""
    if not (local_root / ".ms365sync" / "state.db").exists():
        return None
    state = StateStore.snapshot(local_root / ".ms365sync")
    try:
        last = state.last_run()
        return None if last is None else last[0]
    finally:
        state.close()


def landing(local_root: Path, previous: str | None) -> str:
    """Where the kill landed, read from the state store: before the run's commit, after it
    with its exports pending, or after them."""
    if last_run(local_root) == previous:
        return " before commit"
    state = StateStore.snapshot(local_root / ".ms365sync")
    try:
        pending = state.pending_exports()
    finally:
        state.close()
    return " after commit, exports pending" if pending else " after exports"


def test_kill_9_at_seeded_points_then_rerun(tmp_path: Path) -> None:
    lab = CrashLab(tmp_path, seed=7, files=250)
    lab.run(trials=len(PHASES))
    assert sum(lab.killed_in().values()) >= 1, lab.outcomes  # the process was really killed


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("seed", [11, 12])
def test_kill_9_at_many_seeded_points_then_rerun(tmp_path: Path, seed: int) -> None:
    lab = CrashLab(tmp_path, seed=seed)
    lab.run(trials=30)
    killed = lab.killed_in()
    assert all(killed[phase.name] >= 1 for phase in PHASES), lab.outcomes
    landed = lab.landings()  # on both sides of the commit
    assert landed["killed before commit"] and landed["killed after commit, exports pending"]
