"""The dry-run listing's paths per kind: a move shown once as `old -> new` (not as a
deletion), repairs and errors listed with the rest, and the cap per kind."""

from __future__ import annotations

import io

from rich.console import Console

from ms365sync.cli.changes import KINDS, changed_paths, print_listing
from ms365sync.outputs.changelog import (
    AddedEntry,
    ChangeLog,
    Changes,
    DeletedEntry,
    ErrorEntry,
    RepairEntry,
    Summary,
    TargetInfo,
)


def _log() -> ChangeLog:
    def added(path: str, moved_from: str | None = None) -> AddedEntry:
        return AddedEntry(
            permissions=[], file_path=f"/m/{path}", item_id=path, size=1, moved_from=moved_from
        )

    return ChangeLog(
        timestamp="2026-01-20_14-30-45",
        summary=Summary(
            total_files=3,
            added_count=2,
            modified_count=0,
            deleted_count=2,
            permission_only_changes_count=0,
        ),
        changes=Changes(
            added={"b.txt": added("b.txt"), "new/a.txt": added("new/a.txt", "old/a.txt")},
            deleted={
                "old/a.txt": DeletedEntry(
                    permissions=[], item_id="a", reason="moved", moved_to="new/a.txt"
                ),
                "gone.txt": DeletedEntry(permissions=[], item_id="g", reason="deleted"),
            },
        ),
        errors={"locked.pdf": ErrorEntry(reason="423 Locked", item_id="l")},
        repairs={"c.txt": RepairEntry(reason="edited locally", file_path="/m/c.txt", item_id="c")},
        run_id="r",
        target=TargetInfo(name="t"),
        dry_run=True,
    )


def test_each_path_under_its_kind() -> None:
    paths = changed_paths(_log())
    assert list(paths) == list(KINDS)
    assert paths["add"] == ["b.txt"]
    assert paths["move"] == ["old/a.txt -> new/a.txt"]
    assert paths["delete"] == ["gone.txt"]
    assert paths["repair"] == ["c.txt"]
    assert paths["error"] == ["locked.pdf: 423 Locked"]
    assert paths["modify"] == paths["permission-only"] == []


def test_listing_caps_each_kind() -> None:
    out = io.StringIO()
    paths = {kind: [] for kind in KINDS} | {"add": [f"f{i}" for i in range(5)]}
    print_listing(Console(file=out, width=200), "t", paths, max_lines=2, refused=None)
    assert out.getvalue().splitlines() == [
        "t: (dry run) would:",
        "  add (5):",
        "    f0",
        "    f1",
        "    ... and 3 more",
    ]
