"""The mirror on a real file system: confinement, atomic downloads, moves, deletes, disk errors."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms365sync.errors import LocalStorageError
from ms365sync.localfs.atomic import write_atomic, write_json_atomic
from ms365sync.localfs.mirror import LocalEntry, Mirror, timestamp_ns
from ms365sync.localfs.names import MappedPath, is_temp_name, local_relpath_from_segments, temp_name
from ms365sync.models import LocalStat
from ms365sync.quickxorhash import quickxorhash

MODIFIED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
MODIFIED_NS = 1714979289_123456000
ROOT_IGNORES_MODES = hasattr(os, "geteuid") and os.geteuid() == 0

Snapshot = dict[str, tuple[str, bytes | str | None, int, int]]


def snapshot(top: Path) -> Snapshot:
    """Everything under `top` (type, content or link target, mtime, mode), links not followed."""
    result: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            rel = str(path.relative_to(top))
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", os.readlink(path), st.st_mtime_ns, st.st_mode)
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", None, st.st_mtime_ns, st.st_mode)
            else:
                result[rel] = ("file", path.read_bytes(), st.st_mtime_ns, st.st_mode)
    return result


def temp_files(top: Path) -> list[Path]:
    return [p for p in top.rglob("*") if is_temp_name(p.name)]


def download(mirror: Mirror, rel: str, data: bytes, mtime: datetime = MODIFIED) -> None:
    with mirror.open_temp(rel) as tmp:
        tmp.write(data)
        mirror.commit(tmp, rel, mtime=mtime)


@pytest.fixture
def mirror(tmp_path: Path) -> Mirror:
    return Mirror(tmp_path / "target")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the target that nothing may ever touch."""
    top = tmp_path / "outside"
    (top / "sub").mkdir(parents=True)
    (top / "secret.txt").write_bytes(b"secret")
    (top / "sub" / "deep.txt").write_bytes(b"deep")
    (top / temp_name("bait.txt", "abcd1234")).write_bytes(b"looks like ours")
    return top


@pytest.fixture
def planted(mirror: Mirror, outside: Path) -> Path:
    """data/ with symlinks pointing outside: a directory link, a file link, a nested one."""
    data = mirror.data_dir
    (data / "real").mkdir(parents=True)
    (data / "real" / "file.txt").write_bytes(b"mine")
    (data / "link_dir").symlink_to(outside, target_is_directory=True)
    (data / "link_file").symlink_to(outside / "secret.txt")
    (data / "real" / "link_dir2").symlink_to(outside, target_is_directory=True)
    return outside


def assert_refused(
    action: Callable[[], object], *, code: int | None = errno.ELOOP
) -> LocalStorageError:
    with pytest.raises(LocalStorageError) as info:
        action()
    assert info.value.errno == code
    assert "\n" not in str(info.value)
    return info.value


# ---------------------------------------------------------------- atomic downloads


def test_commit_places_the_content_with_the_remote_mtime_and_atime(mirror: Mirror) -> None:
    download(mirror, "Folder/Sub/report.docx", b"content")
    path = mirror.data_dir / "Folder" / "Sub" / "report.docx"
    st = path.stat()  # before reading it: a read may update the atime (relatime)
    assert st.st_mtime_ns == MODIFIED_NS
    assert st.st_atime_ns == MODIFIED_NS
    assert path.read_bytes() == b"content"
    assert sized(mirror.stat("Folder/Sub/report.docx")) == (7, MODIFIED_NS)
    assert temp_files(mirror.local_root) == []


def test_mtime_before_1970_and_with_an_offset_is_exact(mirror: Mirror) -> None:
    old = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc)
    assert timestamp_ns(old) == -500_000_000
    download(mirror, "old.txt", b"x", old)
    assert (mirror.data_dir / "old.txt").stat().st_mtime_ns == -500_000_000
    shifted = MODIFIED.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert timestamp_ns(shifted) == MODIFIED_NS


def test_temp_file_is_hidden_beside_the_destination_and_recognisable(mirror: Mirror) -> None:
    old_umask = os.umask(0o022)
    try:
        with mirror.open_temp("dir/file.txt") as tmp:
            tmp.write(b"partial")
            (entry,) = os.listdir(mirror.data_dir / "dir")
            assert entry.startswith(".file.txt.ms365sync-")
            assert is_temp_name(entry)
            assert tmp.path == mirror.data_dir / "dir" / entry
            assert tmp.file.name == str(tmp.path)  # download code names it in its errors
            assert stat.S_IMODE(tmp.path.stat().st_mode) == 0o644
            mirror.commit(tmp, "dir/file.txt", mtime=MODIFIED)
        assert os.listdir(mirror.data_dir / "dir") == ["file.txt"]
    finally:
        os.umask(old_umask)


