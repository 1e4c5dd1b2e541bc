"""Renames and moves, recognised by item id: the file is moved on disk, not downloaded again,
and the change log pairs the old path with the new one; a move with new content is downloaded
once, and one whose content fails stays where it was."""

from __future__ import annotations

from ms365sync.emulator import BytesContent
from support.harness import FIRST_FILES, World


def test_renames_and_moves_are_recognised_by_id(world: World) -> None:
    world.ok()
    before_ino = (world.root / "data" / "Plans/budget.csv").stat().st_ino
    t, d = world.tenant, world.drive
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    t.move(d, "Plans/2026", "Finance")  # a folder: its file moves with it
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None
    assert world.recorder.downloads(status=None) == []
    assert set(log.changes.added) == {"Plans/budget-2026.csv", "Finance/2026/plan.txt"}
    assert set(log.changes.deleted) == {"Plans/budget.csv", "Plans/2026/plan.txt"}
    added = log.changes.added["Plans/budget-2026.csv"]
    assert added.moved_from == "Plans/budget.csv"
    gone = log.changes.deleted["Plans/budget.csv"]
    assert gone.reason == "moved" and gone.moved_to == "Plans/budget-2026.csv"
    assert added.permissions == gone.permissions
    assert (world.root / "data" / "Plans/budget-2026.csv").stat().st_ino == before_ino
    assert world.data() == world.remote_files()
    assert not (world.root / "data" / "Plans" / "2026").exists()
    assert set(world.permissions_json()) == set(world.remote_files())


def test_swapped_names_are_moved_not_downloaded(world: World) -> None:
    t, d = world.tenant, world.drive
    t.add_file(d, "a.txt", BytesContent(b"content of a"))
    t.add_file(d, "b.txt", BytesContent(b"content of b"))
    world.ok()
    t.rename(d, "a.txt", "tmp.txt")
    t.rename(d, "b.txt", "a.txt")
    t.rename(d, "tmp.txt", "b.txt")
    world.recorder.reset()
    result = world.ok()
    assert world.recorder.downloads(status=None) == []
    assert world.data()["a.txt"] == b"content of b"
    assert world.data()["b.txt"] == b"content of a"
    assert result.log is not None
    assert result.log.changes.added["a.txt"].moved_from == "b.txt"
    assert result.log.changes.added["b.txt"].moved_from == "a.txt"


def test_move_with_new_content_is_downloaded_once(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.move(d, "readme.md", "Plans", "README.md")
    t.edit_file(d, "Plans/README.md", BytesContent(b"moved and edited"))
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None
    assert result.log.changes.added["Plans/README.md"].moved_from == "readme.md"
    assert len(world.recorder.downloads()) == 1
    assert world.data()["Plans/README.md"] == b"moved and edited"
    assert "readme.md" not in world.data()


def test_move_whose_new_content_fails_stays_put(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.move(d, "readme.md", "Plans", "README.md")
    t.edit_file(d, "Plans/README.md", BytesContent(b"moved and edited"))
    world.faults("truncate=1.0,scope=download")
    failing = world.ok()
    assert failing.log is not None
    assert "Plans/README.md" in failing.log.errors
    assert not failing.log.changes.added and not failing.log.changes.deleted
    assert world.data()["readme.md"] == FIRST_FILES["readme.md"]  # old copy untouched
    assert "Plans/README.md" not in world.data()
    world.faults("")
    fixed = world.ok()
    assert fixed.log is not None
    assert fixed.log.changes.added["Plans/README.md"].moved_from == "readme.md"
    assert set(fixed.log.changes.deleted) == {"readme.md"}
    assert world.data() == world.remote_files()
