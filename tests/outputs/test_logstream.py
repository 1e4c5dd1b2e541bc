"""The streamed change log is byte for byte what pydantic writes for the same log."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ms365sync.outputs.changelog import (
    AddedEntry,
    ChangeLog,
    Changes,
    DeletedEntry,
    ErrorEntry,
    ModifiedEntry,
    PermissionChangesEntry,
    PermissionOnlyEntry,
    RepairEntry,
    Summary,
    TargetInfo,
)
from ms365sync.outputs.logstream import SECTIONS, LogDocument, Section

texts = st.text(min_size=0, max_size=12)  # any code point: quotes, controls, emoji, "/"
optional = st.none() | texts
labels = st.lists(texts, max_size=3)
diffs = st.builds(PermissionChangesEntry, added=labels, removed=labels, current=labels)
sizes = st.integers(min_value=0, max_value=2**53)

ENTRIES = {
    "added": st.builds(
        AddedEntry,
        permissions=labels,
        file_path=texts,
        item_id=texts,
        size=sizes,
        last_modified=optional,
        moved_from=optional,
        name_mapped=optional,
    ),
    "modified": st.builds(
        ModifiedEntry,
        content_changed=st.booleans(),
        permissions_changed=st.booleans(),
        file_path=texts,
        permission_changes=diffs,
        item_id=texts,
        size=sizes,
        last_modified=optional,
    ),
    "permission_only_changes": st.builds(
        PermissionOnlyEntry, permission_changes=diffs, file_path=texts, item_id=texts
    ),
    "deleted": st.builds(
        DeletedEntry, permissions=labels, item_id=texts, reason=texts, moved_to=optional
    ),
}


def _summary() -> Summary:
    return Summary(
        total_files=1,
        added_count=0,
        modified_count=0,
        deleted_count=0,
        permission_only_changes_count=0,
    )


def _document(changes: Changes, **rest: object) -> tuple[LogDocument, ChangeLog]:
    fields = {
        "timestamp": "2024-01-20_14-30-45",
        "summary": _summary(),
        "run_id": "run",
        "target": TargetInfo(name="t", drive_id="b!x"),
        **rest,
    }
    whole = ChangeLog(changes=changes, **fields)  # type: ignore[arg-type]
    sections = {name: Section() for name in SECTIONS}
    for name in SECTIONS:
        for path, entry in getattr(changes, name).items():
            sections[name].add(path, entry)
        sections[name].close()
    return LogDocument(ChangeLog(changes=Changes(), **fields), sections), whole  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    changes=st.builds(
        Changes,
        **{name: st.dictionaries(texts, entry, max_size=4) for name, entry in ENTRIES.items()},
    ),
    errors=st.dictionaries(
        texts, st.builds(ErrorEntry, reason=texts, item_id=optional), max_size=2
    ),
    repairs=st.dictionaries(
        texts, st.builds(RepairEntry, reason=texts, file_path=texts, item_id=texts), max_size=2
    ),
    full=st.booleans(),
)
def test_the_streamed_log_is_byte_for_byte_the_models_json(
    changes: Changes,
    errors: dict[str, ErrorEntry],
    repairs: dict[str, RepairEntry],
    full: bool,
) -> None:
    document, whole = _document(changes, errors=errors, repairs=repairs, full_resync=full)
    assert document.to_json_bytes() == whole.to_json_bytes()
    assert document.to_changelog() == whole
    for name in SECTIONS:
        assert document.count(name) == len(getattr(changes, name))
    assert document.has_changes == whole.has_changes


def test_pieces_stay_small_and_the_sections_stay_compressed() -> None:
    entry = AddedEntry(permissions=["Ann:::Read"], file_path="/m/data/f", item_id="01X", size=5)
    added = {f"folder {n // 100}/file {n}.txt": entry for n in range(20_000)}
    document, whole = _document(Changes(added=added))
    pieces = list(document.chunks())
    assert b"".join(pieces) == whole.to_json_bytes()
    assert max(map(len, pieces)) <= 1 << 20
    assert document.sections["added"].packed_size < len(whole.to_json_bytes()) // 5
    assert list(json.loads(b"".join(pieces))["changes"]["added"]) == list(added)
