"""The fault soak: syncs under heavy fault injection finish, and nothing is lost or repeated.

The emulator injects, at 10 % of requests each, 429s (also inside $batch), 503s, dropped
connections, truncated bodies, expired download URLs and 410s in delta rounds, and revokes
an access token now and then; on top, every round's first run sees the emulator's clock
jump past the token lifetime in the middle of its downloads (the token expires mid-run) and
a 410 in the middle of its first multi-page delta round. Between rounds the tenant changes.
Each round runs until one run is clean (bounded), then the mirror must be byte-identical
to the export, .permissions.json must equal the tenant's truth, and the logs of the
round's runs together must hold exactly the round's net change events, each once.

Fault decisions are seeded per request (method, URL, body and occurrence); which requests
a run makes still varies a little with thread timing and time-stamped delta tokens, so
every assertion holds for any interleaving.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ms365sync.emulator import (
    Emulator,
    EmulatorConfig,
    FaultConfig,
    Tenant,
    load_demo_tenant,
    synthetic_tenant,
)
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from ms365sync.target import PermissionPolicy, TargetSpec
from support.changes import Mutator
from support.harness import Call, Recorder, once
from support.reliability import (
    FileTruth,
    Library,
    VirtualTime,
    assert_events,
    assert_mirror_equals_export,
    assert_state_consistent,
    expected_events,
    in_packages,
    libraries,
    make_client,
    temp_leftovers,
    truth,
)

FAULTS = (
    "429=0.1,503=0.1,drop=0.1,truncate=0.1,expire-url=0.1,expire-token=0.02,resync=0.1,"
    "retry-after=1"
)
PERMISSIONS_FAIL = FaultConfig.parse("500=1,scope=permissions")
MAX_RUNS_PER_ROUND = 8
TOKEN_LIFETIME_JUMP = 3700.0  # past the 3599 s access-token lifetime


@dataclass
class Soak:
    """A tenant under faults, its mirror, and the truth as of the last clean run."""

    tenant: Tenant
    seed: int
    tmp: Path
    page_size: int
    first_sweep: PermissionPolicy = field(default_factory=PermissionPolicy)  # the first run's
    recorder: Recorder = field(default_factory=Recorder)

    def __post_init__(self) -> None:
        config = EmulatorConfig(seed=self.seed, faults=FaultConfig.parse(FAULTS))
        self.emulator = Emulator(self.tenant, config)
        self.mirror = self.tmp / "mirror"
        self.libraries = libraries(self.tenant, self.mirror)
        self.before: dict[str, dict[str, FileTruth]] = {lib.name: {} for lib in self.libraries}
        self.time = VirtualTime()
        self.runs: list[list[SyncResult]] = []
        self.sweeping: set[str] = set()  # libraries whose runs this round sweep

    def round(self, rng: random.Random, changes_per_library: int) -> None:
        """Change the tenant, run until clean, and check everything."""
        self.sweeping = set()
        for lib in self.libraries:
            mutator = Mutator(self.tenant, lib.drive, prefix=f"r{len(self.runs)}-")
            mutator.random(rng, changes_per_library)
            if mutator.unreported:  # a change delta shows nothing of: the next sweep reports it
                self.sweeping.add(lib.name)
        after = {lib.name: truth(self.tenant, lib.drive) for lib in self.libraries}
        packaged = {lib.name: in_packages(self.tenant, lib.drive) for lib in self.libraries}
        logs_before = {lib.name: lib.logs() for lib in self.libraries}
        for attempt in range(MAX_RUNS_PER_ROUND):
            if self._run(disturb=attempt == 0):
                break
        else:
            pytest.fail(f"no clean run in {MAX_RUNS_PER_ROUND}: {self._last_problems()}")
        for lib in self.libraries:
            new_logs = lib.logs() - logs_before[lib.name]
            expected = expected_events(self.before[lib.name], after[lib.name], packaged[lib.name])
            assert_events(new_logs, expected)
            assert temp_leftovers(lib.local_root) == []
            assert_state_consistent(lib.local_root)
        assert_mirror_equals_export(self.tenant, self.mirror, self.tmp / "exports")
        self.before = after

    def _run(self, *, disturb: bool) -> bool:
        """One run over every library with a new client; whether it was clean."""
        self.emulator.app.faults.configure(FaultConfig.parse(FAULTS))
        self.recorder.reactions[:] = self._disturbances() if disturb else []
        results = []
        with make_client(self.emulator, recorder=self.recorder, gate=self.time.gate()) as client:
            for lib in self.libraries:
                result = Syncer(self._spec(lib), client).sync(force=True)
                if any(" permission sweep: " in note for note in result.counters.notes):
                    self.sweeping.discard(lib.name)  # one complete sweep per round will do
                results.append(result)
        self.runs.append(results)
        return all(r.ok and r.log is not None and not r.log.errors for r in results)

    def _spec(self, lib: Library) -> TargetSpec:
        policy = self.first_sweep if not self.runs else PermissionPolicy()
        if lib.name in self.sweeping:
            policy = PermissionPolicy("always")
        return lib.spec(page_size=self.page_size, permissions=policy)

    def _disturbances(self) -> list[Callable[[Call], None]]:
        clock, tenant = self.emulator.clock, self.tenant
        second_page = _nth(2, lambda c: c.is_delta and c.status == 200)
        faults = self.emulator.app.faults
        return [
            once(lambda c: c.is_download, lambda: clock.advance(TOKEN_LIFETIME_JUMP)),
            once(second_page, lambda: [tenant.request_resync(d.drive) for d in self.libraries]),
            # From the first delta page to the first download, every permission read fails
            # past all retries (the other faults pause meanwhile): the files they cover
            # must be reported as errors now and mirrored by a later run.
            once(_first_page, lambda: faults.configure(PERMISSIONS_FAIL)),
            once(lambda c: c.is_download, lambda: faults.configure(FaultConfig.parse(FAULTS))),
        ]

    def _last_problems(self) -> list[str]:
        return self._problems(self.runs[-1])

    @staticmethod
    def _problems(results: list[SyncResult]) -> list[str]:
        problems = []
        for result in results:
            if not result.ok:
                problems.append(f"{result.target}: {result.error}")
            elif result.log is not None and result.log.errors:
                problems.append(f"{result.target}: {len(result.log.errors)} file errors")
        return problems

    def assert_every_fault_happened(self) -> None:
        stats = self.emulator.app.faults.stats()
        wanted = ("429", "503", "drop", "truncate", "expire-url", "expire-token")
        assert all(stats[kind] > 0 for kind in wanted), stats
        calls = self.recorder.calls
        assert any(status == 429 for c in calls for _, status in c.batch_results)
        # A 410 is forced in the middle of each round's first multi-page listing (those
        # injected at random may miss the few pages of an incremental round).
        assert any(c.is_delta and c.status == 410 for c in calls)
        assert sum(1 for c in calls if c.path.endswith("/oauth2/v2.0/token")) > len(self.runs)

    def assert_some_run_was_retried(self, rounds: int) -> None:
        """Some round needed more than one run: what failed was reported by a later one."""
        assert len(self.runs) > rounds, [self._problems(run) for run in self.runs]


def _first_page(call: Call) -> bool:
    return call.is_delta and call.status == 200


def _nth(count: int, condition: Callable[[Call], bool]) -> Callable[[Call], bool]:
    seen = 0

    def matches(call: Call) -> bool:
        nonlocal seen
        if condition(call):
            seen += 1
        return seen >= count

    return matches


def _demo(tmp: Path, seed: int) -> Soak:
    # The demo's libraries are small: pages of 4 make rounds long enough for a 410 inside,
    # and a first run that sweeps puts every file's permission read through $batch.
    sweep = PermissionPolicy("always")
    return Soak(load_demo_tenant(), seed, tmp, page_size=4, first_sweep=sweep)


def _synthetic(tmp: Path, seed: int) -> Soak:
    tenant = synthetic_tenant(2000, seed=seed, size_min=0, size_max=4096, unique_share=0.03)
    # Pages of 200: a full listing is ten pages, each answering 410 one time in ten, and a
    # run restarts a listing three times at most before it gives up until the next run.
    return Soak(tenant, seed, tmp, page_size=200, first_sweep=PermissionPolicy("always"))


def _soak(soak: Soak, seed: int, rounds: int, changes: int) -> None:
    rng = random.Random(seed)
    for number in range(rounds):
        soak.round(rng, 0 if number == 0 else changes)
    soak.assert_every_fault_happened()
    soak.assert_some_run_was_retried(rounds)


@pytest.mark.parametrize("seed", [1, 2])
def test_demo_tenant_under_faults(tmp_path: Path, seed: int) -> None:
    _soak(_demo(tmp_path, seed), seed, rounds=3, changes=6)


@pytest.mark.parametrize("seed", [1])
def test_synthetic_2000_files_under_faults(tmp_path: Path, seed: int) -> None:
    _soak(_synthetic(tmp_path, seed), seed, rounds=2, changes=60)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seed", range(100, 112))
def test_demo_tenant_under_faults_long(tmp_path: Path, seed: int) -> None:
    _soak(_demo(tmp_path, seed), seed, rounds=8, changes=10)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seed", range(200, 206))
def test_synthetic_2000_files_under_faults_long(tmp_path: Path, seed: int) -> None:
    _soak(_synthetic(tmp_path, seed), seed, rounds=5, changes=150)
