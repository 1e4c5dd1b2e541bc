"""Filters changing between runs: newly excluded files are reported deleted (reason "excluded"),
newly included ones added, and excluded files stay out even when they change remotely."""

from __future__ import annotations

from pathlib import Path

from ms365sync.emulator import BytesContent
from ms365sync.target import Filters
from support.harness import World, make_world


def test_filters_changing_between_runs(world: World) -> None:
    first = world.ok(filters=Filters(include=("*.txt",)))
    assert first.log is not None
    assert set(first.log.changes.added) == {"Plans/2026/plan.txt", "Finance/q1.txt"}
    assert set(world.data()) == {"Plans/2026/plan.txt", "Finance/q1.txt"}
    world.recorder.reset()
    second = world.ok(filters=Filters(exclude=("Plans/",)))
    log = second.log
    assert log is not None
    assert set(log.changes.added) == {"readme.md"}  # newly included
    assert set(log.changes.deleted) == {"Plans/2026/plan.txt"}  # newly excluded
    assert log.changes.deleted["Plans/2026/plan.txt"].reason == "excluded"
    assert set(world.data()) == {"readme.md", "Finance/q1.txt"}
    assert len(world.recorder.downloads()) == 1
    assert set(world.permissions_json()) == {"readme.md", "Finance/q1.txt"}
    # Excluded files stay out even when they change remotely.
    world.tenant.edit_file(world.drive, "Plans/budget.csv", BytesContent(b"x"))
    quiet = world.ok(filters=Filters(exclude=("Plans/",)))
    assert quiet.log is not None and not quiet.log.has_changes
    back = world.ok()
    assert back.log is not None
    assert set(back.log.changes.added) == {"Plans/2026/plan.txt", "Plans/budget.csv"}


def test_patterns_see_the_key_of_a_name_holding_a_separator(tmp_path: Path) -> None:
    """Patterns are matched against a file's key, where a name's "/" is written "\\/": to a
    pattern that name spans two levels, `sl/a/` names the folder `a` only, and the file
    named `a/b.txt` is named by the key's text, its backslash escaped as in .gitignore."""
    world = make_world(tmp_path, strict_names=False)
    world.tenant.add_file(world.drive, ["sl", "a/b.txt"], BytesContent(b"one name"))
    world.tenant.add_file(world.drive, ["sl", "a", "b.txt"], BytesContent(b"in folder a"))
    cases = {
        ("sl/a/",): {"sl/a\\/b.txt"},
        ("sl/a\\\\/b.txt",): {"sl/a/b.txt"},
        ("sl/*/b.txt",): set(),
        ("sl/a?/b.txt",): {"sl/a/b.txt"},
    }
    for exclude, kept in cases.items():
        log = world.ok(filters=Filters(include=("sl/",), exclude=exclude)).log
        assert log is not None
        assert set(world.permissions_json()) == kept, exclude