def test_temp_file_mode_honours_the_umask(mirror: Mirror) -> None:
    old_umask = os.umask(0o077)
    try:
        download(mirror, "private.txt", b"x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((mirror.data_dir / "private.txt").stat().st_mode) == 0o600


def test_replacement_keeps_the_old_file_whole_until_commit(mirror: Mirror) -> None:
    download(mirror, "doc.txt", b"old version")
    target = mirror.data_dir / "doc.txt"
    with mirror.open_temp("doc.txt") as tmp:
        tmp.write(b"new")
        assert target.read_bytes() == b"old version"
        mirror.commit(tmp, "doc.txt", mtime=MODIFIED)
    assert target.read_bytes() == b"new"


def test_leaving_the_block_without_commit_discards(mirror: Mirror) -> None:
    download(mirror, "doc.txt", b"old")
    with mirror.open_temp("doc.txt") as tmp:
        tmp.write(b"abandoned")
    assert tmp.done
    assert (mirror.data_dir / "doc.txt").read_bytes() == b"old"
    assert temp_files(mirror.local_root) == []


def test_an_error_in_the_block_discards_and_propagates(mirror: Mirror) -> None:
    with pytest.raises(RuntimeError, match="network"), mirror.open_temp("new.txt") as tmp:
        tmp.write(b"half")
        raise RuntimeError("network went away")
    assert not (mirror.data_dir / "new.txt").exists()
    assert temp_files(mirror.local_root) == []


def test_explicit_discard_removes_the_temp_and_cannot_be_committed(mirror: Mirror) -> None:
    tmp = mirror.open_temp("a/b.txt")
    tmp.write(b"x")
    mirror.discard(tmp)
    assert temp_files(mirror.local_root) == []
    with pytest.raises(ValueError, match="already committed or discarded"):
        mirror.commit(tmp, "a/b.txt", mtime=MODIFIED)
    assert not (mirror.data_dir / "a" / "b.txt").exists()


def test_commit_twice_is_an_error(mirror: Mirror) -> None:
    with mirror.open_temp("x.txt") as tmp:
        mirror.commit(tmp, "x.txt", mtime=MODIFIED)
        with pytest.raises(ValueError, match="already committed"):
            mirror.commit(tmp, "x.txt", mtime=MODIFIED)


def test_commit_refuses_a_naive_mtime_and_the_temp_is_still_discarded(mirror: Mirror) -> None:
    with mirror.open_temp("x.txt") as tmp, pytest.raises(ValueError, match="timezone-aware"):
        mirror.commit(tmp, "x.txt", mtime=datetime(2024, 1, 1))
    assert not (mirror.data_dir / "x.txt").exists()
    assert temp_files(mirror.local_root) == []


def test_commit_refuses_another_destination(mirror: Mirror) -> None:
    with mirror.open_temp("x.txt") as tmp, pytest.raises(ValueError, match="opened for"):
        mirror.commit(tmp, "y.txt", mtime=MODIFIED)
    assert list(mirror.scan()) == []


def test_file_closed_early_still_commits_with_the_mtime(mirror: Mirror) -> None:
    with mirror.open_temp("x.txt") as tmp:
        tmp.file.write(b"abc")
        tmp.file.close()  # frees the descriptor while the replacement waits
        mirror.commit(tmp, "x.txt", mtime=MODIFIED)
    assert sized(mirror.stat("x.txt")) == (3, MODIFIED_NS)


def test_temp_file_of_a_255_byte_name_fits(mirror: Mirror) -> None:
    name = "é" * 127 + "x"
    with mirror.open_temp(name) as tmp:
        assert len(tmp.path.name.encode()) <= 255
        tmp.write(b"long")
        mirror.commit(tmp, name, mtime=MODIFIED)
    assert (mirror.data_dir / name).read_bytes() == b"long"


def test_temp_file_is_seekable_for_download_restarts(mirror: Mirror) -> None:
    with mirror.open_temp("x.txt") as tmp:
        start = tmp.file.tell()
        tmp.file.write(b"garbage from a cut download")
        tmp.file.seek(start)
        tmp.file.truncate()
        tmp.file.write(b"good")
        mirror.commit(tmp, "x.txt", mtime=MODIFIED)
    assert (mirror.data_dir / "x.txt").read_bytes() == b"good"


def killed_download(mirror: Mirror, rel: str) -> Path:
    """A temporary file as a run killed mid-download leaves it (it never left the block)."""
    tmp = mirror.open_temp(rel)
    tmp.write(b"partial")
    tmp.file.close()
    return tmp.path


def killed_export(mirror: Mirror, path: Path) -> Path:
    """The temporary file of a `write_atomic` killed before its rename."""
    stale = path.with_name(temp_name(path.name, "ffff0000"))
    mirror.journal.claim(stale)
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"partial")
    return stale


