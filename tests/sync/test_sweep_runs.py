"""Sweeps inside a run: which kind a run makes, what it records, and what a failed one does."""

from __future__ import annotations

from pathlib import Path

from ms365sync.emulator import Role
from ms365sync.state.store import StateStore
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from ms365sync.target import PermissionPolicy
from support.harness import Call, World, make_world, once

ALICE = "user:alice@contoso.onmicrosoft.com"
HOUR = 3600.0


def _run(world: World, policy: PermissionPolicy, now: float, **spec: object) -> SyncResult:
    with world.client(max_attempts=2) as client:
        result = Syncer(world.spec(permissions=policy, **spec), client, clock=lambda: now).sync()
    assert result.ok, result.error
    return result


def _sweeps(world: World) -> list[tuple[float, str]]:
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None
    return [(r.at, r.kind) for r in meta.sweeps]


def _sweep_note(result: SyncResult) -> str:
    (note,) = [n for n in result.counters.notes if "permission sweep:" in n]
    return note


def test_structure_mode_makes_a_full_sweep_when_its_own_cadence_says_so(world: World) -> None:
    policy = PermissionPolicy("interval", HOUR, sweep="structure", full_interval_s=10 * HOUR)
    _run(world, policy, 0.0)  # the first listing counts as a sweep of either kind
    _run(world, policy, HOUR)
    _run(world, policy, 2 * HOUR)
    world.recorder.reset()
    full = _run(world, policy, 10 * HOUR)
    assert _sweep_note(full).startswith("full permission sweep: read the permissions of")
    assert _sweeps(world) == [(HOUR, "structure"), (2 * HOUR, "structure"), (10 * HOUR, "full")]
    files = len(world.remote_files())
    assert len(world.recorder.permission_reads()) >= files
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None and meta.last_full_sweep == meta.last_sweep == 10 * HOUR


def test_a_sweep_records_what_it_cost(world: World) -> None:
    always = PermissionPolicy("always")
    _run(world, PermissionPolicy("never"), 0.0)
    world.recorder.reset()
    swept = _run(world, always, HOUR)
    reads = len(world.recorder.permission_reads())
    pages = len([c for c in world.recorder.calls if c.is_delta and "token=" not in c.url])
    assert pages >= 1 and reads >= 1
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None
    (record,) = meta.sweeps
    assert record.ru == 2 * pages + 5 * reads  # graph-facts §9.2
    assert f"about {record.ru:,.0f} RU" in _sweep_note(swept)
    # The estimate the coordinator plans with is the same arithmetic on the tree.
    assert meta.sweep_estimates["structure"] == record.ru


def test_without_hierarchical_hints_a_structure_sweep_is_a_full_one(world: World) -> None:
    policy = PermissionPolicy("always", sweep="structure")
    _run(world, policy, 0.0, prefer_sharing=False)
    result = _run(world, policy, HOUR, prefer_sharing=False)
    assert any("a full sweep instead of a structure sweep" in n for n in result.counters.notes)
    assert _sweeps(world)[-1] == (HOUR, "full")


def test_a_failed_structure_enumeration_leaves_the_sweep_for_the_next_run(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    policy = PermissionPolicy("interval", HOUR)
    _run(world, policy, 0.0)
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)

    def after_the_listing(call: Call) -> bool:  # the incremental round carries a token
        return call.is_delta and call.status == 200 and "token=" in call.url

    world.recorder.reactions.append(
        once(after_the_listing, lambda: world.faults("500=1.0,scope=delta"))
    )
    failed_sweep = _run(world, policy, HOUR)
    world.faults("")
    notes = failed_sweep.counters.notes
    assert any(n.startswith("structure sweep left for the next run:") for n in notes)
    # The run's own work was done: the grant delta reported is in its log.
    assert failed_sweep.log is not None
    assert "readme.md" in failed_sweep.log.changes.permission_only_changes
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None and meta.last_sweep == 0.0 and not meta.sweeps
    retried = _run(world, policy, HOUR + 60)
    assert _sweep_note(retried).startswith("structure permission sweep")
    assert _sweeps(world) == [(HOUR + 60, "structure")]
