"""The files that trip sync tools (graph-facts §17), each put into the emulator's tenant and
handled on purpose: what lands in data/, what the change log says (once), what the state
keeps, and which requests the next run makes for them (none for the ones that wait)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ms365sync.cli.unmirrored import issue_rows
from ms365sync.emulator import BytesContent, Role
from ms365sync.outputs.changelog import ChangeLog
from ms365sync.state.store import StateStore
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from support.harness import World, make_world, once

DAY = 86_400.0
PDF = b"%PDF-1.7 quarterly report\n" * 40


def _log(result: SyncResult) -> ChangeLog:
    assert result.log is not None
    return result.log


def _fetches(world: World, path: str) -> int:
    """Requests the recorder saw for one file's content: `/content` and its download URL."""
    item = world.tenant.item(world.drive, path)
    marks = (f"UniqueId={str(item.guid).lower()}&", f"/items/{item.id}/content")
    return sum(1 for call in world.recorder.calls if any(m in call.url for m in marks))


def test_bytes_served_consistently_other_than_listed_are_kept_and_reported(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "Reports/q3.pdf", BytesContent(PDF))
    world.tenant.set_served(world.drive, "Reports/q3.pdf", "rewritten")
    log = _log(world.ok())
    entry = log.changes.added["Reports/q3.pdf"]
    assert entry.verification == "mismatch-accepted"
    assert entry.size == len(PDF)  # the listed size; the file holds what was served
    assert log.summary.mismatch_accepted_count == 1
    assert not log.errors
    served = (world.root / "data" / "Reports" / "q3.pdf").read_bytes()
    assert served != PDF and served.startswith(PDF)
    # The next run neither downloads it again nor takes the copy for a local edit.
    world.recorder.reset()
    again = world.ok()
    assert again.log is not None and not again.log.has_changes and not again.log.repairs
    assert world.recorder.downloads(status=None) == []
    # A new version is downloaded (and judged) again.
    world.tenant.edit_file(world.drive, "Reports/q3.pdf", BytesContent(PDF + b"v2"))
    modified = _log(world.ok()).changes.modified["Reports/q3.pdf"]
    assert modified.verification == "mismatch-accepted"


def test_strict_verification_keeps_nothing_and_waits_for_a_new_version(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "Reports/q3.pdf", BytesContent(PDF))
    world.tenant.set_served(world.drive, "Reports/q3.pdf", "rewritten")
    log = _log(world.sync(verify="strict"))
    error = log.errors["Reports/q3.pdf"]
    assert (error.kind, error.cause) == ("permanent", "content-mismatch")
    assert error.retry is not None and error.retry.startswith("when the file changes, or after")
    assert "Reports/q3.pdf" not in world.data()
    assert not list((world.root / "data").rglob("*.part"))
    world.recorder.reset()
    second = world.sync(verify="strict")
    assert second.log is not None and not second.log.errors  # reported once
    assert world.recorder.downloads(status=None) == []  # not asked for again
    # The file changes: it is tried again (and fails again, reported again).
    world.tenant.edit_file(world.drive, "Reports/q3.pdf", BytesContent(PDF + b"v2"))
    third = _log(world.sync(verify="strict"))
    assert third.errors["Reports/q3.pdf"].cause == "content-mismatch"


def test_bytes_that_change_on_every_download_wait_until_their_time_is_up(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "Sheets/budget.xlsx", BytesContent(b"PK" + PDF))
    world.tenant.set_served(world.drive, "Sheets/budget.xlsx", "unstable")
    now = [1_000_000.0]

    def run(**options: Any) -> SyncResult:
        with world.client() as client:
            syncer = Syncer(world.spec(**options), client, clock=lambda: now[0])
            result = syncer.sync()
        assert result.ok, result.error
        return result

    error = _log(run()).errors["Sheets/budget.xlsx"]
    assert (error.kind, error.cause) == ("permanent", "content-unstable")
    world.recorder.reset()
    now[0] += 6 * DAY
    assert not _log(run()).errors
    assert world.recorder.downloads(status=None) == []
    now[0] += 2 * DAY  # past the default 7 days: tried again
    assert _log(run()).errors["Sheets/budget.xlsx"].cause == "content-unstable"
    assert world.recorder.downloads(status=None)


