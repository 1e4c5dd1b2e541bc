"""A change log is queued in the form it is written from: `LogDocument.packed()` inflates
(`unpack`) to exactly the file's bytes, with each section's entries compressed only once."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

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
from ms365sync.outputs.logstream import SECTIONS, LogDocument, Section, unpack

texts = st.text(max_size=12)
labels = st.lists(texts, max_size=3)
added = st.builds(AddedEntry, permissions=labels, file_path=texts, item_id=texts, size=st.just(1))
deleted = st.builds(DeletedEntry, permissions=labels, item_id=texts, reason=texts)


def _document(changes: Changes, **rest: object) -> tuple[LogDocument, ChangeLog]:
    fields = {
        "timestamp": "2024-01-20_14-30-45",
        "summary": Summary(
            total_files=1,
            added_count=len(changes.added),
            modified_count=0,
            deleted_count=len(changes.deleted),
            permission_only_changes_count=0,
        ),
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
    shell = ChangeLog(changes=Changes(), **fields)  # type: ignore[arg-type]
    return LogDocument(shell, sections), whole


@settings(max_examples=100, deadline=None)
@given(
    added=st.dictionaries(texts, added, max_size=4),
    deleted=st.dictionaries(texts, deleted, max_size=4),
    errors=st.dictionaries(texts, st.builds(ErrorEntry, reason=texts), max_size=2),
    repairs=st.dictionaries(
        texts, st.builds(RepairEntry, reason=texts, file_path=texts, item_id=texts), max_size=2
    ),
)
def test_the_packed_log_unpacks_to_the_models_json(
    added: dict[str, AddedEntry],
    deleted: dict[str, DeletedEntry],
    errors: dict[str, ErrorEntry],
    repairs: dict[str, RepairEntry],
) -> None:
    document, whole = _document(
        Changes(added=added, deleted=deleted), errors=errors, repairs=repairs
    )
    assert b"".join(unpack(b"".join(document.packed()))) == whole.to_json_bytes()


def test_the_sections_are_queued_as_they_were_compressed_and_unpacked_in_small_pieces() -> None:
    entry = AddedEntry(permissions=["Ann:::Read"], file_path="/m/data/f", item_id="01X", size=5)
    many = {f"folder {n // 100}/file {n}.txt": entry for n in range(40_000)}
    document, whole = _document(Changes(added=many))
    packed = b"".join(document.packed())
    # The text before the entries, the entries' own stream as built, and the text after them.
    section = b"".join(document.sections["added"].packed())
    before, after = packed.split(section)
    assert zlib.decompress(before).startswith(b"{") and zlib.decompress(after).endswith(b"}")
    assert len(packed) < len(whole.to_json_bytes()) // 5
    pieces = list(unpack(packed))
    assert b"".join(pieces) == whole.to_json_bytes() == document.to_json_bytes()
    assert max(map(len, pieces)) <= 1 << 20
