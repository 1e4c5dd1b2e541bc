"""Hostile remote names and symbolic links planted in data/: nothing escapes the mirror.

Every name SharePoint could hand over (and some it should not): dot names, separators and
backslashes, NUL and control characters, Windows device names, trailing dots and spaces,
names over 255 bytes, names equal but for case or Unicode normalisation, paths deeper than
PATH_MAX, names shaped like ms365sync's own temporary or mapped names. Nothing may ever be
written or deleted outside data/ (a snapshot of everything beside the target says so), and
each case is reported: mirrored under a safe name with `name_mapped`, or listed in
`errors`. Names holding "/" or "\\" have keys of their own, apart from the paths their names
would read as when joined, through moves and a rebuild of the state store.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent, Role
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.models import path_key
from ms365sync.target import GRANTS_FILE
from support.harness import FIRST_FILES, World, make_world, tree_snapshot
from support.legacy_keys import LEGACY, assert_reported_as_moves, mirrored_world

HOSTILE: dict[str, list[str]] = {
    "dot-dot folder": ["..", "evil.txt"],
    "dot-dot file": ["dots", ".."],
    "dot file": ["dots", "."],
    "slash": ["a/b.txt"],
    "slash climbing": ["x/../../../../escape.txt"],
    "backslash climbing": ["..\\..\\windows.txt"],
    "nul": ["x\x00y.txt"],
    "newline": ["line\nbreak.txt"],
    "carriage return": ["cr\r.txt"],
    "terminal escape": ["esc\x1b[31mred.txt"],
    "bell and delete": ["bell\x07del\x7f.txt"],
    "device name": ["CON"],
    "device name with extension": ["nul.txt"],
    "device folder": ["LPT1", "f.txt"],
    "com port": ["com9.log"],
    "trailing dot": ["trailing."],
    "trailing space": ["trailing "],
    "trailing dot folder": ["folder. ", "f.txt"],
    "windows forbidden": ['a<b>c:d"e|f?g*.txt'],
    "long name": ["n" * 300 + ".txt"],
    "long multibyte name": ["é" * 200 + ".txt"],
    "long folder": ["d" * 300, "f.txt"],
    "looks temporary": [".x.txt.ms365sync-abcd1234.part"],
    "looks mapped": ["x~abcdefghij.txt"],
    "deep": ["deep", *(["d" * 200] * 25), "f.txt"],
}
# Pairs that are one name on case-insensitive or normalising file systems (APFS, NTFS).
COLLIDING = {
    "case": (["Report.txt"], ["REPORT.txt"]),
    "normalisation": (["café.txt"], [unicodedata.normalize("NFD", "café.txt")]),
}


def _path(segments: list[str]) -> str:
    return path_key(segments)


@pytest.fixture
def hostile(tmp_path: Path) -> World:
    world = make_world(tmp_path, strict_names=False)
    for index, segments in enumerate(HOSTILE.values()):
        world.tenant.add_file(world.drive, segments, BytesContent(f"hostile {index}".encode()))
    for first, second in COLLIDING.values():
        world.tenant.add_file(world.drive, first, BytesContent(b"first"))
        world.tenant.add_file(world.drive, second, BytesContent(b"second"))
    (tmp_path / "beside").mkdir()
    (tmp_path / "beside" / "keep.txt").write_text("not ms365sync's")
    return world


def _outside(tmp_path: Path) -> dict[str, tuple[str, int, str]]:
    """Everything under tmp_path except the target itself."""
    return {k: v for k, v in tree_snapshot(tmp_path).items() if not k.startswith("target")}


def _assert_confined(world: World) -> None:
    data = (world.root / "data").resolve()
    for path in (world.root / "data").rglob("*"):
        assert not path.is_symlink(), path
        assert path.resolve().is_relative_to(data), path
        assert "\x00" not in path.name and len(path.name.encode()) <= 255, path


def test_every_hostile_name_is_mirrored_safely_or_reported(hostile: World, tmp_path: Path) -> None:
    outside = _outside(tmp_path)
    log = hostile.ok().log
    assert log is not None
    assert _outside(tmp_path) == outside
    _assert_confined(hostile)
    for case, segments in HOSTILE.items():
        path = _path(segments)
        entry = log.changes.added.get(path)
        if entry is None:
            assert path in log.errors, f"{case}: neither mirrored nor reported"
            continue
        assert entry.name_mapped, f"{case}: mirrored under a changed name without a note"
        on_disk = Path(entry.file_path)
        assert on_disk.resolve().is_relative_to((hostile.root / "data").resolve()), case
        content = hostile.tenant.item(hostile.drive, segments).content
        assert content is not None and on_disk.read_bytes() == content.read_all(), case
    assert "too deep" in log.errors[_path(HOSTILE["deep"])].reason
    for case, (first, second) in COLLIDING.items():
        mirrored = {_path(s) for s in (first, second)} & set(log.changes.added)
        reported = {_path(s) for s in (first, second)} & set(log.errors)
        assert len(mirrored) == 1 and len(reported) == 1, case
        assert "same local name" in log.errors[reported.pop()].reason, case
    again = hostile.ok()
    assert again.log is not None and not again.log.has_changes and again.log_path is None


def test_renaming_and_deleting_hostile_files_stays_inside(hostile: World, tmp_path: Path) -> None:
    first = hostile.ok().log
    assert first is not None
    outside = _outside(tmp_path)
    t, d = hostile.tenant, hostile.drive
    t.rename(d, HOSTILE["slash"], "../../renamed.txt")
    t.move(d, HOSTILE["nul"], HOSTILE["dot-dot folder"][:1])
    t.delete(d, HOSTILE["long folder"][:1])
    t.delete(d, HOSTILE["dot-dot file"][:1])
    t.edit_file(d, HOSTILE["device name"], BytesContent(b"edited device"))
    log = hostile.ok(force=True).log
    assert log is not None
    assert _outside(tmp_path) == outside
    _assert_confined(hostile)
    assert log.changes.added["..\\/..\\/renamed.txt"].moved_from == "a\\/b.txt"
    assert log.changes.added["../x\x00y.txt"].moved_from == "x\x00y.txt"
    assert {"d" * 300 + "/f.txt", "dots/.."} <= set(log.changes.deleted)
    assert set(log.changes.modified) == {"CON"}
    assert Path(log.changes.modified["CON"].file_path).read_bytes() == b"edited device"


@pytest.mark.parametrize("kind", ["file", "folder", "data itself"])
def test_symlinks_planted_in_data_are_never_followed(
    world: World, tmp_path: Path, kind: str
) -> None:
    """A link to a file or a folder outside, in place of a mirrored file, folder or data/
    itself: remote edits, deletions, moves and new files there never touch the outside."""
    world.ok()
    target = tmp_path / "outside"
    target.mkdir()
    (target / "budget.csv").write_text("secret budget")
    (target / "q1.txt").write_text("secret q1")
    data = world.root / "data"
    if kind == "file":
        (data / "Finance" / "q1.txt").unlink()
        (data / "Finance" / "q1.txt").symlink_to(target / "q1.txt")
        (data / "Plans" / "budget.csv").unlink()
        (data / "Plans" / "budget.csv").symlink_to(target / "budget.csv")
    elif kind == "folder":
        shutil.rmtree(data / "Plans")
        (data / "Plans").symlink_to(target, target_is_directory=True)
    else:
        shutil.move(data, tmp_path / "old-data")
        data.symlink_to(target, target_is_directory=True)
    outside = _outside(tmp_path)
    t, d = world.tenant, world.drive
    t.edit_file(d, "Finance/q1.txt", BytesContent(b"q1 v2"))
    t.delete(d, "Plans/budget.csv")
    t.add_file(d, "Plans/new.txt", BytesContent(b"new"))
    t.move(d, "Plans/2026/plan.txt", "Finance")
    result = world.sync(force=True)
    assert _outside(tmp_path) == outside
    if kind == "data itself":
        assert not result.ok and "symbolic link" in str(result.error)
        return
    log = result.log
    assert result.ok and log is not None
    failed = {"Finance/q1.txt", "Plans/budget.csv"} if kind == "file" else {"Plans/new.txt"}
    assert failed <= set(log.errors), log.errors
    for path in failed:
        assert "symbolic link" in log.errors[path].reason or "in the way" in log.errors[path].reason
    assert not failed & (set(log.changes.added) | set(log.changes.modified))


# Names holding the separators, beside the paths their names would read as when joined with
# "/" (in folder `sl`: one file named `a/b.txt`, and `b.txt` in a folder `a`), with the key
# each must have: inside a name "\" is written "\\" and "/" is written "\/".
SEPARATED: dict[tuple[str, ...], str] = {
    ("sl", "a/b.txt"): "sl/a\\/b.txt",
    ("sl", "a", "b.txt"): "sl/a/b.txt",
    ("sl", "a\\", "b.txt"): "sl/a\\\\/b.txt",  # `a\` + `/b.txt`: "a\/b.txt" unless "\" is escaped
    ("sl", "a\\/b.txt"): "sl/a\\\\\\/b.txt",
    ("sl", "x/y", "c.txt"): "sl/x\\/y/c.txt",
    ("sl", "x", "y", "c.txt"): "sl/x/y/c.txt",
}


@pytest.fixture
def separated(tmp_path: Path) -> World:
    """The files of SEPARATED, each with its own content, two with grants of their own."""
    world = make_world(tmp_path, strict_names=False)
    t, d = world.tenant, world.drive
    for index, segments in enumerate(SEPARATED):
        t.add_file(d, segments, BytesContent(f"file {index}".encode()))
    t.grant(d, ["sl", "a/b.txt"], "user:alice@contoso.onmicrosoft.com", Role.READ)
    t.grant(d, ["sl", "a", "b.txt"], "user:bob@contoso.onmicrosoft.com", Role.WRITE)
    return world


def _labels(world: World, segments: Sequence[str]) -> list[str]:
    return expected_labels(world.tenant, world.drive, world.tenant.item(world.drive, segments))


def test_names_holding_separators_have_keys_of_their_own(separated: World) -> None:
    """Each file is reported once under its own key, with its own permissions, in the change
    log, .permissions.json and the grants file, and mirrored with its own content."""
    world = separated
    log = world.ok().log
    assert log is not None
    grants = json.loads((world.root / GRANTS_FILE).read_text())["files"]
    permissions = world.permissions_json()
    for segments, key in SEPARATED.items():
        item = world.tenant.item(world.drive, segments)
        assert item.content is not None
        entry = log.changes.added[key]
        assert Path(entry.file_path).read_bytes() == item.content.read_all(), key
        assert list(entry.permissions) == _labels(world, segments), key
        assert permissions[key] == _labels(world, segments), key
        assert grants[key]["item_id"] == item.id, key
    assert permissions["sl/a\\/b.txt"] != permissions["sl/a/b.txt"]
    assert len(log.changes.added) == len(FIRST_FILES) + len(SEPARATED)
    assert not log.errors
    again = world.ok()
    assert again.log is not None and not again.log.has_changes


def test_names_holding_separators_keep_their_keys_through_a_state_rebuild(
    separated: World,
) -> None:
    """With the state store damaged, the mirror's records are rebuilt from .permissions.json
    under the same keys: nothing is re-reported or downloaded again, and what changed
    meanwhile is reported under the key of the file that changed."""
    world = separated
    world.ok()
    permissions = world.permissions_json()
    world.tenant.edit_file(world.drive, ["sl", "a", "b.txt"], BytesContent(b"edited"))
    world.tenant.grant(world.drive, ["sl", "x/y", "c.txt"], "group:Finance Team", Role.READ)
    db = world.root / ".ms365sync" / "state.db"
    db.write_bytes(b"not a database!!" + db.read_bytes()[16:])
    world.recorder.reset()
    result = world.ok()
    assert any("rebuilt from .permissions.json" in note for note in result.counters.notes)
    log = result.log
    assert log is not None
    assert set(log.changes.modified) == {"sl/a/b.txt"}
    assert set(log.changes.permission_only_changes) == {"sl/x\\/y/c.txt"}
    assert not log.changes.added and not log.changes.deleted and not log.errors
    assert len(world.recorder.downloads()) == 1  # only the edited file
    assert world.permissions_json() == permissions | {
        "sl/x\\/y/c.txt": _labels(world, ["sl", "x/y", "c.txt"])
    }
    assert world.ok().log_path is None


def test_moving_names_holding_separators_reports_their_keys(separated: World) -> None:
    """Renaming a file or a folder whose name holds a separator, and moving a file into such
    a folder, report each move from the old key to the new one, once."""
    world = separated
    world.ok()
    world.recorder.reset()
    t, d = world.tenant, world.drive
    t.rename(d, ["sl", "a/b.txt"], "a/c.txt")
    t.rename(d, ["sl", "x/y"], "x\\y")
    t.move(d, ["sl", "a", "b.txt"], ["sl", "x\\y"])
    log = world.ok().log
    assert log is not None
    moves = {key: entry.moved_from for key, entry in log.changes.added.items()}
    assert moves == {
        "sl/a\\/c.txt": "sl/a\\/b.txt",
        "sl/x\\\\y/c.txt": "sl/x\\/y/c.txt",
        "sl/x\\\\y/b.txt": "sl/a/b.txt",
    }
    deleted = log.changes.deleted
    assert {key: (entry.reason, entry.moved_to) for key, entry in deleted.items()} == {
        old: ("moved", new) for new, old in moves.items()
    }
    assert world.recorder.downloads() == []  # moved on disk, not downloaded again


def test_a_mirror_recorded_under_unescaped_keys_reports_the_new_keys_as_moves(
    tmp_path: Path,
) -> None:
    """A state store written before names were escaped holds such files under their names
    joined by "/": the next run reports each as moved from that key to its own (an index
    keyed by the old one follows), without downloading it again, and then nothing more."""
    world = mirrored_world(tmp_path)
    db = sqlite3.connect(world.root / ".ms365sync" / "state.db")
    with db:
        for segments, old in LEGACY.items():
            db.execute("UPDATE mirror SET path = ? WHERE path = ?", (old, path_key(segments)))
    db.close()
    world.recorder.reset()
    assert_reported_as_moves(world, world.ok().log)
    assert set(world.permissions_json()) >= {path_key(segments) for segments in LEGACY}
    quiet = world.ok().log
    assert quiet is not None and not quiet.has_changes