def test_cleanup_removes_exactly_the_temp_files_a_killed_run_recorded(
    mirror: Mirror, planted: Path
) -> None:
    data, root = mirror.data_dir, mirror.local_root
    stale = [
        killed_download(mirror, "top.txt"),
        killed_download(mirror, "a/mid.txt"),
        killed_download(mirror, "a/b/" + "é" * 127 + "x"),
        killed_export(mirror, root / ".permissions.json"),
        killed_export(mirror, root / "sync_logs" / "sync_changes_20260101_000000.json"),
    ]
    # Files of the user's named exactly like ours, never recorded: not ours to remove.
    lookalikes = [
        data / "a" / temp_name("notes.txt", "abcd1234"),
        data / temp_name("top.txt", "aaaa1111"),
        root / temp_name(".permissions.json", "abcd1234"),
        root / "sync_logs" / temp_name("mine.json", "abcd1234"),
    ]
    for path in lookalikes:
        path.write_bytes(b"keep")
    # Recorded names now holding something else, or reached through a link: left alone.
    kept_dir = data / temp_name("dir.txt", "dddd4444")
    kept_link = data / temp_name("link.txt", "eeee5555")
    for path in (kept_dir, kept_link, data / "link_dir" / temp_name("bait.txt", "abcd1234")):
        mirror.journal.claim(path)
    kept_dir.mkdir()
    kept_link.symlink_to(planted / "secret.txt")
    before_outside = snapshot(planted)
    mirror.close()

    next_run = Mirror(root)
    assert next_run.cleanup_temp_files() == 5

    assert not any(path.exists() for path in stale)
    assert all(path.read_bytes() == b"keep" for path in lookalikes)
    assert kept_dir.is_dir() and kept_link.is_symlink()
    assert snapshot(planted) == before_outside
    assert next_run.journal.recorded() == []
    assert next_run.cleanup_temp_files() == 0


