"""A damaged state store or .permissions.json: a full listing, the mirror kept, and only real
differences reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent, Role
from ms365sync.models import path_key
from support.harness import FIRST_FILES, World, make_world
from support.legacy_keys import LEGACY, assert_reported_as_moves, mirrored_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _damage_state(world: World, how: str) -> None:
    db = world.root / ".ms365sync" / "state.db"
    if how == "truncated":
        db.write_bytes(db.read_bytes()[:1000])
    else:
        data = bytearray(db.read_bytes())
        data[100:4000] = b"\x00garbage" * 487
        db.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_damaged_state_is_rebuilt_without_re_reporting_the_mirror(world: World, how: str) -> None:
    world.ok()
    before = world.data()
    _damage_state(world, how)
    world.recorder.reset()
    result = world.ok()
    assert result.log is None or not result.log.has_changes
    assert world.data() == before == FIRST_FILES
    assert any("rebuilt from .permissions.json" in note for note in result.counters.notes)
    assert list((world.root / ".ms365sync").glob("state.db.corrupt-*"))
    assert world.recorder.downloads() == []  # nothing downloaded again
    assert world.ok().log_path is None  # and the rebuilt state is a normal one


def test_changes_made_while_the_state_was_damaged_are_reported_once(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.edit_file(d, "readme.md", BytesContent(b"# Marketing v2\n"))
    t.delete(d, "Plans/budget.csv")
    t.add_file(d, "new.txt", BytesContent(b"new"))
    t.grant(d, "Finance/q1.txt", "user:alice@contoso.onmicrosoft.com", Role.READ)
    _damage_state(world, "garbage")
    result = world.ok()
    assert result.log is not None
    changes = result.log.changes
    assert set(changes.added) == {"new.txt"}
    assert set(changes.modified) == {"readme.md"}
    assert set(changes.deleted) == {"Plans/budget.csv"}
    assert set(changes.permission_only_changes) == {"Finance/q1.txt"}
    assert world.data()["readme.md"] == b"# Marketing v2\n"
    assert world.ok().log_path is None


def test_damaged_state_and_permissions_file_resync_from_scratch(world: World) -> None:
    world.ok()
    _damage_state(world, "garbage")
    (world.root / ".permissions.json").write_text("{not json")
    result = world.ok()
    assert result.log is not None and set(result.log.changes.added) == set(FIRST_FILES)
    assert any("rebuilt from scratch" in note for note in result.counters.notes)
    assert world.data() == FIRST_FILES


@pytest.mark.parametrize("damage", ["{not json", '["a list"]', '{"a.txt": [1, 2]}', ""])
def test_damaged_permissions_file_is_written_again(world: World, damage: str) -> None:
    world.ok()
    good = json.loads((world.root / ".permissions.json").read_text())
    (world.root / ".permissions.json").write_text(damage)
    result = world.ok()
    assert result.log is None or not result.log.has_changes
    assert json.loads((world.root / ".permissions.json").read_text()) == good


def test_keys_written_before_names_were_escaped_are_rebuilt_as_moves(tmp_path: Path) -> None:
    """A .permissions.json an earlier version wrote keys a file whose name holds "/" or "\\"
    by its names joined plainly: the rebuild matches that key to the one file whose names
    join to it, so the file is reported moved to its own key, as with the state intact, and
    not downloaded again."""
    world = mirrored_world(tmp_path)
    permissions = world.permissions_json()
    for segments, old in LEGACY.items():
        permissions[old] = permissions.pop(path_key(segments))
    (world.root / ".permissions.json").write_text(json.dumps(permissions))
    _damage_state(world, "garbage")
    world.recorder.reset()
    log = world.ok().log
    assert_reported_as_moves(world, log)
    assert log is not None and not log.changes.modified and not log.errors
    assert world.ok().log_path is None
