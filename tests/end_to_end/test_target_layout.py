"""The target's layout on disk: data/, .permissions.json, the grants file, sync_logs/ and the
state under .ms365sync/, nothing outside the local root, and change logs that never overwrite
each other (or someone else's file)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent
from ms365sync.sync import syncer
from support.harness import FIRST_FILES, World

STAMP = "2024-01-20_14-30-45"


def test_target_layout(world: World) -> None:
    result = world.ok()
    root = world.root
    assert sorted(p.name for p in root.iterdir()) == [
        ".ms365sync",
        ".permissions.grants.json",
        ".permissions.json",
        "data",
        "sync_logs",
    ]
    assert world.data() == FIRST_FILES
    assert (root / ".ms365sync" / "state.db").is_file()
    (log,) = world.logs()
    assert re.fullmatch(r"sync_changes_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.json", log.name)
    assert result.log_path == log
    assert json.loads(log.read_text())["timestamp"] == log.name[len("sync_changes_") : -5]
    assert set(world.permissions_json()) == set(FIRST_FILES)


def test_logs_never_overwrite_each_other(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syncer, "timestamp", lambda _now: STAMP)
    first = world.ok()
    world.tenant.add_file(world.drive, "second.txt", BytesContent(b"2"))
    second = world.ok()
    # Someone else's file with the next free name is respected as well.
    foreign = world.root / "sync_logs" / f"sync_changes_{STAMP}_3.json"
    foreign.write_text("not ours")
    world.tenant.add_file(world.drive, "third.txt", BytesContent(b"3"))
    third = world.ok()
    assert [p.name for p in (first.log_path, second.log_path, third.log_path) if p] == [
        f"sync_changes_{STAMP}.json",
        f"sync_changes_{STAMP}_2.json",
        f"sync_changes_{STAMP}_4.json",
    ]
    assert foreign.read_text() == "not ours"
    assert set(json.loads(first.log_path.read_text())["changes"]["added"]) == set(FIRST_FILES)  # type: ignore[union-attr]
    assert set(json.loads(second.log_path.read_text())["changes"]["added"]) == {"second.txt"}  # type: ignore[union-attr]
    assert set(json.loads(third.log_path.read_text())["changes"]["added"]) == {"third.txt"}  # type: ignore[union-attr]


def test_state_lives_under_the_local_root(world: World, tmp_path: Path) -> None:
    world.ok()
    # Nothing is written outside the local root.
    outside = sorted(p.name for p in tmp_path.iterdir())
    assert outside == ["target"]