def test_files_listed_without_a_hash_are_checked_by_size(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "old/scan.tif", BytesContent(b"II*\x00" * 100))
    world.tenant.add_file(world.drive, "old/empty-hashes.txt", BytesContent(b"text"))
    world.tenant.add_file(world.drive, "old/empty.txt", BytesContent(b""))
    world.tenant.set_hashes(world.drive, "old/scan.tif", "missing")
    world.tenant.set_hashes(world.drive, "old/empty-hashes.txt", "empty")
    log = _log(world.ok())
    added = log.changes.added
    assert added["old/scan.tif"].verification == "size-only"
    assert added["old/empty-hashes.txt"].verification == "size-only"
    assert added["old/empty.txt"].verification is None  # the zero hash is listed
    assert log.summary.size_only_count == 2
    assert world.data()["old/empty.txt"] == b""
    assert world.data()["old/scan.tif"] == b"II*\x00" * 100


def test_verify_size_and_off_check_no_more_than_they_say(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "Reports/q3.pdf", BytesContent(PDF))
    world.tenant.set_served(world.drive, "Reports/q3.pdf", "rewritten")
    # The served bytes are longer than listed: "size" refuses them, "off" keeps them.
    error = _log(world.sync(verify="size")).errors["Reports/q3.pdf"]
    assert error.cause == "content-mismatch"
    world.tenant.edit_file(world.drive, "Reports/q3.pdf", BytesContent(PDF + b"!"))
    log = _log(world.sync(verify="off"))
    assert log.changes.added["Reports/q3.pdf"].verification == "unverified"
    assert log.summary.unverified_count == len(log.changes.added)


