"""Partial failures the fault soak found, pinned down: when one file's permission
read or download fails, nothing else may be reported with stale permissions, and no other
file may take its place (which would lose it and its move event)."""

from __future__ import annotations

import pytest

from ms365sync.emulator import BytesContent, Role
from ms365sync.localfs.mirror import Mirror
from ms365sync.target import PermissionPolicy
from support.harness import World
from support.reliability import (
    TargetedFaults,
    assert_events,
    assert_state_consistent,
    expected_events,
    log_files,
    temp_leftovers,
    truth,
)

ALICE = "user:alice@contoso.onmicrosoft.com"


def test_a_move_whose_new_permissions_cannot_be_read_waits_for_them(world: World) -> None:
    """A file moved out of a folder shared by link into a folder whose permission read
    failed was reported added with the link's (wider) permissions, and the next run then
    reported a permission change. It must fail this run instead, and be reported once,
    with its real permissions, when they can be read."""
    t, d = world.tenant, world.drive
    t.add_file(d, "Shared/f.txt", BytesContent(b"f"))
    t.add_folder(d, "Private")
    t.add_link(d, "Shared", "view", "anonymous")
    world.ok()
    t.move(d, "Shared/f.txt", "Private")
    t.grant(d, "Private", ALICE, Role.READ)
    world.faults("500=1.0,scope=permissions")
    failing = world.ok(max_attempts=2)
    assert failing.log is not None and "Private/f.txt" in failing.log.errors
    assert not failing.log.has_changes
    assert world.data()["Shared/f.txt"] == b"f"  # left where it was
    world.faults("")
    fixed = world.ok()
    assert fixed.log is not None
    added = fixed.log.changes.added["Private/f.txt"]
    assert added.moved_from == "Shared/f.txt"
    assert added.permissions == world.expected_labels("Private/f.txt")
    assert fixed.log.changes.deleted["Shared/f.txt"].reason == "moved"
    assert world.ok().log_path is None


def _swap(world: World, one: str, two: str) -> None:
    t, d = world.tenant, world.drive
    folder, first = one.rsplit("/", 1)
    second = two.rsplit("/", 1)[1]
    t.rename(d, one, "parked")
    t.rename(d, two, first)
    t.rename(d, f"{folder}/parked", second)


@pytest.mark.parametrize("failure", ["permissions", "download"])
def test_a_swap_half_of_which_fails_loses_neither_file(world: World, failure: str) -> None:
    """Two files exchanged names and one of them could not be updated this run (its
    permission read, or the download of its new content, failed): the other one overwrote
    it, its record was dropped, and its move was never reported. Both must wait instead."""
    t, d = world.tenant, world.drive
    a = t.add_file(d, "F/a.txt", BytesContent(b"aaa"))
    t.add_file(d, "F/b.txt", BytesContent(b"bbbb"))
    t.grant(d, "F/a.txt", ALICE, Role.READ)  # a.txt is its own permission root
    world.ok()
    before = truth(t, d)
    logs = log_files(world.root)
    _swap(world, "F/a.txt", "F/b.txt")
    faults = TargetedFaults.install(world.emulator)
    if failure == "permissions":
        faults.aimed.append(("500", f"/items/{a.id}/permissions"))
    else:
        t.edit_file(d, "F/b.txt", BytesContent(b"a, edited"))  # a.txt is at F/b.txt now
        faults.aimed.append(("truncate", str(a.guid)))
    failing = world.ok(max_attempts=2)
    assert failing.log is not None and set(failing.log.errors) == {"F/a.txt", "F/b.txt"}
    assert world.data()["F/a.txt"] == b"aaa" and world.data()["F/b.txt"] == b"bbbb"
    assert_state_consistent(world.root)
    faults.aimed.clear()
    world.ok()
    assert_events(log_files(world.root) - logs, expected_events(before, truth(t, d)))
    assert world.data() == world.remote_files()
    assert_state_consistent(world.root)


