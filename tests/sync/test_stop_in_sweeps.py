"""A stop during a permission sweep: the structure listing ends between pages and the run
records nothing; during the permission reads the run commits what it read; either way the
next run reports the change, once."""

from __future__ import annotations

from pathlib import Path

from ms365sync.emulator import Role
from ms365sync.state.store import StateStore
from ms365sync.sync.result import SyncResult
from ms365sync.sync.stop import Stop
from ms365sync.sync.syncer import Syncer
from ms365sync.target import PermissionPolicy
from support.harness import Call, World, add_many, make_world, once

ALICE = "user:alice@contoso.onmicrosoft.com"
ALWAYS = PermissionPolicy("always")


def _sync(
    world: World, policy: PermissionPolicy, now: float, stop: Stop | None = None
) -> SyncResult:
    with world.client() as client:
        syncer = Syncer(world.spec(permissions=policy), client, clock=lambda: now, stop=stop)
        return syncer.sync()


def _meta(world: World) -> tuple[str | None, float | None]:
    meta = StateStore.read_meta(world.root / ".ms365sync")
    assert meta is not None
    return meta.delta_link, meta.last_sweep


def _stopped_then_done(world: World, condition: object, *, records_nothing: bool) -> None:
    """A run stopped where `condition` first holds, then a plain one: the grant is
    reported exactly once over both, and the permissions end right."""
    before = _meta(world)
    logs = world.logs()
    stop = Stop(grace=0.0)
    world.recorder.reactions.append(once(condition, lambda: stop.request("SIGTERM")))  # type: ignore[arg-type]
    stopped = _sync(world, ALWAYS, 2000.0, stop)
    world.recorder.reactions.clear()
    assert stopped.ok and stopped.interrupted
    if records_nothing:
        assert _meta(world) == before and world.logs() == logs
    after = _sync(world, ALWAYS, 3000.0)
    assert after.ok and not after.interrupted
    reported = [
        path
        for result in (stopped, after)
        if result.log is not None
        for path in result.log.changes.permission_only_changes
    ]
    assert reported == ["readme.md"]
    assert world.permissions_json()["readme.md"] == world.expected_labels("readme.md")
    quiet = _sync(world, ALWAYS, 4000.0)
    assert quiet.log is None or not quiet.log.has_changes


def _is_structure_page(call: Call) -> bool:
    """A page of the structure listing (its $select, sent with the first page only, or a
    nextLink that repeats it)."""
    selected = "root%2Cshared%2Cdeleted" in call.url or "root,shared,deleted" in call.url
    return call.is_delta and call.status == 200 and selected


def _is_permission_batch(call: Call) -> bool:
    return call.url.endswith("/$batch") and call.status == 200


def test_a_stop_during_the_structure_listing_records_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=2)  # a listing of several pages
    assert _sync(world, PermissionPolicy("never"), 1000.0).ok
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    _stopped_then_done(world, _is_structure_page, records_nothing=True)


def test_a_stop_during_the_sweeps_permission_reads_leaves_the_change_to_the_next_run(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    add_many(world, 60)  # several $batch posts
    assert _sync(world, PermissionPolicy("never"), 1000.0).ok
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    # The reads under way finish (the grace is over only between reads): the run commits
    # what it read and leaves the change it did not apply to the next run.
    _stopped_then_done(world, _is_permission_batch, records_nothing=False)