def test_a_taken_temporary_name_is_released_and_never_cleaned_up(
    mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    (mirror.data_dir / "a").mkdir(parents=True)
    theirs = mirror.data_dir / "a" / temp_name("x.txt", "aaaa1111")
    theirs.write_bytes(b"someone else's")
    tokens = iter(["aaaa1111", "bbbb2222"])
    monkeypatch.setattr("ms365sync.localfs.syscalls._temp_token", lambda: next(tokens))
    ours = killed_download(mirror, "a/x.txt")
    assert ours.name == temp_name("x.txt", "bbbb2222")
    assert mirror.journal.recorded() == [f"data/a/{ours.name}"]
    assert mirror.cleanup_temp_files() == 1
    assert theirs.read_bytes() == b"someone else's" and not ours.exists()


def test_a_parked_file_is_recorded_and_a_taken_parking_name_is_released(
    mirror: Mirror,
) -> None:
    download(mirror, "a/x.txt", b"x")
    parked = mirror.park("a/x.txt", "mv000001")
    assert parked == "a/" + temp_name("x.txt", "mv000001")
    download(mirror, "a/y.txt", b"y")
    taken = mirror.data_dir / "a" / temp_name("y.txt", "mv000002")
    taken.write_bytes(b"theirs")
    with pytest.raises(LocalStorageError):
        mirror.park("a/y.txt", "mv000002")
    recorded = mirror.journal.recorded()  # also the two downloads' names (renamed since)
    assert f"data/{parked}" in recorded and f"data/a/{taken.name}" not in recorded
    assert mirror.cleanup_temp_files() == 1
    assert taken.read_bytes() == b"theirs"
    assert (mirror.data_dir / "a" / "y.txt").read_bytes() == b"y"


def test_a_run_whose_temporary_files_are_all_gone_leaves_an_empty_journal(
    mirror: Mirror,
) -> None:
    """Committed, discarded and abandoned downloads, a parked and unparked file and an
    export: nothing is left for the next run to look up, so closing empties the journal."""
    download(mirror, "a/x.txt", b"x")
    download(mirror, "a/y.txt", b"y")
    with mirror.open_temp("a/gone.txt") as tmp:
        tmp.write(b"discarded")
    with pytest.raises(RuntimeError), mirror.open_temp("a/failed.txt") as tmp:
        raise RuntimeError("the download failed")
    parked = mirror.park("a/x.txt", "mv000001")
    mirror.move("a/y.txt", "a/x.txt")
    mirror.unpark(parked, "a/y.txt")
    write_atomic(mirror.local_root / ".permissions.json", b"{}", journal=mirror.journal)
    assert len(mirror.journal.recorded()) == 6
    mirror.close()
    assert mirror.journal.path.stat().st_size == 0
    assert temp_files(mirror.local_root) == []
    assert (mirror.data_dir / "a" / "x.txt").read_bytes() == b"y"
    assert (mirror.data_dir / "a" / "y.txt").read_bytes() == b"x"


def test_the_journal_is_kept_while_a_temporary_file_may_remain(mirror: Mirror) -> None:
    download(mirror, "done.txt", b"done")
    stale = killed_download(mirror, "a/partial.txt")
    mirror.close()
    assert f"data/a/{stale.name}" in mirror.journal.recorded()
    next_run = Mirror(mirror.local_root)
    assert next_run.cleanup_temp_files() == 1
    assert not stale.exists()


def test_a_killed_runs_records_survive_a_run_that_stops_before_its_cleanup(
    mirror: Mirror,
) -> None:
    """The journal of a killed run, then a run that writes an export (settled) and stops
    before its cleanup: the killed run's record is still there for the run after."""
    stale = killed_download(mirror, "a/partial.txt")
    mirror.close()
    next_run = Mirror(mirror.local_root)
    write_atomic(next_run.local_root / ".permissions.json", b"{}", journal=next_run.journal)
    next_run.close()
    assert f"data/a/{stale.name}" in next_run.journal.recorded()
    third = Mirror(mirror.local_root)
    assert third.cleanup_temp_files() == 1
    assert not stale.exists()
    download(third, "b.txt", b"b")
    third.close()
    assert third.journal.path.stat().st_size == 0


def test_the_journal_ignores_a_record_cut_short_and_refuses_a_symlink(mirror: Mirror) -> None:
    journal = mirror.journal
    journal.claim(mirror.data_dir / "one")
    mirror.close()
    with open(journal.path, "ab") as file:
        file.write(b"+data/cut-sh")  # a killed write: no terminator
    assert journal.recorded() == ["data/one"]
    journal.path.unlink()
    journal.path.symlink_to(mirror.local_root / "elsewhere")
    assert_refused(lambda: journal.claim(mirror.data_dir / "two"))
    assert_refused(journal.recorded)
    assert not (mirror.local_root / "elsewhere").exists()


def test_cleanup_of_a_missing_mirror_is_nothing(mirror: Mirror) -> None:
    assert mirror.cleanup_temp_files() == 0
    assert not mirror.local_root.exists()


# ---------------------------------------------------------------- confinement


@pytest.mark.parametrize(
    "bad",
    ["", "/etc/passwd", "..", "../x", "a/../../x", "a//b", "./a", "a/.", "a/", "a\x00b"],
)
def test_unsafe_relative_paths_are_refused_everywhere(mirror: Mirror, bad: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: mirror.resolve(bad),
        lambda: mirror.open_temp(bad),
        lambda: mirror.delete(bad),
        lambda: mirror.move("x", bad),
        lambda: mirror.move(bad, "x"),
        lambda: mirror.exists(bad),
        lambda: mirror.stat(bad),
        lambda: mirror.hash_file(bad),
        lambda: mirror.set_mtime(bad, MODIFIED, placed=None),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="not a safe path"):
            call()
    assert not mirror.local_root.exists()


def test_resolve_confines_and_refuses_symlinks(mirror: Mirror, planted: Path) -> None:
    assert mirror.resolve("real/file.txt") == mirror.data_dir / "real" / "file.txt"
    assert mirror.resolve("new/dir/x.txt") == mirror.data_dir / "new" / "dir" / "x.txt"
    assert_refused(lambda: mirror.resolve("link_dir/secret.txt"))
    assert_refused(lambda: mirror.resolve("link_file"))
    assert_refused(lambda: mirror.resolve("real/link_dir2/sub/deep.txt"))


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda m: m.open_temp("link_dir/new.txt"), id="write-into-dir-link"),
        pytest.param(lambda m: m.open_temp("link_dir/secret.txt"), id="overwrite-through-dir-link"),
        pytest.param(lambda m: m.open_temp("real/link_dir2/sub/x.txt"), id="write-nested-link"),
        pytest.param(lambda m: m.open_temp("link_dir/made/x.txt"), id="mkdir-through-link"),
        pytest.param(lambda m: m.delete("link_dir/secret.txt"), id="delete-through-dir-link"),
        pytest.param(lambda m: m.delete("link_file"), id="delete-file-link"),
        pytest.param(lambda m: m.delete("real/link_dir2/sub/deep.txt"), id="delete-nested"),
        pytest.param(lambda m: m.hash_file("link_file"), id="hash-file-link"),
        pytest.param(lambda m: m.hash_file("link_dir/secret.txt"), id="hash-through-dir-link"),
        pytest.param(lambda m: m.stat("link_file"), id="stat-file-link"),
        pytest.param(lambda m: m.stat("link_dir/secret.txt"), id="stat-through-dir-link"),
        pytest.param(lambda m: m.exists("link_dir/secret.txt"), id="exists-through-dir-link"),
        pytest.param(
            lambda m: m.set_mtime("link_file", MODIFIED, placed=None), id="utime-file-link"
        ),
        pytest.param(
            lambda m: m.set_mtime("link_dir/secret.txt", MODIFIED, placed=None), id="utime-through"
        ),
        pytest.param(lambda m: m.move("real/file.txt", "link_dir/stolen.txt"), id="move-into-link"),
        pytest.param(lambda m: m.move("link_dir/secret.txt", "got.txt"), id="move-out-of-link"),
        pytest.param(lambda m: m.move("link_file", "moved_link"), id="move-the-link"),
        pytest.param(
            lambda m: m.move("real/file.txt", "link_file", replace=True), id="replace-the-link"
        ),
    ],
)
def test_operations_through_a_planted_symlink_are_refused(
    mirror: Mirror, planted: Path, operation: Callable[[Mirror], object]
) -> None:
    before_outside = snapshot(planted)
    before_data = snapshot(mirror.data_dir)
    assert_refused(lambda: operation(mirror))
    assert snapshot(planted) == before_outside
    assert snapshot(mirror.data_dir) == before_data