def test_a_swap_with_new_content_keeps_both_files(world: World) -> None:
    """Found by the soak: when two files exchanged names and one also got new content, its
    download replaced the other file before that one had moved away: one file was lost and
    the other recorded with the wrong size."""
    t, d = world.tenant, world.drive
    t.add_file(d, "F/a.txt", BytesContent(b"aaa"))
    t.add_file(d, "F/b.txt", BytesContent(b"bbbb"))
    world.ok()
    before, logs = truth(t, d), log_files(world.root)
    _swap(world, "F/a.txt", "F/b.txt")
    t.edit_file(d, "F/b.txt", BytesContent(b"a, edited"))
    world.ok()
    assert world.data() == world.remote_files()
    assert_state_consistent(world.root)
    assert_events(log_files(world.root) - logs, expected_events(before, truth(t, d)))


def test_a_run_killed_between_the_renames_of_a_swap_leaves_no_stray_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapped files go through a parking name; a run killed while one is parked must not
    leave it in data/ for an indexer to find (it used to be `a.txt.ms365sync-move-0`)."""
    t, d = world.tenant, world.drive
    t.add_file(d, "F/a.txt", BytesContent(b"aaa"))
    t.add_file(d, "F/b.txt", BytesContent(b"bbbb"))
    world.ok()
    before, logs = truth(t, d), log_files(world.root)
    _swap(world, "F/a.txt", "F/b.txt")
    moves: list[tuple[str, str]] = []
    original = Mirror.move

    def killed_on_the_third_rename(self: Mirror, old: str, new: str, **kwargs: bool) -> None:
        moves.append((old, new))
        if len(moves) == 3:
            raise KeyboardInterrupt  # kill -9 while one file is parked
        original(self, old, new, **kwargs)

    monkeypatch.setattr(Mirror, "move", killed_on_the_third_rename)
    with pytest.raises(KeyboardInterrupt):
        world.sync()
    monkeypatch.setattr(Mirror, "move", original)
    world.ok()
    assert world.data() == world.remote_files()  # no parked leftover among the files
    assert temp_leftovers(world.root) == []
    assert_state_consistent(world.root)
    assert_events(log_files(world.root) - logs, expected_events(before, truth(t, d)))


def test_temporary_files_of_a_killed_export_are_removed(world: World) -> None:
    """Found by the crash trials: a run killed while writing .permissions.json or a change
    log left `..permissions.json.ms365sync-<token>.part` beside them for good."""
    world.ok()
    leftovers = [
        world.root / "..permissions.json.ms365sync-abcd1234.part",
        world.root / "sync_logs" / ".sync_changes_2026-01-01_00-00-00.json.ms365sync-0a1b2c3d.part",
    ]
    journal = Mirror(world.root).journal
    for path in leftovers:
        journal.claim(path)  # recorded before it was created, as write_atomic does in a run
        path.write_bytes(b"{half")
    journal.close()
    result = world.ok()
    assert temp_leftovers(world.root) == []
    assert any("temporary files" in note for note in result.counters.notes)


def test_a_file_whose_inheritance_was_restored_follows_its_folder_again(world: World) -> None:
    """Found by the soak: a sweep made a file with unique permissions its own permission
    root; once its inheritance was restored it stayed one, so later permission changes of
    its folder (here a sharing link; a revocation just the same) never reached it."""
    t, d = world.tenant, world.drive
    t.add_file(d, "D/f.txt", BytesContent(b"f"))
    t.grant(d, "D/f.txt", ALICE, Role.READ)
    world.ok(permissions=PermissionPolicy("always"))
    t.restore_inheritance(d, "D/f.txt")
    restored = world.ok().log
    assert restored is not None and set(restored.changes.permission_only_changes) == {"D/f.txt"}
    for change in (
        lambda: t.add_link(d, "D", "view", "organization"),
        lambda: t.revoke(d, "D", "sitegroup:Visitors"),
    ):
        change()
        log = world.ok().log
        assert log is not None and set(log.changes.permission_only_changes) == {"D/f.txt"}
        assert world.permissions_json()["D/f.txt"] == world.expected_labels("D/f.txt")
