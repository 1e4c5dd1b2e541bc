"""Files whose names hold "/" or "\\", as an earlier version keyed them (names joined plainly),
and how a run must report them under their own keys: moved, never downloaded again."""

from __future__ import annotations

from pathlib import Path

from ms365sync.emulator import BytesContent
from ms365sync.models import path_key
from ms365sync.outputs.logstream import LogDocument
from support.harness import World, make_world

# names -> the key an earlier version gave the file
LEGACY = {("sl", "a/b.txt"): "sl/a/b.txt", ("back\\slash.txt",): "back\\slash.txt"}


def mirrored_world(tmp_path: Path) -> World:
    """A library holding the LEGACY files, mirrored once (under their new keys)."""
    world = make_world(tmp_path, strict_names=False)
    for names in LEGACY:
        world.tenant.add_file(world.drive, names, BytesContent("/".join(names).encode()))
    world.ok()
    return world


def assert_reported_as_moves(world: World, log: LogDocument | None) -> None:
    """Each LEGACY file reported moved from its old key to its own, nothing downloaded."""
    assert log is not None
    moved = {path_key(names): old for names, old in LEGACY.items()}
    assert {key: entry.moved_from for key, entry in log.changes.added.items()} == moved
    assert {key: entry.moved_to for key, entry in log.changes.deleted.items()} == {
        old: new for new, old in moved.items()
    }
    assert world.recorder.downloads() == []
