"""Local safety: untracked local files are left alone (or adopted when identical), local edits
and deletions are repaired, and nothing is written through a symbolic link, over a folder in
the way, or outside data/ whatever the remote names."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent
from ms365sync.localfs.mirror import Mirror
from ms365sync.models import key_names
from support.harness import FIRST_FILES, World, make_world, tree_snapshot


def test_untracked_local_files_are_left_alone_and_counted(world: World) -> None:
    world.ok()
    data = world.root / "data"
    (data / "Plans" / "my-notes.txt").write_text("mine")
    (data / "scratch").mkdir()
    (data / "scratch" / "draft.md").write_text("draft")
    world.tenant.delete(world.drive, "Plans")
    result = world.ok()
    assert result.log is not None
    assert set(result.log.changes.deleted) == {"Plans/2026/plan.txt", "Plans/budget.csv"}
    assert (data / "Plans" / "my-notes.txt").read_text() == "mine"
    assert (data / "scratch" / "draft.md").read_text() == "draft"
    assert result.log.summary.untracked_local_files == 2
    assert result.counters.untracked_local_files == 2
    assert "Plans/my-notes.txt" not in world.permissions_json()


def test_untracked_file_in_the_way_of_a_new_remote_file(world: World) -> None:
    world.ok()
    mine = world.root / "data" / "Plans" / "new.txt"
    mine.write_text("my own work")
    world.tenant.add_file(world.drive, "Plans/new.txt", BytesContent(b"remote"))
    result = world.ok()
    assert result.log is not None
    assert mine.read_text() == "my own work"
    assert "Plans/new.txt" in result.log.errors
    assert "Plans/new.txt" not in result.log.changes.added
    mine.unlink()
    fixed = world.ok()
    assert fixed.log is not None and set(fixed.log.changes.added) == {"Plans/new.txt"}
    assert mine.read_text() == "remote"


def test_untracked_file_with_the_same_content_is_adopted(world: World) -> None:
    world.ok()
    (world.root / "data" / "same.txt").write_bytes(b"identical")
    world.tenant.add_file(world.drive, "same.txt", BytesContent(b"identical"))
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None and set(result.log.changes.added) == {"same.txt"}
    assert world.recorder.downloads() == []


def test_local_edits_and_deletions_are_repaired(world: World) -> None:
    world.ok()
    data = world.root / "data"
    (data / "readme.md").write_bytes(b"local scribble")
    (data / "Plans" / "budget.csv").unlink()
    os.utime(data / "Finance" / "q1.txt", ns=(1, 1))  # only the time changed
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None
    assert not log.has_changes  # not remote changes
    assert set(log.repairs) == {"readme.md", "Plans/budget.csv", "Finance/q1.txt"}
    assert result.log_path is not None  # the repairs are logged
    assert world.data() == FIRST_FILES
    assert len(world.recorder.downloads()) == 2  # the unchanged bytes were not fetched
    mtime = (data / "Finance" / "q1.txt").stat().st_mtime_ns
    assert mtime == int(world.tenant.item(world.drive, "Finance/q1.txt").modified) * 10**9
    quiet = world.ok()
    assert quiet.log is not None and not quiet.log.repairs


def _hostile_world(tmp_path: Path) -> World:
    world = make_world(tmp_path, strict_names=False)
    t, d = world.tenant, world.drive
    t.add_file(d, ["a/b"], BytesContent(b"slash"))
    t.add_file(d, ["dots", ".."], BytesContent(b"dotdot"))
    t.add_file(d, ["..", "evil.txt"], BytesContent(b"escape?"))
    t.add_file(d, ["CON"], BytesContent(b"device"))
    t.add_file(d, ["x\x00y"], BytesContent(b"nul"))
    t.add_file(d, ["x\ny.txt"], BytesContent(b"newline"))
    t.add_file(d, ["Report.txt"], BytesContent(b"upper"))
    t.add_file(d, ["report.txt"], BytesContent(b"lower"))
    t.add_file(d, ["n" * 300 + ".txt"], BytesContent(b"long"))
    t.add_file(d, ["deep", *(["d" * 250] * 20), "f.txt"], BytesContent(b"deep"))
    return world


def test_hostile_names_never_escape_data(tmp_path: Path) -> None:
    world = _hostile_world(tmp_path)
    outside = tree_snapshot(tmp_path)
    result = world.ok()
    log = result.log
    assert log is not None
    after = tree_snapshot(tmp_path)
    new_outside = {k for k in after if k not in outside and k.split("/")[0] != "target"}
    assert new_outside == set()
    data = (world.root / "data").resolve()
    for path in (world.root / "data").rglob("*"):
        assert path.resolve().is_relative_to(data)
        assert "\x00" not in path.name and "/" not in path.name
    # Every hostile file is either mapped (mirrored under a safe name) or reported.
    mirrored = set(log.changes.added)
    reported = set(log.errors)
    hostile = {"a\\/b", "dots/..", "../evil.txt", "CON", "x\x00y", "x\ny.txt", "n" * 300 + ".txt"}
    assert hostile <= mirrored | reported
    assert {"Report.txt", "report.txt"} & reported  # same local name on Windows and macOS
    assert len({"Report.txt", "report.txt"} & mirrored) == 1
    deep = next(p for p in reported if p.startswith("deep/"))
    assert "too deep" in log.errors[deep].reason
    for key in mirrored:
        entry = log.changes.added[key]
        on_disk = Path(entry.file_path)
        assert on_disk.resolve().is_relative_to(data)
        remote = world.tenant.item(world.drive, key_names(key)).content
        assert remote is not None and on_disk.read_bytes() == remote.read_all()
    assert log.changes.added["CON"].file_path != str(world.root / "data" / "CON")
    again = world.ok()
    assert again.log is not None and not again.log.has_changes


def test_symlink_in_data_is_never_followed(world: World, tmp_path: Path) -> None:
    world.ok()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = world.root / "data"
    shutil.rmtree(data / "Plans")
    (data / "Plans").symlink_to(elsewhere, target_is_directory=True)
    world.tenant.add_file(world.drive, "Plans/new.txt", BytesContent(b"n"))
    world.tenant.add_file(world.drive, "elsewhere.txt", BytesContent(b"e"))
    result = world.ok()
    assert list(elsewhere.iterdir()) == []
    assert (data / "Plans").is_symlink()
    log = result.log
    assert log is not None
    # Only the files behind the link fail; the rest of the target goes on.
    assert {"Plans/new.txt", "Plans/budget.csv", "Plans/2026/plan.txt"} <= set(log.errors)
    assert set(log.changes.added) == {"elsewhere.txt"}
    assert "symbolic link" in log.errors["Plans/new.txt"].reason


def test_folder_in_the_way_of_a_file(world: World) -> None:
    world.ok()
    (world.root / "data" / "new.txt").mkdir()
    (world.root / "data" / "new.txt" / "keep.me").write_text("mine")
    world.tenant.add_file(world.drive, "new.txt", BytesContent(b"n"))
    world.tenant.add_file(world.drive, "other.txt", BytesContent(b"o"))
    result = world.ok()
    assert result.log is not None
    assert "new.txt" in result.log.errors
    assert set(result.log.changes.added) == {"other.txt"}
    assert (world.root / "data" / "new.txt" / "keep.me").read_text() == "mine"


@pytest.mark.parametrize("own", [".ms365sync", "sync_logs", ".permissions.json"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_symlink_in_place_of_the_targets_own_files_is_refused(
    world: World, tmp_path: Path, own: str, dry_run: bool
) -> None:
    """The state store, the lock, the change logs and the exports are never read or written
    through a link to somewhere else: the target fails with one clear error, and nothing
    appears behind the link."""
    world.ok()
    world.tenant.add_file(world.drive, "later.txt", BytesContent(b"l"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    place = world.root / own
    if place.is_dir():
        shutil.rmtree(place)
    else:
        place.unlink()
    place.symlink_to(elsewhere, target_is_directory=True)
    before = tree_snapshot(tmp_path)
    result = world.sync(dry_run=dry_run)
    assert not result.ok and result.error is not None
    assert "symbolic link" in str(result.error) and own in str(result.error)
    assert list(elsewhere.iterdir()) == []
    assert tree_snapshot(tmp_path) == before


@pytest.mark.parametrize("changed", [False, True], ids=["unchanged", "changed-remotely"])
def test_a_fifo_in_place_of_a_mirrored_file_fails_that_file_only(
    world: World, changed: bool
) -> None:
    """A FIFO (or socket, or device node) where a mirrored file was is treated like a folder
    in a file's place: that one file fails with its reason, nothing opens the FIFO, and the
    rest of the run goes on and is reported."""
    world.ok()
    place = world.root / "data" / "readme.md"
    place.unlink()
    os.mkfifo(place)
    if changed:
        world.tenant.edit_file(world.drive, "readme.md", BytesContent(b"v2"))
    world.tenant.add_file(world.drive, "other.txt", BytesContent(b"o"))
    result = world.ok()
    assert result.log is not None
    assert "readme.md" in result.log.errors
    assert "not a regular file" in result.log.errors["readme.md"].reason
    assert set(result.log.changes.added) == {"other.txt"}
    assert stat.S_ISFIFO(place.lstat().st_mode)  # someone else's: left as it is


def test_a_users_file_named_like_a_temporary_file_is_never_removed(world: World) -> None:
    """Only the temporary files a run recorded before creating them are cleaned up by the
    next run: a file of the user's that merely looks like one of ours stays, in data/ and
    beside the exports, while a killed run's own leftovers are still removed."""
    world.ok()
    root, data = world.root, world.root / "data"
    lookalikes = [
        data / "Plans" / ".notes.ms365sync-abcd1234.part",
        data / ".readme.md.ms365sync-zzzz9999.part",
        root / "sync_logs" / ".mine.json.ms365sync-abcd1234.part",
        root / "..permissions.json.ms365sync-abcd1234.part",
    ]
    for path in lookalikes:
        path.write_text("my notes")
    killed = Mirror(root)
    leftover = killed.open_temp("Plans/budget.csv")  # as a killed download leaves it
    leftover.write(b"partial")
    leftover.file.close()
    killed.close()
    world.tenant.add_file(world.drive, "later.txt", BytesContent(b"l"))
    result = world.ok()
    assert result.log is not None and set(result.log.changes.added) == {"later.txt"}
    assert "removed 1 temporary files of a killed run" in result.counters.notes
    assert not leftover.path.exists()
    assert all(path.read_text() == "my notes" for path in lookalikes)
    world.ok()
    assert all(path.read_text() == "my notes" for path in lookalikes)