def test_notebooks_are_skipped_once_unless_packages_are_included(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.tenant.add_package(world.drive, "Team Notebook", sections=("Meetings.one",))
    first = _log(world.ok())
    skipped = first.skipped
    assert set(skipped) == {"Team Notebook/Meetings.one", "Team Notebook/Open Notebook.onetoc2"}
    assert {entry.cause for entry in skipped.values()} == {"package"}
    assert first.summary.skipped_count == 2
    assert not any(path.startswith("Team Notebook") for path in world.data())
    world.recorder.reset()
    second = world.ok()
    assert second.log is not None and not second.log.skipped  # reported once
    assert second.log_path is None  # nothing new: no change log at all
    assert world.recorder.downloads(status=None) == []
    # Asked for: what can be downloaded is (the sections' bytes are not the listed ones).
    third = _log(world.ok(include_packages=True))
    section = third.changes.added["Team Notebook/Meetings.one"]
    assert section.verification == "mismatch-accepted"


def test_files_flagged_as_malware_are_never_downloaded_and_reported_once(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "in/invoice.exe", BytesContent(b"MZ evil"))
    world.tenant.flag_malware(world.drive, "in/invoice.exe", description="Trojan:Win32/Test")
    world.recorder.reset()
    log = _log(world.ok())
    entry = log.skipped["in/invoice.exe"]
    assert (entry.cause, entry.retry) == ("malware", "when SharePoint no longer flags it")
    assert "Trojan:Win32/Test" in entry.reason
    assert log.summary.skipped_count == 1
    assert "in/invoice.exe" not in world.data()
    assert _fetches(world, "in/invoice.exe") == 0
    second = world.ok()
    assert second.log is not None and not second.log.skipped
    assert second.log_path is None


def test_a_mirrored_file_flagged_later_keeps_its_copy_and_is_reported_once(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    world.ok()
    world.tenant.flag_malware(world.drive, "Plans/budget.csv", description="Trojan:Test")
    log = _log(world.ok())
    entry = log.skipped["Plans/budget.csv"]
    assert entry.cause == "malware" and "Trojan:Test" in entry.reason
    assert not log.changes.deleted and not log.changes.modified
    assert world.data()["Plans/budget.csv"] == b"a,b\n1,2\n"  # kept as it was
    assert "Plans/budget.csv" in world.permissions_json()
    second = world.ok()
    assert second.log is not None and not second.log.skipped
    world.tenant.clear_malware(world.drive, "Plans/budget.csv")
    cleared = _log(world.ok())
    assert not cleared.has_changes and not cleared.errors  # same content: nothing to do


def test_malware_found_at_download_time_waits_for_a_new_version(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "in/invoice.pdf", BytesContent(b"%PDF evil"))
    # The flag arrives after the listing: the download itself is refused.
    world.recorder.reactions.append(
        once(
            lambda call: call.is_delta,
            lambda: world.tenant.flag_malware(world.drive, "in/invoice.pdf", description="x"),
        )
    )
    first = _log(world.ok())
    entry = first.skipped["in/invoice.pdf"]
    assert entry.cause == "malware-detected"
    assert "in/invoice.pdf" not in world.data()
    world.recorder.reset()
    second = world.ok()  # the listing now flags it: the same case, not reported again
    assert second.log is not None and not second.log.skipped and not second.log.errors
    assert world.recorder.downloads(status=None) == []


def test_a_locked_file_is_retried_every_run_and_its_copy_kept(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.ok()
    world.tenant.edit_file(world.drive, "Finance/q1.txt", BytesContent(b"q1 numbers, v2"))
    world.tenant.lock_file(world.drive, "Finance/q1.txt")
    for _ in range(2):
        error = _log(world.ok()).errors["Finance/q1.txt"]
        assert (error.kind, error.cause, error.retry) == ("transient", "locked", "next run")
        assert world.data()["Finance/q1.txt"] == b"q1 numbers"
    world.tenant.unlock_file(world.drive, "Finance/q1.txt")
    log = _log(world.ok())
    assert "Finance/q1.txt" in log.changes.modified and not log.errors
    assert world.data()["Finance/q1.txt"] == b"q1 numbers, v2"


def test_a_checked_out_file_is_mirrored_as_last_checked_in(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    alice = world.tenant.user("alice@contoso.onmicrosoft.com")
    world.tenant.check_out(world.drive, "Plans/budget.csv", alice.id)
    log = _log(world.ok())
    assert "Plans/budget.csv" in log.changes.added and not log.errors
    assert world.data()["Plans/budget.csv"] == b"a,b\n1,2\n"


def test_a_file_deleted_between_listing_and_download_is_gone_not_deleted(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "tmp/draft.txt", BytesContent(b"draft"))
    world.tenant.set_vanishes(world.drive, "tmp/draft.txt", True)
    first = _log(world.ok())
    error = first.errors["tmp/draft.txt"]
    assert (error.kind, error.cause) == ("transient", "gone")
    assert "tmp/draft.txt" not in world.data()
    second = _log(world.ok())  # the listing says it is deleted: nothing left to report
    assert not second.errors and not second.changes.deleted


def test_a_mirrored_file_moved_into_a_notebook_leaves_the_mirror_as_excluded(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    world.tenant.add_package(world.drive, "Team Notebook", sections=("Meetings.one",))
    world.ok()
    world.tenant.move(world.drive, "readme.md", "Team Notebook")
    log = _log(world.ok())
    assert log.changes.deleted["readme.md"].reason == "excluded"
    assert log.skipped["Team Notebook/readme.md"].cause == "package"
    assert "readme.md" not in world.data() and "readme.md" not in world.permissions_json()
    world.tenant.move(world.drive, "Team Notebook/readme.md", "")  # out again: mirrored again
    assert "readme.md" in _log(world.ok()).changes.added


def test_status_lists_the_files_of_each_class_with_their_reasons(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "in/invoice.exe", BytesContent(b"MZ"))
    world.tenant.flag_malware(world.drive, "in/invoice.exe", description="Trojan:Test")
    world.tenant.add_file(world.drive, "Sheets/budget.xlsx", BytesContent(b"PK" + PDF))
    world.tenant.set_served(world.drive, "Sheets/budget.xlsx", "unstable")
    world.ok()
    world.tenant.edit_file(world.drive, "Finance/q1.txt", BytesContent(b"q1, v2"))
    world.tenant.lock_file(world.drive, "Finance/q1.txt")
    world.ok()
    state = StateStore.snapshot(world.root / ".ms365sync")
    try:
        rows = issue_rows(state.errors())
    finally:
        state.close()
    by_class = {name: {row["path"]: row["cause"] for row in rows[name]} for name in rows}
    assert by_class == {
        "transient": {"Finance/q1.txt": "locked"},
        "permanent": {"Sheets/budget.xlsx": "content-unstable"},
        "skipped": {"in/invoice.exe": "malware"},
    }
    [unstable] = rows["permanent"]
    assert unstable["retry"].startswith("when the file changes, or after ")
    assert unstable["runs"] == 1  # the second run did not try it


def test_a_folder_of_more_than_5000_files_is_mirrored_whole(tmp_path: Path) -> None:
    """Beyond SharePoint's list view threshold: delta pages through every child (§17.10)."""
    world = make_world(tmp_path, page_size=999)
    for index in range(5_001):
        world.tenant.add_file(world.drive, f"Scans/{index:05d}.txt", BytesContent(b"%d" % index))
    log = _log(world.ok())
    assert sum(path.startswith("Scans/") for path in log.changes.added) == 5_001
    assert not log.errors and len(world.recorder.delta_pages()) >= 6


def test_a_kept_copys_permissions_follow_the_library_while_it_waits(tmp_path: Path) -> None:
    """A file kept as it was mirrored (flagged as malware later, or whose new version
    cannot be fetched) is never left with the permissions it had: they are kept current."""
    world = make_world(tmp_path)
    world.ok()
    world.tenant.flag_malware(world.drive, "Plans/budget.csv", description="Trojan:Test")
    world.tenant.edit_file(world.drive, "readme.md", BytesContent(b"# Marketing v2\n"))
    world.tenant.set_served(world.drive, "readme.md", "unstable")
    first = _log(world.ok())
    assert first.skipped["Plans/budget.csv"].cause == "malware"
    assert first.errors["readme.md"].cause == "content-unstable"
    world.tenant.grant(
        world.drive, "Plans/budget.csv", "user:bob@contoso.onmicrosoft.com", Role.READ
    )
    world.tenant.grant(world.drive, "readme.md", "user:bob@contoso.onmicrosoft.com", Role.READ)
    world.recorder.reset()
    log = _log(world.ok())
    for path in ("Plans/budget.csv", "readme.md"):
        assert (
            "Bob Smith:::View" in log.changes.permission_only_changes[path].permission_changes.added
        )
        assert world.permissions_json()[path] == world.expected_labels(path)
    assert world.data()["Plans/budget.csv"] == b"a,b\n1,2\n"  # the copy as it was
    assert world.data()["readme.md"] == b"# Marketing\n"
    assert _fetches(world, "Plans/budget.csv") == 0 and _fetches(world, "readme.md") == 0
    assert not log.changes.modified and not log.changes.deleted and not log.changes.added


def test_a_lost_state_reports_no_change_for_files_served_or_listed_oddly(tmp_path: Path) -> None:
    """After the state store is lost, the records rebuilt from the disk hold the bytes that
    were served; downloading them again finds the same bytes: nothing is reported twice."""
    world = make_world(tmp_path)
    world.tenant.add_file(world.drive, "Reports/q3.pdf", BytesContent(PDF))
    world.tenant.set_served(world.drive, "Reports/q3.pdf", "rewritten")
    world.tenant.add_file(world.drive, "old/scan.tif", BytesContent(b"II*\x00" * 100))
    world.tenant.set_hashes(world.drive, "old/scan.tif", "missing")
    world.ok()
    (world.root / ".ms365sync" / "state.db").unlink()
    world.tenant.grant(world.drive, "old/scan.tif", "user:bob@contoso.onmicrosoft.com", Role.READ)
    result = world.ok()
    log = _log(result)
    assert not log.changes.added and not log.changes.modified and not log.changes.deleted
    assert list(log.changes.permission_only_changes) == ["old/scan.tif"]  # what did change
    assert world.permissions_json()["old/scan.tif"] == world.expected_labels("old/scan.tif")
    assert _log(world.ok()).has_changes is False