def test_commit_onto_a_planted_file_symlink_is_refused(mirror: Mirror, planted: Path) -> None:
    before = snapshot(planted)
    with mirror.open_temp("link_file") as tmp:
        tmp.write(b"overwrite attempt")
        assert_refused(lambda: mirror.commit(tmp, "link_file", mtime=MODIFIED))
    assert (mirror.data_dir / "link_file").is_symlink()
    assert snapshot(planted) == before
    assert temp_files(mirror.local_root) == []


def test_commit_onto_a_directory_is_refused(mirror: Mirror) -> None:
    (mirror.data_dir / "taken" / "child").mkdir(parents=True)
    with mirror.open_temp("taken") as tmp:
        assert_refused(lambda: mirror.commit(tmp, "taken", mtime=MODIFIED), code=errno.EISDIR)
    assert (mirror.data_dir / "taken" / "child").is_dir()
    assert temp_files(mirror.local_root) == []


def test_a_directory_swapped_for_a_symlink_before_commit_is_not_followed(
    mirror: Mirror, planted: Path
) -> None:
    before = snapshot(planted)
    with mirror.open_temp("swap/file.txt") as tmp:
        tmp.write(b"payload")
        (mirror.data_dir / "swap").rename(mirror.data_dir / "swapped")
        (mirror.data_dir / "swap").symlink_to(planted, target_is_directory=True)
        assert_refused(lambda: mirror.commit(tmp, "swap/file.txt", mtime=MODIFIED))
    assert snapshot(planted) == before


def test_data_dir_itself_a_symlink_is_refused(mirror: Mirror, outside: Path) -> None:
    mirror.local_root.mkdir()
    mirror.data_dir.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    error = assert_refused(lambda: mirror.open_temp("x.txt"))
    assert "data/ itself" in str(error)
    assert_refused(lambda: mirror.delete("secret.txt"))
    assert_refused(lambda: mirror.hash_file("secret.txt"))
    assert_refused(lambda: list(mirror.scan()))
    mirror.journal.claim(mirror.data_dir / temp_name("bait.txt", "abcd1234"))
    assert mirror.cleanup_temp_files() == 0  # a recorded name behind the link is not followed
    assert snapshot(outside) == before


def test_scan_reports_symlinks_without_following_them(mirror: Mirror, planted: Path) -> None:
    (mirror.data_dir / "real" / temp_name("file.txt", "abcd1234")).write_bytes(b"partial")
    entries = {entry.rel: entry for entry in mirror.scan()}
    assert set(entries) == {"link_dir", "link_file", "real", "real/file.txt", "real/link_dir2"}
    assert entries["link_dir"].kind == "symlink"
    assert entries["link_file"].kind == "symlink"
    assert entries["real/link_dir2"].kind == "symlink"
    assert entries["real"].kind == "dir"
    assert entries["real/file.txt"] == LocalEntry(
        "real/file.txt", 4, (mirror.data_dir / "real" / "file.txt").stat().st_mtime_ns, "file"
    )


def test_scan_lists_parents_first_sorted_and_reports_other_kinds(mirror: Mirror) -> None:
    download(mirror, "b/2.txt", b"22")
    download(mirror, "b/1.txt", b"1")
    download(mirror, "a.txt", b"")
    os.mkfifo(mirror.data_dir / "fifo")
    kinds = [(entry.rel, entry.kind) for entry in mirror.scan()]
    assert kinds == [
        ("a.txt", "file"),
        ("b", "dir"),
        ("b/1.txt", "file"),
        ("b/2.txt", "file"),
        ("fifo", "other"),
    ]


def test_scan_of_a_missing_mirror_is_empty(mirror: Mirror) -> None:
    assert list(mirror.scan()) == []


# ---------------------------------------------------------------- moves and deletes


def test_move_creates_parents_and_prunes_emptied_ones(mirror: Mirror) -> None:
    download(mirror, "old/deep/er/file.txt", b"x")
    download(mirror, "old/sibling.txt", b"y")
    mirror.move("old/deep/er/file.txt", "new/place/file.txt")
    assert sized(mirror.stat("new/place/file.txt")) == (1, MODIFIED_NS)
    assert not (mirror.data_dir / "old" / "deep").exists()
    assert (mirror.data_dir / "old" / "sibling.txt").read_bytes() == b"y"


