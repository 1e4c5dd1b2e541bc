"""Downloads: verified against the listed hash and size, resumed with Range, run concurrently,
taken from the URL the listing gave (or /content when it has expired or the file is gone), and a
file that keeps failing is reported and leaves nothing behind in data/."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from ms365sync.emulator import BytesContent, GeneratedContent
from support.harness import FIRST_FILES, Call, World, add_many, make_world, once


def _partial_files(world: World) -> list[str]:
    return [p.name for p in (world.root / "data").rglob("*") if ".ms365sync-" in p.name]


def test_downloads_are_verified_and_resumed(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    for index in range(3):  # bigger than a read chunk (1 MiB), so a cut body is resumed
        world.tenant.add_file(world.drive, f"big/{index}.bin", GeneratedContent(index, 3_500_000))
    world.faults("truncate=0.6,scope=download")
    result = world.ok()
    assert result.log is not None and not result.log.errors
    assert world.data() == world.remote_files()
    assert world.emulator.app.faults.stats()["truncate"] > 0
    assert any(c.status == 206 for c in world.recorder.downloads())  # resumed with Range


def test_downloads_run_concurrently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(tmp_path)
    add_many(world, 6)
    service = world.emulator.app.downloads
    original = service.handle
    barrier = threading.Barrier(2, timeout=5)
    overlapped = threading.Event()

    temps: list[Path] = []

    def handle(request: Any) -> Any:
        temps.extend(world.root.joinpath("data").rglob(".*.ms365sync-*.part"))
        if not overlapped.is_set():
            try:
                barrier.wait()  # passes only while two downloads are in flight at once
                overlapped.set()
            except threading.BrokenBarrierError:
                barrier.reset()
        return original(request)

    monkeypatch.setattr(service, "handle", handle)
    world.ok(concurrency=4)
    assert overlapped.is_set()
    assert world.data() == world.remote_files()
    # The bytes were streamed into hidden temporary files beside their destinations.
    assert temps
    for temp in temps:
        destination = temp.parent / temp.name[1:].split(".ms365sync-")[0]
        assert destination.is_file()
    assert not list(world.root.joinpath("data").rglob("*.part"))


def test_a_file_that_keeps_failing(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.add_file(d, "new.txt", BytesContent(b"brand new"))
    t.edit_file(d, "readme.md", BytesContent(b"# edited\n"))
    world.faults("truncate=1.0,scope=download")
    failing = world.ok()
    log = failing.log
    assert log is not None
    assert set(log.errors) == {"new.txt", "readme.md"}
    assert all(entry.reason for entry in log.errors.values())
    assert not log.changes.added and not log.changes.modified
    assert _partial_files(world) == []
    assert "new.txt" not in world.data()
    assert world.data()["readme.md"] == FIRST_FILES["readme.md"]
    assert "new.txt" not in world.permissions_json()
    assert failing.log_path is not None  # the errors are reported in a log
    # Failing again the same way is not news: no second log.
    still = world.ok()
    assert still.log is not None and set(still.log.errors) == {"new.txt", "readme.md"}
    assert still.log_path is None and len(world.logs()) == 2
    # Next run: both succeed and are reported once.
    world.faults("")
    fixed = world.ok()
    assert fixed.log is not None and not fixed.log.errors
    assert set(fixed.log.changes.added) == {"new.txt"}
    assert set(fixed.log.changes.modified) == {"readme.md"}
    assert world.data() == world.remote_files()
    quiet = world.ok()
    assert quiet.log is not None and not quiet.log.has_changes and not quiet.log.errors


def test_a_failing_file_on_the_first_run(world: World) -> None:
    world.faults("truncate=1.0,scope=download")
    failing = world.ok()
    assert failing.log is not None and set(failing.log.errors) == set(FIRST_FILES)
    assert failing.log.summary.total_files == 0
    assert world.data() == {}
    assert world.permissions_json() == {}
    world.faults("")
    fixed = world.ok()
    assert fixed.log is not None and set(fixed.log.changes.added) == set(FIRST_FILES)


def test_expired_download_urls_are_renewed(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    add_many(world, 5)
    world.faults("expire-url=0.5,scope=download")
    result = world.ok()
    assert result.log is not None and not result.log.errors
    assert world.data() == world.remote_files()
    expired = world.recorder.downloads(status=401)
    assert expired
    # Each file was first fetched from the URL delta listed with it; each expired URL (the
    # listed one or one /content handed out) was replaced by a fresh one from /content.
    contents = [c for c in world.recorder.calls if c.is_content]
    assert len(contents) == len(expired)


def test_url_expiring_between_content_and_download(world: World) -> None:
    world.ok()
    world.tenant.add_file(world.drive, "late.txt", BytesContent(b"late"))

    def is_content(call: Call) -> bool:
        return call.is_content and call.status == 302

    # The listed URL is refused (as expired), so the download goes through /content, whose
    # URL then expires before it is fetched.
    world.faults("expire-url=1.0,scope=download")
    world.recorder.reactions.append(once(is_content, lambda: world.faults("")))
    world.recorder.reactions.append(once(is_content, lambda: world.emulator.clock.advance(3700)))
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None and set(result.log.changes.added) == {"late.txt"}
    assert [c.status for c in world.recorder.downloads(status=None)] == [401, 401, 200]
    assert len([c for c in world.recorder.calls if is_content(c)]) == 2
    assert world.data()["late.txt"] == b"late"
    assert not result.log.errors


def test_an_initial_sync_takes_each_file_from_its_listed_url(tmp_path: Path) -> None:
    """One request per file, to the download host; no /content round trip."""
    world = make_world(tmp_path, page_size=3)  # URLs from several delta pages
    add_many(world, 6)
    result = world.ok()
    assert result.log is not None and not result.log.errors
    assert world.data() == world.remote_files()
    assert len(world.recorder.downloads(status=None)) == len(world.remote_files())
    assert not [c for c in world.recorder.calls if c.is_content]
    assert len(world.recorder.delta_pages()) > 1
    # A later change comes with its URL too.
    world.tenant.edit_file(world.drive, "readme.md", BytesContent(b"# Marketing v2\n"))
    world.recorder.reset()
    world.ok()
    assert len(world.recorder.downloads(status=None)) == 1
    assert not [c for c in world.recorder.calls if c.is_content]


def test_listed_urls_past_their_lifetime_go_through_content(tmp_path: Path) -> None:
    """Listed URLs the service has expired by the time they are used: one 401 each, then
    /content, and the sync succeeds."""
    world = make_world(tmp_path)
    add_many(world, 3)

    def last_delta_page(call: Call) -> bool:
        return call.is_delta and call.status == 200

    world.recorder.reactions.append(
        once(last_delta_page, lambda: world.emulator.clock.advance(3601))
    )
    result = world.ok()
    assert result.log is not None and not result.log.errors
    assert world.data() == world.remote_files()
    files = len(world.remote_files())
    assert [c.status for c in world.recorder.downloads(status=None)].count(401) == files
    assert len(world.recorder.downloads()) == files
    assert len([c for c in world.recorder.calls if c.is_content]) == files


def test_a_deleted_file_s_listed_url_fails_the_file_alone(world: World) -> None:
    """404 on the listed URL: /content is asked once, says the item is gone; the file
    fails this run, the rest are mirrored, and the next run forgets it."""
    t, d = world.tenant, world.drive

    def last_delta_page(call: Call) -> bool:
        return call.is_delta and call.status == 200

    world.recorder.reactions.append(once(last_delta_page, lambda: t.delete(d, "readme.md")))
    result = world.ok()
    assert result.log is not None and set(result.log.errors) == {"readme.md"}
    assert len(world.recorder.downloads(status=404)) == 1
    contents = [c for c in world.recorder.calls if c.is_content]
    assert [c.status for c in contents] == [404]
    assert set(world.data()) == set(FIRST_FILES) - {"readme.md"}
    world.recorder.reactions.clear()
    again = world.ok()
    assert again.log is not None and not again.log.errors


def test_failed_downloads_leave_nothing_in_data(world: World) -> None:
    """A file whose bytes never arrive intact leaves neither a partial nor a temp file."""
    world.faults("truncate=1.0,scope=download")
    world.ok()
    leftovers = [
        os.path.join(dirpath, name)
        for dirpath, _dirs, names in os.walk(world.root / "data")
        for name in names
    ]
    assert leftovers == []


def test_file_changed_between_listing_and_download(world: World) -> None:
    """The bytes are checked against the listed hash; a newer version is re-read and taken."""
    world.ok()
    t, d = world.tenant, world.drive
    t.add_file(d, "racy.txt", BytesContent(b"as listed"))

    def last_delta_page(call: Call) -> bool:
        return call.is_delta and call.status == 200

    world.recorder.reactions.append(
        once(last_delta_page, lambda: t.edit_file(d, "racy.txt", BytesContent(b"edited after")))
    )
    world.recorder.reset()
    result = world.ok()
    assert len(world.recorder.downloads()) == 2  # the listed version failed verification
    # The first try used the listed URL; the retry asked /content, never reusing that URL.
    assert len([c for c in world.recorder.calls if c.is_content]) == 1
    log = result.log
    assert log is not None and not log.errors
    assert log.changes.added["racy.txt"].size == len(b"edited after")
    assert world.data()["racy.txt"] == b"edited after"
    # The edit comes through delta next time; it was already reported with the file.
    world.recorder.reactions.clear()
    world.recorder.reset()
    again = world.ok()
    assert again.log is not None and not again.log.has_changes
    assert world.recorder.downloads(status=None) == []
