"""The change log: its structure, and each change event reported exactly once, across crashes
before and after the commit and interrupted exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ms365sync.emulator import BytesContent, Role
from ms365sync.errors import LocalStorageError
from ms365sync.outputs.changelog import ChangeLog
from ms365sync.state.store import StateStore
from ms365sync.sync import publish
from support.harness import FIRST_FILES, World

ORIGINAL_SUMMARY = {
    "total_files",
    "added_count",
    "modified_count",
    "deleted_count",
    "permission_only_changes_count",
}


def _every_kind_of_change(world: World) -> None:
    t, d = world.tenant, world.drive
    t.add_file(d, "Plans/new.txt", BytesContent(b"new"))
    t.edit_file(d, "readme.md", BytesContent(b"# v2\n"))
    t.grant(d, "readme.md", "user:bob@contoso.onmicrosoft.com", Role.READ)
    t.grant(d, "Finance/q1.txt", "user:alice@contoso.onmicrosoft.com", Role.WRITE)
    t.delete(d, "Plans/budget.csv")


def _load(path: Path | None) -> dict[str, Any]:
    assert path is not None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_log_has_the_original_structure(world: World) -> None:
    world.ok()
    _every_kind_of_change(world)
    result = world.ok()
    raw = _load(result.log_path)
    ChangeLog.model_validate(raw)  # our model, extra="forbid": no stray keys
    assert {"timestamp", "summary", "changes"} <= set(raw)
    assert set(raw["summary"]) >= ORIGINAL_SUMMARY
    changes = raw["changes"]
    assert set(changes) == {"added", "modified", "permission_only_changes", "deleted"}
    data = world.root / "data"

    added = changes["added"]["Plans/new.txt"]
    assert {"permissions", "file_path"} <= set(added)
    assert added["file_path"] == str(data / "Plans/new.txt")
    assert added["permissions"] == world.expected_labels("Plans/new.txt")

    modified = changes["modified"]["readme.md"]
    assert {"content_changed", "permissions_changed", "file_path", "permission_changes"} <= set(
        modified
    )
    assert modified["content_changed"] is True and modified["permissions_changed"] is True
    assert modified["file_path"] == str(data / "readme.md")
    assert set(modified["permission_changes"]) == {"added", "removed", "current"}
    assert modified["permission_changes"]["added"] == ["Bob Smith:::View"]
    assert modified["permission_changes"]["current"] == world.expected_labels("readme.md")

    only = changes["permission_only_changes"]["Finance/q1.txt"]
    assert {"permission_changes", "file_path"} <= set(only)
    assert only["permission_changes"]["added"] == ["Alice Jones:::Edit"]
    assert only["permission_changes"]["removed"] == []

    deleted = changes["deleted"]["Plans/budget.csv"]
    assert "permissions" in deleted and "file_path" not in deleted
    assert deleted["permissions"] == [
        "Marketing Members:::Edit",
        "Marketing Owners:::Full Control",
        "Marketing Visitors:::View",
    ]
    assert raw["summary"]["total_files"] == len(world.remote_files())
    assert raw["summary"]["added_count"] == 1
    assert raw["summary"]["modified_count"] == 1
    assert raw["summary"]["deleted_count"] == 1
    assert raw["summary"]["permission_only_changes_count"] == 1


def test_log_keys_are_library_relative(world: World) -> None:
    result = world.ok()
    raw = _load(result.log_path)
    assert set(raw["changes"]["added"]) == set(FIRST_FILES)
    assert raw["summary"]["total_files"] == len(FIRST_FILES)


def test_no_log_on_a_noop_run_unless_asked(world: World) -> None:
    world.ok()
    quiet = world.ok()
    assert quiet.log_path is None and len(world.logs()) == 1
    assert any("no change" in note for note in quiet.counters.notes)
    empty = world.ok(write_empty_logs=True)
    raw = _load(empty.log_path)
    assert raw["summary"]["added_count"] == 0
    assert all(not section for section in raw["changes"].values())
    assert len(world.logs()) == 2


def _fail_once(monkeypatch: pytest.MonkeyPatch, target: Any, name: str) -> list[int]:
    original = getattr(target, name)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise LocalStorageError("simulated crash while exporting", path="x")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)
    return calls


def test_export_interrupted_after_commit_is_completed_next_start(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_once(monkeypatch, publish, "write_atomic")
    crashed = world.sync()
    assert not crashed.ok and isinstance(crashed.error, LocalStorageError)
    assert world.logs() == []  # the log was committed, not yet written
    assert world.data() == FIRST_FILES
    nxt = world.ok()
    (log,) = world.logs()
    raw = _load(log)
    assert set(raw["changes"]["added"]) == set(FIRST_FILES)
    assert nxt.log is not None and not nxt.log.has_changes  # nothing reported twice
    assert nxt.log_path is None
    assert set(world.permissions_json()) == set(FIRST_FILES)


def test_export_interrupted_before_it_was_marked_done(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ok()
    _every_kind_of_change(world)
    _fail_once(monkeypatch, StateStore, "export_done")
    crashed = world.sync()
    assert not crashed.ok
    before = {p.name: p.read_text() for p in world.logs()}
    assert len(before) == 2
    world.ok()
    after = {p.name: p.read_text() for p in world.logs()}
    assert after == before  # written again under the same name with the same content
    assert _load(world.logs()[-1])["changes"]["added"].keys() == {"Plans/new.txt"}


def test_crash_before_commit_neither_loses_nor_repeats(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ok()
    _every_kind_of_change(world)
    original = StateStore.record_run

    def crash(self: StateStore, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the process is killed inside the run transaction

    monkeypatch.setattr(StateStore, "record_run", crash)
    with pytest.raises(KeyboardInterrupt):
        world.sync()
    monkeypatch.setattr(StateStore, "record_run", original)
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None
    assert set(log.changes.added) == {"Plans/new.txt"}
    assert set(log.changes.modified) == {"readme.md"}
    assert set(log.changes.deleted) == {"Plans/budget.csv"}
    assert set(log.changes.permission_only_changes) == {"Finance/q1.txt"}
    # The bytes fetched by the killed run were kept and adopted, not fetched again.
    assert world.recorder.downloads() == []
    assert world.data() == world.remote_files()
    assert len(world.logs()) == 2
    again = world.ok()
    assert again.log is not None and not again.log.has_changes


def test_every_event_is_reported_once_across_runs(world: World) -> None:
    world.ok()
    _every_kind_of_change(world)
    world.ok()
    world.ok()
    world.tenant.edit_file(world.drive, "Plans/new.txt", BytesContent(b"newer"))
    world.ok()
    seen: dict[tuple[str, str], int] = {}
    for path in world.logs():
        raw = _load(path)
        for section, entries in raw["changes"].items():
            for key in entries:
                seen[(section, key)] = seen.get((section, key), 0) + 1
    assert seen[("added", "Plans/new.txt")] == 1
    assert seen[("modified", "Plans/new.txt")] == 1
    assert seen[("modified", "readme.md")] == 1
    assert seen[("deleted", "Plans/budget.csv")] == 1
    assert seen[("permission_only_changes", "Finance/q1.txt")] == 1
    assert len(world.logs()) == 3


def test_crash_after_moves_and_deletions_were_applied(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    t.move(d, "Plans/2026", "Finance")
    t.delete(d, "readme.md")
    original = StateStore.record_run

    def crash(self: StateStore, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(StateStore, "record_run", crash)
    with pytest.raises(KeyboardInterrupt):
        world.sync()
    assert "Plans/budget-2026.csv" in world.data()  # the killed run had moved it
    monkeypatch.setattr(StateStore, "record_run", original)
    world.recorder.reset()
    result = world.ok()
    log = result.log
    assert log is not None
    assert set(log.changes.added) == {"Plans/budget-2026.csv", "Finance/2026/plan.txt"}
    assert log.changes.added["Plans/budget-2026.csv"].moved_from == "Plans/budget.csv"
    assert set(log.changes.deleted) == {"Plans/budget.csv", "Plans/2026/plan.txt", "readme.md"}
    assert world.recorder.downloads() == []
    assert world.data() == world.remote_files()


def test_the_log_file_is_the_change_log_as_json_byte_for_byte(world: World) -> None:
    result = world.ok()
    assert result.log is not None and result.log_path is not None
    written = result.log_path.read_bytes()
    assert written == result.log.to_json_bytes() == result.log.to_json().encode("utf-8")