def test_move_refuses_to_overwrite_unless_asked(mirror: Mirror) -> None:
    download(mirror, "a.txt", b"a")
    download(mirror, "b.txt", b"b")
    error = assert_refused(lambda: mirror.move("a.txt", "b.txt"), code=errno.EEXIST)
    assert "already exists" in str(error)
    assert (mirror.data_dir / "a.txt").read_bytes() == b"a"
    assert (mirror.data_dir / "b.txt").read_bytes() == b"b"
    mirror.move("a.txt", "b.txt", replace=True)
    assert (mirror.data_dir / "b.txt").read_bytes() == b"a"
    assert not (mirror.data_dir / "a.txt").exists()


def test_move_never_replaces_a_directory(mirror: Mirror) -> None:
    download(mirror, "a.txt", b"a")
    (mirror.data_dir / "dir").mkdir()
    assert_refused(lambda: mirror.move("a.txt", "dir", replace=True), code=errno.EISDIR)
    assert (mirror.data_dir / "a.txt").exists()


def test_move_a_directory(mirror: Mirror) -> None:
    download(mirror, "folder/one.txt", b"1")
    download(mirror, "folder/sub/two.txt", b"2")
    mirror.move("folder", "archive/folder")
    assert mirror.hash_file("archive/folder/sub/two.txt") == (1, quickxorhash(b"2"))
    assert not (mirror.data_dir / "folder").exists()


def test_move_of_a_missing_file_says_so(mirror: Mirror) -> None:
    download(mirror, "present.txt", b"x")
    error = assert_refused(lambda: mirror.move("absent.txt", "x.txt"), code=errno.ENOENT)
    assert str(mirror.data_dir / "absent.txt") in str(error)
    assert not (mirror.data_dir / "x.txt").exists()


def test_move_to_itself_changes_nothing(mirror: Mirror) -> None:
    download(mirror, "a.txt", b"a")
    mirror.move("a.txt", "a.txt")
    assert (mirror.data_dir / "a.txt").read_bytes() == b"a"


def test_delete_removes_emptied_parents_but_never_data(mirror: Mirror) -> None:
    download(mirror, "a/b/c/file.txt", b"x")
    download(mirror, "a/keep.txt", b"y")
    assert mirror.delete("a/b/c/file.txt") is True
    assert not (mirror.data_dir / "a" / "b").exists()
    assert (mirror.data_dir / "a" / "keep.txt").exists()
    assert mirror.delete("a/keep.txt") is True
    assert mirror.data_dir.is_dir()
    assert list(mirror.data_dir.iterdir()) == []


def test_delete_keeps_a_parent_holding_someone_elses_empty_directory(mirror: Mirror) -> None:
    download(mirror, "a/file.txt", b"x")
    (mirror.data_dir / "a" / "theirs").mkdir()
    mirror.delete("a/file.txt")
    assert (mirror.data_dir / "a" / "theirs").is_dir()


def test_delete_of_a_missing_file_is_not_an_error(mirror: Mirror) -> None:
    assert mirror.delete("nothing.txt") is False
    download(mirror, "file.txt", b"x")
    assert mirror.delete("no/such/dir.txt") is False
    assert mirror.delete("file.txt/below") is False
    assert (mirror.data_dir / "file.txt").exists()


def test_delete_never_removes_a_directory(mirror: Mirror) -> None:
    download(mirror, "dir/file.txt", b"x")
    assert_refused(lambda: mirror.delete("dir"), code=errno.EISDIR)
    assert (mirror.data_dir / "dir" / "file.txt").exists()


# ---------------------------------------------------------------- reads


@pytest.mark.parametrize("size", [0, 1, 159, 160, (1 << 20) + 17, 3 << 20])
def test_hash_file_streams_the_quickxorhash(mirror: Mirror, size: int) -> None:
    data = os.urandom(size)
    download(mirror, "blob.bin", data)
    assert mirror.hash_file("blob.bin") == (size, quickxorhash(data))


def test_hash_file_refuses_non_files_without_blocking(mirror: Mirror) -> None:
    mirror.data_dir.mkdir(parents=True)
    os.mkfifo(mirror.data_dir / "fifo")
    (mirror.data_dir / "dir").mkdir()
    error = assert_refused(lambda: mirror.hash_file("fifo"), code=None)
    assert "not a regular file" in str(error)
    assert_refused(lambda: mirror.hash_file("dir"), code=errno.EISDIR)
    assert_refused(lambda: mirror.hash_file("missing"), code=errno.ENOENT)


def test_stat_and_exists(mirror: Mirror, planted: Path) -> None:
    assert mirror.stat("missing") is None
    assert mirror.stat("real/missing/deeper") is None
    assert mirror.stat("real/file.txt/below") is None
    assert mirror.stat("real/file.txt") is not None
    assert_refused(lambda: mirror.stat("real"), code=errno.EISDIR)
    assert mirror.exists("real")
    assert mirror.exists("real/file.txt")
    assert mirror.exists("link_file")  # the name is taken, though never followed
    assert not mirror.exists("missing")


def sized(found: LocalStat | None) -> tuple[int, int] | None:
    """Size and mtime: what a test of the content and the time compares."""
    return None if found is None else (found.size, found.mtime_ns)


