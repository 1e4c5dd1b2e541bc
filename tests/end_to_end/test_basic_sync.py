"""End to end against the in-process emulator: first sync, incremental changes, permissions."""

from __future__ import annotations

import json

from ms365sync.emulator import BytesContent, Role
from support.harness import World


def test_first_sync_mirrors_files_and_permissions(world: World) -> None:
    result = world.sync()
    assert result.ok, result.error
    assert world.data() == {
        "readme.md": b"# Marketing\n",
        "Plans/2026/plan.txt": b"plan v1",
        "Plans/budget.csv": b"a,b\n1,2\n",
        "Finance/q1.txt": b"q1 numbers",
    }
    perms = json.loads((world.root / ".permissions.json").read_text())
    assert perms["Finance/q1.txt"] == [
        "Finance Team:::Edit",
        "Marketing Members:::Edit",
        "Marketing Owners:::Full Control",
    ]
    assert perms["readme.md"] == [
        "Marketing Members:::Edit",
        "Marketing Owners:::Full Control",
        "Marketing Visitors:::View",
    ]
    assert result.log is not None and result.log_path is not None
    assert set(result.log.changes.added) == set(perms)
    assert json.loads(result.log_path.read_text())["summary"]["added_count"] == 4


def test_noop_resync_writes_no_log(world: World) -> None:
    assert world.sync().ok
    again = world.sync()
    assert again.ok and again.log is not None
    assert not again.log.has_changes
    assert again.log_path is None
    assert len(list((world.root / "sync_logs").iterdir())) == 1


def test_incremental_changes(world: World) -> None:
    assert world.sync().ok
    t, d = world.tenant, world.drive
    t.add_file(d, "Plans/new.txt", BytesContent(b"new"))
    t.edit_file(d, "readme.md", BytesContent(b"# Marketing v2\n"))
    t.rename(d, "Plans/budget.csv", "budget-2026.csv")
    t.move(d, "Plans/2026", "Finance")
    t.delete(d, "Finance/q1.txt")
    t.grant(d, "Plans/new.txt", "user:alice@contoso.onmicrosoft.com", Role.READ)
    result = world.sync()
    assert result.ok, result.error
    log = result.log
    assert log is not None
    assert set(log.changes.added) == {
        "Plans/new.txt",
        "Plans/budget-2026.csv",
        "Finance/2026/plan.txt",
    }
    assert log.changes.added["Plans/budget-2026.csv"].moved_from == "Plans/budget.csv"
    assert log.changes.added["Finance/2026/plan.txt"].moved_from == "Plans/2026/plan.txt"
    assert "Alice Jones:::View" in log.changes.added["Plans/new.txt"].permissions
    assert set(log.changes.deleted) == {
        "Finance/q1.txt",
        "Plans/budget.csv",
        "Plans/2026/plan.txt",
    }
    assert log.changes.deleted["Finance/q1.txt"].reason == "deleted"
    assert set(log.changes.modified) == {"readme.md"}
    assert world.data()["readme.md"] == b"# Marketing v2\n"
    assert "Finance/2026/plan.txt" in world.data()
    # A third run finds nothing more to do.
    third = world.sync()
    assert third.ok and third.log is not None and not third.log.has_changes


def test_permission_only_change_and_metadata_edit(world: World) -> None:
    assert world.sync().ok
    t, d = world.tenant, world.drive
    t.grant(d, "Finance", "user:bob@contoso.onmicrosoft.com", Role.READ)
    t.touch(d, "readme.md")
    result = world.sync()
    assert result.ok and result.log is not None
    changes = result.log.changes
    assert set(changes.permission_only_changes) == {"Finance/q1.txt"}
    entry = changes.permission_only_changes["Finance/q1.txt"]
    assert entry.permission_changes.added == ["Bob Smith:::View"]
    assert not changes.modified and not changes.added
