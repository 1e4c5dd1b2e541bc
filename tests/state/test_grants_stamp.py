"""The state store forgets the grants file's stamp whenever the file's input changes."""

from __future__ import annotations

from pathlib import Path

from ms365sync.models import MirrorFile, PermissionSet
from ms365sync.state.store import GRANTS_FILE_KEY, StateStore


def _file(item_id: str, path: str) -> MirrorFile:
    return MirrorFile(
        item_id=item_id,
        path=path,
        local_path=path,
        size=1,
        ctag=None,
        quick_xor_hash=None,
        etag=None,
        modified=None,
        mtime_ns=0,
        permissions=PermissionSet(labels=("Ann:::Read",), grants=()),
    )


def _stamped(state: StateStore) -> None:
    state.set_meta(GRANTS_FILE_KEY, "written")


def test_each_kind_of_input_change_forgets_the_stamp_and_unrelated_writes_keep_it(
    tmp_path: Path,
) -> None:
    state = StateStore(tmp_path / "state")
    try:
        changes = {
            "a mirror record added": lambda: state.put_mirror(_file("i1", "a.txt")),
            "a mirror record moved": lambda: state.put_mirror(_file("i1", "b.txt")),
            "a mirror record removed": lambda: state.drop_mirror("i1"),
            "the drive id set": lambda: state.set_meta("drive_id", "d1"),
            "the drive id changed": lambda: state.set_meta("drive_id", "d2"),
        }
        for what, change in changes.items():
            _stamped(state)
            change()
            assert state.get_meta(GRANTS_FILE_KEY) is None, what
        state.put_mirror(_file("i2", "c.txt"))
        kept = {
            "the same record put again": lambda: state.put_mirror(_file("i2", "c.txt")),
            "the same drive id set again": lambda: state.set_meta("drive_id", "d2"),
            "another meta key": lambda: state.set_meta("delta_link", "https://x/delta?token=1"),
        }
        for what, change in kept.items():
            _stamped(state)
            change()
            assert state.get_meta(GRANTS_FILE_KEY) == "written", what
    finally:
        state.close()
