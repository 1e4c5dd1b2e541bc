"""A damaged state store or .permissions.json, through the command line: rebuilt, not re-reported.

The state store emptied, truncated, with a garbage header or garbage pages, or replaced by
something else; .permissions.json unparsable, truncated, of the wrong shape or gone. The
next `ms365sync` run detects it, recovers by a full listing, keeps the mirror (unchanged
files are not downloaded again: their inodes stay), reports exactly the changes made
meanwhile (nothing re-reported), and leaves a consistent state behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.emulator import BytesContent, Emulator, Role
from support.cli import served
from support.reliability import (
    Library,
    assert_events,
    assert_mirror_equals_export,
    assert_state_consistent,
    expected_events,
    library_named,
    truth,
)

TARGET = "marketing/Shared Documents"


def _garbage_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[4096 : 4096 * 3] = b"\xde\xad\xbe\xef" * 2048
    db.write_bytes(bytes(data))


def _replaced_by_folder(db: Path) -> None:
    db.unlink()
    db.mkdir()
    (db / "stray").write_text("x")


def _removed(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


STATE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "emptied": lambda db: db.write_bytes(b""),
    "removed": _removed,
    "truncated": lambda db: db.write_bytes(db.read_bytes()[: db.stat().st_size // 2]),
    "garbage-header": lambda db: db.write_bytes(b"not a database!!" + db.read_bytes()[16:]),
    "garbage-pages": _garbage_pages,
    "a-text-file": lambda db: db.write_text("hello\n"),
    "a-folder": _replaced_by_folder,
}
PERMISSIONS_DAMAGE: dict[str, Callable[[Path], None]] = {
    "unparsable": lambda p: p.write_text("{not json"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "a-list": lambda p: p.write_text('["Marketing Owners:::Full Control"]'),
    "wrong-values": lambda p: p.write_text('{"README.md": [1, 2]}'),
    "emptied": lambda p: p.write_text(""),
    "removed": lambda p: p.unlink(),
}


def _sync(config: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["--config", str(config), "--only", TARGET, "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def _change(emulator: Emulator, library: Library) -> None:
    t, d = emulator.tenant, library.drive
    files = sorted(d.files(), key=lambda i: i.path)
    t.edit_file(d, files[0].path, BytesContent(b"edited while the state was damaged"))
    t.delete(d, files[1].path)
    t.add_file(d, "added while damaged.txt", BytesContent(b"new"))
    t.grant(d, files[2].path, "user:ben.carter@contoso.onmicrosoft.com", Role.READ)


def _inodes(data: Path) -> dict[str, int]:
    return {p.relative_to(data).as_posix(): p.stat().st_ino for p in data.rglob("*") if p.is_file()}


def _recovery(tmp_path: Path, damage: Callable[[Path], None], file: str) -> dict[str, object]:
    with served(tmp_path) as world:
        library = library_named(world.emulator.tenant, tmp_path / "mirror", TARGET)
        _sync(world.config)
        before, logs = truth(world.emulator.tenant, library.drive), library.logs()
        _change(world.emulator, library)
        after = truth(world.emulator.tenant, library.drive)
        inodes = _inodes(library.local_root / "data")
        damage(library.local_root / file)
        report = _sync(world.config)
        assert_events(library.logs() - logs, expected_events(before, after))
        changed = {before[i].path for i in before.keys() - after.keys()} | {
            after[i].path for i in after if i in before and after[i].digest != before[i].digest
        }
        now = _inodes(library.local_root / "data")
        kept = {p for p in inodes.keys() & now.keys() if p not in changed}
        assert {p: now[p] for p in kept} == {p: inodes[p] for p in kept}, "downloaded again"
        assert_mirror_equals_export(
            world.emulator.tenant, tmp_path / "mirror", tmp_path / "exports", [library]
        )
        assert_state_consistent(library.local_root)
        quiet = _sync(world.config)
        assert quiet["targets"][0]["change_log"] is None  # type: ignore[index]
    return report


@pytest.mark.parametrize("how", list(STATE_DAMAGE))
def test_a_damaged_state_store_is_rebuilt_without_re_reporting(tmp_path: Path, how: str) -> None:
    report = _recovery(tmp_path, STATE_DAMAGE[how], ".ms365sync/state.db")
    (target,) = report["targets"]  # type: ignore[misc]
    assert any("rebuilt from .permissions.json" in note for note in target["notes"]), target
    assert target["full_listing"]
    aside = list((tmp_path / "mirror" / TARGET / ".ms365sync").glob("state.db.corrupt-*"))
    # A damaged store is kept aside for inspection; a removed one left nothing to keep.
    assert bool(aside) == (how != "removed")


@pytest.mark.parametrize("how", PERMISSIONS_DAMAGE, ids=list(PERMISSIONS_DAMAGE))
def test_a_damaged_permissions_file_is_written_again(tmp_path: Path, how: str) -> None:
    _recovery(tmp_path, PERMISSIONS_DAMAGE[how], ".permissions.json")


def test_both_damaged_keeps_the_mirror(tmp_path: Path) -> None:
    """With both the store and .permissions.json gone, what was reported before cannot be
    known: every file is reported again (as added), but nothing is downloaded again and
    nothing is lost."""
    with served(tmp_path) as world:
        library = library_named(world.emulator.tenant, tmp_path / "mirror", TARGET)
        _sync(world.config)
        inodes = _inodes(library.local_root / "data")
        os.unlink(library.local_root / ".permissions.json")
        STATE_DAMAGE["garbage-header"](library.local_root / ".ms365sync" / "state.db")
        report = _sync(world.config)
        assert report["targets"][0]["added"] == len(inodes)  # type: ignore[index]
        assert _inodes(library.local_root / "data") == inodes
        assert_state_consistent(library.local_root)
        assert_mirror_equals_export(
            world.emulator.tenant, tmp_path / "mirror", tmp_path / "exports", [library]
        )
