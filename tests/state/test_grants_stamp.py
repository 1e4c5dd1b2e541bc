"""The state store forgets the grants file's stamp whenever the file's input changes."""

from __future__ import annotations

from pathlib import Path

from ms365sync.models import MirrorFile, PermissionSet
from ms365sync.state.store import StateStore


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
    state.set_grants_file("written")


def _listed(state: StateStore, drive_id: str, *, site_id: str = "s1", link: str = "") -> None:
    state.set_listing(
        delta_link=link or None,
        site_id=site_id,
        drive_id=drive_id,
        target="t",
        prefer_sharing=True,
    )


def test_each_kind_of_input_change_forgets_the_stamp_and_unrelated_writes_keep_it(
    tmp_path: Path,
) -> None:
    state = StateStore(tmp_path / "state")
    try:
        changes = {
            "a mirror record added": lambda: state.put_mirror(_file("i1", "a.txt")),
            "a mirror record moved": lambda: state.put_mirror(_file("i1", "b.txt")),
            "a mirror record removed": lambda: state.drop_mirror("i1"),
            "the drive id set": lambda: _listed(state, "d1"),
            "the drive id changed": lambda: _listed(state, "d2"),
            "the site id changed": lambda: _listed(state, "d2", site_id="s2"),
        }
        for what, change in changes.items():
            _stamped(state)
            change()
            assert state.meta.grants_file is None, what
        state.put_mirror(_file("i2", "c.txt"))
        kept = {
            "the same record put again": lambda: state.put_mirror(_file("i2", "c.txt")),
            "the same ids set again": lambda: _listed(state, "d2", site_id="s2"),
            "another delta link": lambda: _listed(
                state, "d2", site_id="s2", link="https://x/delta?token=1"
            ),
            "another meta entry": lambda: state.set_last_sweep(1.5),
        }
        for what, change in kept.items():
            _stamped(state)
            change()
            assert state.meta.grants_file == "written", what
    finally:
        state.close()
