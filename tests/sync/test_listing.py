"""Listing through delta: every page, children before parents, 410 recovery, and the completeness
gate (a listing that fails part way deletes nothing)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ms365sync.emulator import BytesContent
from ms365sync.errors import AccessDeniedError, GraphError
from ms365sync.state.store import StateStore
from ms365sync.sync.listing import list_changes
from ms365sync.target import DB_NAME
from support.harness import FIRST_FILES, Call, World, add_many, make_world, once, tree_snapshot


def _delta_link(world: World) -> str | None:
    store = StateStore(world.root / ".ms365sync")
    try:
        return store.meta.delta_link
    finally:
        store.close()


def _is_delta(call: Call) -> bool:
    return call.is_delta and call.status == 200


def test_every_page_is_followed(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=3)
    paths = add_many(world, 14)
    result = world.ok()
    assert len(world.recorder.delta_pages()) >= 6
    assert world.data() == world.remote_files()
    assert result.log is not None and set(result.log.changes.added) == {*FIRST_FILES, *paths}
    assert result.counters.delta_pages == len(world.recorder.delta_pages())
    # The next run starts from the stored deltaLink, not from scratch.
    world.recorder.reset()
    again = world.ok()
    assert again.log is not None and not again.log.has_changes and not again.log.full_resync
    first = world.recorder.delta_pages()[0]
    assert "token=" in first.url


def test_children_before_parents_in_a_full_listing(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    t, d = world.tenant, world.drive
    t.add_file(d, "Deep/a/b/leaf.txt", BytesContent(b"leaf"))
    # Re-stamping the folders puts them after the file in the change journal: a full
    # enumeration then lists the file (page 1) before its parents (later pages).
    t.touch(d, "Deep/a/b")
    t.touch(d, "Deep/a")
    t.touch(d, "Deep")
    result = world.ok()
    assert world.data()["Deep/a/b/leaf.txt"] == b"leaf"
    assert result.log is not None and "Deep/a/b/leaf.txt" in result.log.changes.added


def test_children_before_parents_and_repeated_items_incrementally(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    world.ok()
    t, d = world.tenant, world.drive
    t.add_file(d, "Later/x.txt", BytesContent(b"x"))
    t.add_file(d, "Later/y.txt", BytesContent(b"y"))
    t.rename(d, "Later", "Renamed")  # the folder's change comes after its children's
    t.edit_file(d, "Renamed/x.txt", BytesContent(b"x2"))  # one item, two changes
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None
    assert set(log.changes.added) == {"Renamed/x.txt", "Renamed/y.txt"}
    assert not log.changes.modified and not log.changes.deleted
    assert world.data()["Renamed/x.txt"] == b"x2"
    assert len(world.recorder.downloads()) == 2
    assert len(world.recorder.delta_pages()) > 2  # ancestors were re-sent on every page


def test_deletions_without_names(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.delete(d, "Plans")  # a folder with a subfolder and two files
    t.delete(d, "readme.md")
    result = world.ok()
    assert result.log is not None
    assert set(result.log.changes.deleted) == {
        "Plans/2026/plan.txt",
        "Plans/budget.csv",
        "readme.md",
    }
    assert world.data() == {"Finance/q1.txt": b"q1 numbers"}
    assert not (world.root / "data" / "Plans").exists()


def test_deleted_folder_takes_unreported_descendants(tmp_path: Path) -> None:
    world = make_world(tmp_path, delete_reports_descendants=False)
    world.ok()
    world.tenant.delete(world.drive, "Plans")
    result = world.ok()
    assert result.log is not None
    assert set(result.log.changes.deleted) == {"Plans/2026/plan.txt", "Plans/budget.csv"}
    assert set(world.data()) == {"readme.md", "Finance/q1.txt"}


def _changes_during_gap(world: World) -> None:
    t, d = world.tenant, world.drive
    t.edit_file(d, "readme.md", BytesContent(b"# v2\n"))
    t.delete(d, "Plans/budget.csv")
    t.add_file(d, "Plans/new.txt", BytesContent(b"new"))
    t.rename(d, "Finance/q1.txt", "q1-final.txt")


def _assert_only_real_differences(world: World) -> None:
    result = world.ok()
    log = result.log
    assert log is not None and log.full_resync
    assert set(log.changes.added) == {"Plans/new.txt", "Finance/q1-final.txt"}
    assert log.changes.added["Finance/q1-final.txt"].moved_from == "Finance/q1.txt"
    assert set(log.changes.modified) == {"readme.md"}
    assert set(log.changes.deleted) == {"Plans/budget.csv", "Finance/q1.txt"}
    assert not log.changes.permission_only_changes
    # Only the new and the changed file are downloaded; the rest is reconciled by id.
    assert len(world.recorder.downloads()) == 2
    assert world.data() == world.remote_files()
    again = world.ok()
    assert again.log is not None and not again.log.has_changes and not again.log.full_resync


def test_410_on_the_first_page_reconciles(world: World) -> None:
    world.ok()
    _changes_during_gap(world)
    world.tenant.request_resync(world.drive)
    world.recorder.reset()
    _assert_only_real_differences(world)
    statuses = [c.status for c in world.recorder.delta_pages()]
    assert statuses[0] == 410


def test_410_in_the_middle_of_a_round_reconciles(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=2)
    add_many(world, 6)
    world.ok()
    _changes_during_gap(world)
    add_many(world, 4, folder="more")  # enough changes for several incremental pages
    world.recorder.reactions.append(
        once(_is_delta, lambda: world.tenant.request_resync(world.drive))
    )
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None and log.full_resync
    statuses = [c.status for c in world.recorder.delta_pages()]
    assert statuses[:2] == [200, 410]
    assert {"Plans/new.txt", "Finance/q1-final.txt"} <= set(log.changes.added)
    assert len(log.changes.added) == 6
    assert set(log.changes.modified) == {"readme.md"}
    assert set(log.changes.deleted) == {"Plans/budget.csv", "Finance/q1.txt"}
    assert world.data() == world.remote_files()


def test_revoked_site_during_listing_changes_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    world.ok()
    link = _delta_link(world)
    t, d = world.tenant, world.drive
    t.delete(d, "Plans")
    t.edit_file(d, "readme.md", BytesContent(b"changed"))
    before = tree_snapshot(world.root)
    client_id = world.emulator.credentials.client_id
    site = world.drive.site
    world.recorder.reactions.append(
        once(_is_delta, lambda: t.set_site_access(client_id, site, allowed=False))
    )
    failed = world.sync()
    assert not failed.ok and isinstance(failed.error, AccessDeniedError)
    assert failed.log is None and failed.log_path is None
    after = tree_snapshot(world.root)
    assert {k: v for k, v in after.items() if not k.startswith(".ms365sync")} == {
        k: v for k, v in before.items() if not k.startswith(".ms365sync")
    }
    assert _delta_link(world) == link
    # Access back: the deletions and the edit are reported once, by the run that saw them.
    t.set_site_access(client_id, site, allowed=True)
    world.recorder.reactions.clear()
    result = world.ok()
    assert result.log is not None
    assert set(result.log.changes.deleted) == {"Plans/2026/plan.txt", "Plans/budget.csv"}
    assert set(result.log.changes.modified) == {"readme.md"}


def test_listing_failing_half_way_on_the_first_run_writes_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=2)
    world.recorder.reactions.append(
        once(_is_delta, lambda: world.faults("503=1.0,retry-after=0,scope=delta"))
    )
    failed = world.sync(max_attempts=2)
    assert not failed.ok and isinstance(failed.error, GraphError)
    assert failed.error.retryable
    assert not (world.root / "data").exists()
    assert not (world.root / "sync_logs").exists()
    assert not (world.root / ".permissions.json").exists()
    world.faults("")
    result = world.ok()
    assert result.log is not None and set(result.log.changes.added) == set(FIRST_FILES)


def test_full_enumeration_failing_after_410_deletes_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path, page_size=1)
    world.ok()
    world.tenant.delete(world.drive, "readme.md")
    world.tenant.request_resync(world.drive)
    # The full enumeration that follows the 410 fails on its second page.
    pages: list[Call] = []

    def fail_second_page(call: Call) -> None:
        if call.is_delta and call.status == 200:
            pages.append(call)
            if len(pages) == 1:
                world.faults("500=1.0,scope=delta")

    world.recorder.reactions.append(fail_second_page)
    before = world.data()
    failed = world.sync(max_attempts=2)
    assert not failed.ok
    assert world.data() == before
    assert len(world.logs()) == 1
    world.faults("")
    world.recorder.reactions.clear()
    result = world.ok()
    assert result.log is not None and set(result.log.changes.deleted) == {"readme.md"}


def test_deleted_library_or_revoked_access_changes_nothing(world: World) -> None:
    world.ok()
    before = tree_snapshot(world.root)
    client_id = world.emulator.credentials.client_id
    world.tenant.set_site_access(client_id, world.drive.site, allowed=False)
    denied = world.sync()
    assert isinstance(denied.error, AccessDeniedError)
    world.tenant.set_site_access(client_id, world.drive.site, allowed=True)
    world.tenant.delete_library(world.drive)
    gone = world.sync()
    assert isinstance(gone.error, GraphError) and gone.error.status == 404
    after = tree_snapshot(world.root)
    assert {k: v for k, v in after.items() if not k.startswith(".ms365sync")} == {
        k: v for k, v in before.items() if not k.startswith(".ms365sync")
    }


def _noop_requests(world: World) -> list[str]:
    world.ok()
    world.recorder.reset()
    quiet = world.ok()
    assert quiet.log is not None and not quiet.log.has_changes
    return sorted(f"{c.method} {c.path.split('/')[-1]}" for c in world.recorder.calls)


def test_a_noop_run_costs_the_same_whatever_the_library_size(tmp_path: Path) -> None:
    small = make_world(tmp_path / "small")
    large = make_world(tmp_path / "large")
    add_many(large, 60)
    calls = _noop_requests(small)
    assert calls == _noop_requests(large)
    assert len(calls) <= 4  # token, drive check, one delta page


def test_the_listing_keeps_download_urls_for_live_files_only(tmp_path: Path) -> None:
    """Files get their listed URL (in memory); folders, the root and deleted files none;
    the stage holds no URL."""
    world = make_world(tmp_path, page_size=3)
    add_many(world, 4)
    store = StateStore(tmp_path / "state")
    try:
        with world.client() as client:
            first = list_changes(client, store, world.drive.id, None)
            files = {i.id for i in world.drive.items.values() if not i.is_folder}
            assert len(first.urls) == len(files)
            assert {item_id for item_id in files if first.urls.take(item_id)} == files
            world.tenant.delete(world.drive, "readme.md")
            world.tenant.edit_file(world.drive, "Finance/q1.txt", BytesContent(b"q1 v2"))
            later = list_changes(client, store, world.drive.id, first.delta_link)
            edited = world.tenant.item(world.drive, "Finance/q1.txt").id
            assert len(later.urls) == 1 and later.urls.take(edited) is not None
            skipped = list_changes(client, store, world.drive.id, None, keep_urls=False)
            assert len(skipped.urls) == 0
    finally:
        store.close()
    connection = sqlite3.connect(tmp_path / "state" / DB_NAME)
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    assert 'INSERT INTO "stage"' in dump  # the round was staged, without its URLs
    assert "tempauth" not in dump and "download.aspx" not in dump
