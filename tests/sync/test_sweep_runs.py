"""Sweeps inside a run: which kind a run makes, what it records, and what a failed one does."""

from __future__ import annotations

from pathlib import Path

from ms365sync.emulator import BytesContent, Role
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
    assert record.ru == 2 + (pages - 1) + 5 * reads  # graph-facts §9.2; later pages: a token
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


# ---------------------------------------------------------------------- missing marks


def test_a_round_without_the_roots_marks_keeps_the_known_roots(world: World) -> None:
    """SharePoint has sent delta without any `shared` facet (onedrive-api-docs #714, #1101):
    a file edited under a folder with its own permissions must keep that folder's."""
    never = PermissionPolicy("never")
    _run(world, never, 0.0)
    world.tenant.drop_shared_facets(world.drive)
    world.tenant.edit_file(world.drive, "Finance/q1.txt", BytesContent(b"q1 numbers, revised"))
    result = _run(world, never, HOUR)
    assert any("no permission-root marks" in note for note in result.counters.notes)
    assert result.log is not None
    assert set(result.log.changes.modified) == {"Finance/q1.txt"}
    assert not result.log.changes.permission_only_changes
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_a_structure_listing_without_marks_becomes_a_full_sweep(world: World) -> None:
    _run(world, PermissionPolicy("never"), 0.0)
    world.tenant.drop_shared_facets(world.drive)
    world.tenant.grant(world.drive, "Finance", ALICE, Role.READ)
    result = _run(world, PermissionPolicy("always"), HOUR)
    notes = result.counters.notes
    assert any("came without permission-root marks: a full sweep instead" in n for n in notes)
    assert _sweep_note(result).startswith("full permission sweep")
    assert result.log is not None
    assert set(result.log.changes.permission_only_changes) == {"Finance/q1.txt"}
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_an_unmarked_root_is_seen_by_a_full_sweep_only(world: World) -> None:
    """The kind of change a structure sweep cannot see (docs/rag.md): an item with
    permissions of its own that the service does not mark."""
    _run(world, PermissionPolicy("never"), 0.0)
    world.tenant.drop_shared_facets(world.drive, ["Plans/budget.csv"])
    world.tenant.grant(world.drive, "Plans/budget.csv", ALICE, Role.READ)
    for policy, now in ((PermissionPolicy("never"), HOUR), (PermissionPolicy("always"), 2 * HOUR)):
        missed = _run(world, policy, now)  # the next run, then a structure sweep
        assert missed.log is not None and not missed.log.has_changes
    caught = _run(world, PermissionPolicy("always", sweep="full"), 3 * HOUR)
    assert caught.log is not None
    entry = caught.log.changes.permission_only_changes["Plans/budget.csv"].permission_changes
    assert entry.added == ["Alice Jones:::View"]
    assert world.permissions_json()["Plans/budget.csv"] == world.expected_labels("Plans/budget.csv")
    # Once a full sweep found it, the file stays a root of its own for every later run.
    world.tenant.revoke(world.drive, "Plans/budget.csv", ALICE)
    later = _run(world, PermissionPolicy("always", sweep="structure"), 4 * HOUR)
    assert later.log is not None
    assert later.log.changes.permission_only_changes["Plans/budget.csv"].permission_changes.removed


def test_a_sweep_whose_reads_failed_is_done_and_the_next_run_retries_them(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    policy = PermissionPolicy("interval", HOUR)
    _run(world, policy, 0.0)
    world.faults("500=1.0,scope=permissions")
    swept = _run(world, policy, HOUR)  # every read fails past its retries
    world.faults("")
    assert "of the reads failed and are retried next run" in _sweep_note(swept)
    assert swept.log is not None and swept.log.errors  # its files: "permissions unread"
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None and meta.last_sweep == HOUR and meta.permission_retry
    world.recorder.reset()
    retried = _run(world, policy, HOUR + 60)  # no sweep due: the failed reads again
    assert not any(" permission sweep: " in note for note in retried.counters.notes)
    read = {url.split("/items/")[1].split("/")[0] for url in world.recorder.permission_reads()}
    assert read == set(meta.permission_retry)
    assert retried.log is not None and not retried.log.errors
    assert world.permissions_json() == {p: world.expected_labels(p) for p in world.remote_files()}
