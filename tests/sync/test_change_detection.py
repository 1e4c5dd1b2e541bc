"""Change detection: a file's content changes with its cTag, hash and size, not with a
metadata-only edit or the same bytes saved again; the local mtime is the remote one."""

from __future__ import annotations

from ms365sync.emulator import BytesContent
from support.harness import FIRST_FILES, World


def _mtime(world: World, path: str) -> int:
    return (world.root / "data" / path).stat().st_mtime_ns


def _remote_mtime_ns(world: World, path: str) -> int:
    return int(world.tenant.item(world.drive, path).modified) * 1_000_000_000


def test_local_mtime_is_the_remote_last_modified(world: World) -> None:
    world.ok()
    for path in FIRST_FILES:
        assert _mtime(world, path) == _remote_mtime_ns(world, path)
    world.emulator.clock.advance(120)
    world.tenant.edit_file(world.drive, "readme.md", BytesContent(b"later"))
    world.ok()
    assert _mtime(world, "readme.md") == _remote_mtime_ns(world, "readme.md")


def test_content_change_by_ctag_hash_and_size(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.edit_file(d, "readme.md", BytesContent(b"# Marketing!\n"))  # same size, new hash
    t.edit_file(d, "Plans/budget.csv", BytesContent(b"a,b\n1,2\n3,4\n"))  # new size
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None
    assert set(result.log.changes.modified) == {"readme.md", "Plans/budget.csv"}
    entry = result.log.changes.modified["readme.md"]
    assert entry.content_changed and not entry.permissions_changed
    assert len(world.recorder.downloads()) == 2
    assert world.data() == world.remote_files()


def test_metadata_only_edit_does_not_download(world: World) -> None:
    world.ok()
    world.emulator.clock.advance(60)
    world.tenant.touch(world.drive, "readme.md")  # eTag changes, cTag does not
    world.recorder.reset()
    served = world.emulator.app.request_counts().get("download 200", 0)
    result = world.ok()
    assert result.log is not None and not result.log.has_changes
    assert world.recorder.downloads(status=None) == []
    assert world.emulator.app.request_counts().get("download 200", 0) == served
    assert not [c for c in world.recorder.calls if c.is_content]
    assert _mtime(world, "readme.md") == _remote_mtime_ns(world, "readme.md")
    # And it stays quiet afterwards: nothing to repair, nothing to report.
    again = world.ok()
    assert again.log is not None and not again.log.has_changes and not again.log.repairs


def test_same_bytes_saved_again_is_not_a_content_change(world: World) -> None:
    world.ok()
    world.tenant.edit_file(world.drive, "readme.md", BytesContent(FIRST_FILES["readme.md"]))
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None and not result.log.has_changes
    assert world.recorder.downloads(status=None) == []


def test_a_file_deleted_and_uploaded_again_with_the_same_bytes_is_kept(world: World) -> None:
    """A new item with the bytes of a deleted one, at its place: the new item takes the file
    over (no download) and the deletion of the old item keeps it. It used to delete it and
    report the new item under errors ("the local file disappeared") until the next run."""
    world.ok()
    world.tenant.delete(world.drive, "readme.md")
    world.tenant.add_file(world.drive, "readme.md", BytesContent(FIRST_FILES["readme.md"]))
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None and not log.errors
    assert set(log.changes.added) == set(log.changes.deleted) == {"readme.md"}
    assert log.changes.added["readme.md"].item_id != log.changes.deleted["readme.md"].item_id
    assert world.recorder.downloads(status=None) == []
    assert world.data() == FIRST_FILES
    assert _mtime(world, "readme.md") == _remote_mtime_ns(world, "readme.md")
    quiet = world.ok().log
    assert quiet is not None and not quiet.has_changes


def test_a_file_moved_away_leaves_its_bytes_to_the_new_file_in_its_place(world: World) -> None:
    """The old item moves elsewhere and a new item with the same bytes arrives at its old
    place: the moved file takes its file along, the new one is downloaded."""
    world.ok()
    world.tenant.move(world.drive, "readme.md", "Plans")
    world.tenant.add_file(world.drive, "readme.md", BytesContent(FIRST_FILES["readme.md"]))
    result = world.ok()
    log = result.log
    assert log is not None and not log.errors
    assert set(log.changes.added) == {"Plans/readme.md", "readme.md"}
    assert log.changes.added["Plans/readme.md"].moved_from == "readme.md"
    assert world.data() == {**FIRST_FILES, "Plans/readme.md": FIRST_FILES["readme.md"]}