def test_set_mtime_in_place_on_the_file_the_mirror_placed(mirror: Mirror) -> None:
    download(mirror, "x.txt", b"x", datetime(2000, 1, 1, tzinfo=timezone.utc))
    placed = mirror.stat("x.txt")
    assert placed is not None and placed.ino is not None
    after = mirror.set_mtime("x.txt", MODIFIED, placed=placed.ino)
    assert after == LocalStat(1, MODIFIED_NS, placed.ino) == mirror.stat("x.txt")


@pytest.mark.parametrize("how", ["hard-linked", "swapped", "unknown"])
def test_set_mtime_copies_a_file_the_mirror_does_not_own(
    mirror: Mirror, tmp_path: Path, how: str
) -> None:
    """A hard link to a file elsewhere, another file in its place, or a file recorded
    without its inode: the time goes on a copy of the mirror's own, never on that inode."""
    download(mirror, "x.txt", b"bytes", datetime(2000, 1, 1, tzinfo=timezone.utc))
    placed = mirror.stat("x.txt")
    assert placed is not None
    elsewhere = tmp_path / "elsewhere.txt"
    if how == "hard-linked":
        os.link(mirror.data_dir / "x.txt", elsewhere)
    elif how == "swapped":
        elsewhere.write_bytes(b"bytes")
        (mirror.data_dir / "x.txt").unlink()
        os.link(elsewhere, mirror.data_dir / "x.txt")
        os.unlink(elsewhere)  # one link again, but not the inode the mirror placed
    outside_before = elsewhere.stat().st_mtime_ns if elsewhere.exists() else None
    there = (mirror.data_dir / "x.txt").stat().st_ino
    after = mirror.set_mtime("x.txt", MODIFIED, placed=None if how == "unknown" else placed.ino)
    assert sized(after) == (5, MODIFIED_NS) and after.ino != there
    assert mirror.stat("x.txt") == after and (mirror.data_dir / "x.txt").stat().st_nlink == 1
    assert (mirror.data_dir / "x.txt").read_bytes() == b"bytes"
    if outside_before is not None:
        assert elsewhere.stat().st_mtime_ns == outside_before
    assert temp_files(mirror.data_dir) == []


# ---------------------------------------------------------------- disk errors


