"""Dry runs: the change log a real run would write (every kind of change, filters, a symbolic
link in the way, the max-delete guard), with nothing touched on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

from ms365sync.emulator import BytesContent, Role
from ms365sync.errors import SafetyError
from ms365sync.sync.result import SyncResult
from ms365sync.target import Filters
from support.harness import FIRST_FILES, World, tree_snapshot


def _dry_then_real(world: World, **options: object) -> tuple[SyncResult, SyncResult]:
    before = tree_snapshot(world.root)
    world.recorder.reset()
    dry = world.ok(dry_run=True, **options)
    assert tree_snapshot(world.root) == before  # nothing on disk, .ms365sync included
    assert world.recorder.downloads(status=None) == []
    assert dry.log_path is None and dry.log is not None and dry.log.dry_run
    real = world.ok(**options)
    assert real.log is not None
    assert dry.log.changes == real.log.changes
    assert dry.log.errors == real.log.errors
    assert dry.log.repairs == real.log.repairs
    assert dry.log.summary == real.log.summary
    return dry, real


def test_dry_run_of_a_first_sync(world: World) -> None:
    _dry, real = _dry_then_real(world)
    assert real.log is not None and set(real.log.changes.added) == set(FIRST_FILES)


def test_dry_run_touches_nothing_on_a_fresh_target(world: World) -> None:
    world.ok(dry_run=True)
    assert not world.root.exists()


def test_dry_run_of_every_kind_of_change(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.add_file(d, "Plans/new.txt", BytesContent(b"new"))
    t.edit_file(d, "readme.md", BytesContent(b"# v2\n"))
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    t.grant(d, "Finance", "user:alice@contoso.onmicrosoft.com", Role.READ)
    t.delete(d, "Plans/2026")
    t.add_file(d, "blocked.txt", BytesContent(b"remote"))
    data = world.root / "data"
    (data / "blocked.txt").write_text("someone else's")  # in the way: an error in both runs
    (data / "Finance" / "q1.txt").write_text("local edit")  # a repair
    _dry, real = _dry_then_real(world)
    log = real.log
    assert log is not None
    assert set(log.changes.added) == {"Plans/new.txt", "Plans/budget-2026.csv"}
    assert set(log.changes.deleted) == {"Plans/budget.csv", "Plans/2026/plan.txt"}
    assert set(log.changes.modified) == {"readme.md"}
    assert set(log.changes.permission_only_changes) == {"Finance/q1.txt"}
    assert set(log.errors) == {"blocked.txt"} and set(log.repairs) == {"Finance/q1.txt"}


def test_dry_run_with_a_symlink_in_the_way(world: World, tmp_path: Path) -> None:
    world.ok()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = world.root / "data"
    shutil.rmtree(data / "Plans")
    (data / "Plans").symlink_to(elsewhere, target_is_directory=True)
    world.tenant.add_file(world.drive, "Plans/new.txt", BytesContent(b"n"))
    world.tenant.delete(world.drive, "Plans/budget.csv")
    _dry, real = _dry_then_real(world)
    assert real.log is not None and "Plans/new.txt" in real.log.errors
    assert list(elsewhere.iterdir()) == []


def test_dry_run_of_a_filter_change(world: World) -> None:
    world.ok()
    _dry, real = _dry_then_real(world, filters=Filters(exclude=("*.md",)))
    assert real.log is not None and set(real.log.changes.deleted) == {"readme.md"}


def test_dry_run_goes_past_the_guard_and_says_the_real_run_would_stop(world: World) -> None:
    world.ok()
    for path in ("readme.md", "Plans", "Finance"):
        world.tenant.delete(world.drive, path)
    before = tree_snapshot(world.root)
    dry = world.ok(dry_run=True)
    assert isinstance(dry.refused, SafetyError) and dry.error is None
    assert dry.log is not None and len(dry.log.changes.deleted) == len(FIRST_FILES)
    assert tree_snapshot(world.root) == before
    assert isinstance(world.sync().error, SafetyError)
    assert world.data() == FIRST_FILES
    forced = world.ok(dry_run=True, force=True)
    assert forced.log is not None and len(forced.log.changes.deleted) == len(FIRST_FILES)
    assert forced.refused is None and world.data() == FIRST_FILES
