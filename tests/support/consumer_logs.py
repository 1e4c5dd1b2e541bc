"""Change logs as a run writes them, for the consumer's tests."""

from __future__ import annotations

from pathlib import Path

from ms365sync.outputs.changelog import (
    AddedEntry,
    ChangeLog,
    Changes,
    Summary,
    TargetInfo,
    parse_log_name,
)


def write_log(root: Path, name: str, added: dict[str, str] | None = None) -> Path:
    """A valid change log `name` in root/sync_logs adding `added` (path -> item id)."""
    entries = {
        path: AddedEntry(
            permissions=["Owners:::Full Control"],
            file_path=str(root / "data" / path),
            item_id=item,
            size=1,
        )
        for path, item in (added or {}).items()
    }
    position = parse_log_name(name)
    assert position is not None
    log = ChangeLog(
        timestamp=position.stamp,
        summary=Summary(
            total_files=len(entries),
            added_count=len(entries),
            modified_count=0,
            deleted_count=0,
            permission_only_changes_count=0,
        ),
        changes=Changes(added=entries),
        run_id=name,
        target=TargetInfo(name=root.name),
    )
    path = root / "sync_logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(log.to_json(), encoding="utf-8")
    return path