class FullDisk(io.FileIO):
    """A real file whose writes fail as on a full disk."""

    def write(self, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk_fdopen(fd: int, mode: str = "r", buffering: int = -1) -> io.FileIO:
    return FullDisk(fd, "wb")


def os_call_failing(
    real: Callable[..., object], code: int, when: Callable[..., bool]
) -> Callable[..., object]:
    def fake(*args: object, **kwargs: object) -> object:
        if when(*args, **kwargs):
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    return fake


@pytest.fixture
def existing(mirror: Mirror) -> Iterator[Path]:
    download(mirror, "doc.txt", b"old")
    path = mirror.data_dir / "doc.txt"
    yield path
    assert path.read_bytes() == b"old"
    assert path.stat().st_mtime_ns == MODIFIED_NS
    assert temp_files(mirror.local_root) == []


def test_disk_full_on_a_large_write(
    mirror: Mirror, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fdopen", full_disk_fdopen)
    with mirror.open_temp("doc.txt") as tmp:
        error = assert_refused(lambda: tmp.write(b"x" * (2 << 20)), code=errno.ENOSPC)
    assert "no space left on device" in str(error)
    assert error.path == tmp.path
    assert error.hint is not None


def test_disk_full_when_the_last_bytes_are_flushed_at_commit(
    mirror: Mirror, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fdopen", full_disk_fdopen)
    with mirror.open_temp("doc.txt") as tmp:
        tmp.write(b"small")  # buffered: the disk is only asked at commit
        error = assert_refused(
            lambda: mirror.commit(tmp, "doc.txt", mtime=MODIFIED), code=errno.ENOSPC
        )
    assert "no space left on device" in str(error)
    assert error.path == existing


def test_disk_full_at_rename(
    mirror: Mirror, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        os, "replace", os_call_failing(os.replace, errno.ENOSPC, lambda *a, **k: True)
    )
    with mirror.open_temp("doc.txt") as tmp:
        tmp.write(b"new")
        error = assert_refused(
            lambda: mirror.commit(tmp, "doc.txt", mtime=datetime.now(timezone.utc)),
            code=errno.ENOSPC,
        )
    assert str(error).startswith(f"{existing}: cannot write: no space left on device")


def test_read_only_file_system_when_creating_the_temp(
    mirror: Mirror, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creating = lambda path, flags, *a, **k: bool(flags & os.O_CREAT)  # noqa: E731
    monkeypatch.setattr(os, "open", os_call_failing(os.open, errno.EROFS, creating))
    error = assert_refused(lambda: mirror.open_temp("doc.txt"), code=errno.EROFS)
    assert "read-only file system" in str(error)
    assert "create a temporary file" in str(error)


def test_permission_denied_on_mkdir(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    download(mirror, "keep.txt", b"x")
    new_dir = lambda path, *a, **k: path == "new"  # noqa: E731
    monkeypatch.setattr(os, "mkdir", os_call_failing(os.mkdir, errno.EACCES, new_dir))
    error = assert_refused(lambda: mirror.open_temp("new/dir/file.txt"), code=errno.EACCES)
    assert "permission denied" in str(error)
    assert [e.rel for e in mirror.scan()] == ["keep.txt"]


def test_operation_not_permitted_on_delete(
    mirror: Mirror, existing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "unlink", os_call_failing(os.unlink, errno.EPERM, lambda *a, **k: True))
    error = assert_refused(lambda: mirror.delete("doc.txt"), code=errno.EPERM)
    assert "permission denied" in str(error)


@pytest.mark.skipif(ROOT_IGNORES_MODES, reason="root ignores directory permissions")
def test_read_only_directory_is_permission_denied(mirror: Mirror, existing: Path) -> None:
    mirror.data_dir.chmod(0o555)
    try:
        error = assert_refused(lambda: mirror.open_temp("doc.txt"), code=errno.EACCES)
        assert "permission denied" in str(error)
        assert_refused(lambda: mirror.delete("doc.txt"), code=errno.EACCES)
        assert_refused(lambda: mirror.move("doc.txt", "other.txt"), code=errno.EACCES)
    finally:
        mirror.data_dir.chmod(0o755)


def test_name_too_long_for_the_file_system(mirror: Mirror) -> None:
    name = "x" * 300  # never produced by names.py; the file system itself refuses it
    with mirror.open_temp(name) as tmp:
        assert len(tmp.path.name) <= 255
        error = assert_refused(
            lambda: mirror.commit(tmp, name, mtime=MODIFIED), code=errno.ENAMETOOLONG
        )
    assert "file name too long" in str(error)
    assert temp_files(mirror.local_root) == []
    assert_refused(lambda: mirror.open_temp(f"{name}/x.txt"), code=errno.ENAMETOOLONG)


# ---------------------------------------------------------------- atomic exports


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "target" / "sync_logs" / "run.json"
    write_atomic(path, b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["run.json"]


def test_write_atomic_syncs_the_file_and_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_atomic(tmp_path / "x.json", b"{}")
    assert synced == [False, True]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_write_atomic_failure_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    path = tmp_path / ".permissions.json"
    path.write_bytes(b"old")
    monkeypatch.setattr(os, "replace", os_call_failing(os.replace, code, lambda *a, **k: True))
    with pytest.raises(LocalStorageError) as info:
        write_atomic(path, b"new")
    assert info.value.errno == code
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: cannot write: ")
    assert ("no space left on device" if code == errno.ENOSPC else "read-only file system") in str(
        info.value
    )
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == [".permissions.json"]


def test_write_json_atomic_format(tmp_path: Path) -> None:
    path = tmp_path / "perm.json"
    write_json_atomic(path, {"b": 1, "a": {"name": "Café"}})
    text = path.read_bytes().decode("utf-8")
    assert text == '{\n  "a": {\n    "name": "Café"\n  },\n  "b": 1\n}\n'
    write_json_atomic(path, {"b": 1, "a": 2}, sort_keys=False)
    assert list(json.loads(path.read_text())) == ["b", "a"]


def test_write_json_atomic_keeps_an_unpaired_surrogate_valid(tmp_path: Path) -> None:
    path = tmp_path / "perm.json"
    write_json_atomic(path, {"name": "bad\ud800name"})
    assert json.loads(path.read_bytes().decode("utf-8")) == {"name": "bad\ud800name"}


# ---------------------------------------------------------------- mapped names on a real disk

segment = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=8),
    st.sampled_from(["..", ".", "", "CON", "a/b", "x" * 300, "é" * 200, "name. ", "a\\b"]),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(segment, min_size=1, max_size=3), min_size=1, max_size=4, unique_by=tuple))
def test_mapped_paths_land_inside_data_and_scan_back(paths: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as top:
        mirror = Mirror(Path(top) / "target")
        outside = snapshot(Path(top))
        placed: dict[str, bytes] = {}
        for index, remote in enumerate(paths):
            result = local_relpath_from_segments(remote, root=mirror.data_dir)
            assert isinstance(result, MappedPath)
            if any(
                p == result.rel or p.startswith(result.rel + "/") or result.rel.startswith(p + "/")
                for p in placed
            ):
                continue  # a file where another path needs a folder: the planner's problem
            download(mirror, result.rel, str(index).encode())
            placed[result.rel] = str(index).encode()
        files = {e.rel: e for e in mirror.scan() if e.kind == "file"}
        assert set(files) == set(placed)
        for rel, content in placed.items():
            assert (mirror.data_dir / rel).read_bytes() == content
            assert mirror.data_dir in (mirror.data_dir / rel).resolve().parents
        assert {
            k: v for k, v in snapshot(Path(top)).items() if not k.startswith("target")
        } == outside
        assert temp_files(mirror.local_root) == []