def test_a_timestamp_repair_never_reaches_through_a_hard_link(world: World, tmp_path: Path) -> None:
    """A mirrored file swapped for a hard link to a file elsewhere with the same bytes (or
    hard-linked from elsewhere after it was placed): setting its time would change the file
    outside too. The mirror sets times in place only on the very file it placed (same inode
    as recorded, no other link); otherwise it places a copy of its own."""
    world.ok()
    data = world.root / "data"
    swapped, linked, owned = (
        data / "readme.md",
        data / "Finance" / "q1.txt",
        data / "Plans" / "budget.csv",
    )
    outside = tmp_path / "outside.md"
    outside.write_bytes(swapped.read_bytes())
    os.utime(outside, ns=(10**9, 10**9))
    swapped.unlink()
    os.link(outside, swapped)
    elsewhere = tmp_path / "my-link-to-q1.txt"
    os.link(linked, elsewhere)
    os.utime(elsewhere, ns=(2 * 10**9, 2 * 10**9))  # the time of both names: a repair is due
    inode = owned.stat().st_ino
    os.utime(owned, ns=(3 * 10**9, 3 * 10**9))  # only the time changed, on the mirror's own file
    result = world.ok()
    assert result.log is not None
    assert set(result.log.repairs) == {"readme.md", "Finance/q1.txt", "Plans/budget.csv"}
    assert outside.stat().st_mtime_ns == 10**9 and elsewhere.stat().st_mtime_ns == 2 * 10**9
    for path in (swapped, linked):
        assert path.stat().st_nlink == 1
    assert swapped.read_bytes() == outside.read_bytes()
    assert linked.read_bytes() == elsewhere.read_bytes()
    assert owned.stat().st_ino == inode  # its own file: set in place, not copied
    for path in (swapped, linked, owned):
        remote = world.tenant.item(world.drive, str(path.relative_to(data)))
        assert path.stat().st_mtime_ns == int(remote.modified) * 10**9
    quiet = world.ok()
    assert quiet.log is not None and not quiet.log.repairs


def test_an_adopted_hard_link_is_copied_not_retimed(world: World, tmp_path: Path) -> None:
    """An untracked file in data/ that already holds a new remote file's bytes is adopted
    without a download; when it is a hard link to a file elsewhere, it is adopted as a copy
    and the file elsewhere keeps its time."""
    world.ok()
    outside = tmp_path / "same.txt"
    outside.write_bytes(b"identical")
    os.utime(outside, ns=(10**9, 10**9))
    os.link(outside, world.root / "data" / "same.txt")
    world.tenant.add_file(world.drive, "same.txt", BytesContent(b"identical"))
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None and set(result.log.changes.added) == {"same.txt"}
    assert world.recorder.downloads() == []
    assert outside.stat().st_mtime_ns == 10**9
    assert (world.root / "data" / "same.txt").stat().st_nlink == 1
