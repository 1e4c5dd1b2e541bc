"""Store methods return named rows, not bare tuples."""

from __future__ import annotations

from pathlib import Path

from ms365sync.models import Grant, LocalStat, MirrorFile, PermissionSet, PrincipalKind
from ms365sync.state.perms import decode_grants
from ms365sync.state.store import (
    FileError,
    GrantRow,
    IssueRow,
    PathLabels,
    PendingExport,
    RunRecord,
    StateStore,
)

GRANT = Grant(PrincipalKind.USER, "u1", "Ann", "read", email="ann@x", login_name="i:0#.f|ann")


def _file(item_id: str, path: str) -> MirrorFile:
    return MirrorFile(
        item_id=item_id,
        path=path,
        local_path=path.upper(),
        size=3,
        ctag="c",
        quick_xor_hash="q",
        etag="e",
        modified="2024-01-01T00:00:00Z",
        mtime_ns=42,
        permissions=PermissionSet(labels=("Ann:::Read",), grants=(GRANT,)),
    )


def test_each_reading_method_returns_its_named_row(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state")
    try:
        with state.run():
            state.put_mirror(_file("i2", "b.txt"))
            state.put_mirror(_file("i1", "a.txt"))
            state.record_issues({"i3": IssueRow("c.txt", "refused", "transient")}, set(), 1.0)
            state.enqueue_export("run-1", None, None, False)
            state.record_run("run-1", 5.0, "ok", "{}")
        assert list(state.mirror_labels()) == [
            PathLabels("a.txt", ["Ann:::Read"]),
            PathLabels("b.txt", ["Ann:::Read"]),
        ]
        rows = list(state.mirror_grant_rows())
        assert [(r.path, r.item_id, r.perm_src) for r in rows] == [
            ("a.txt", "i1", None),
            ("b.txt", "i2", None),
        ]
        assert all(isinstance(row, GrantRow) for row in rows)
        assert rows[0].grants == decode_grants(rows[0].stored_grants) == (GRANT,)
        assert state.errors() == [
            FileError("i3", "c.txt", "refused", 1, "transient", None, None, None, 1.0)
        ]
        assert state.pending_exports() == [PendingExport("run-1", None, None, False)]
        last = state.last_run()
        assert isinstance(last, RunRecord)
        assert (last.run_id, last.started, last.status, last.summary) == ("run-1", 5.0, "ok", "{}")
    finally:
        state.close()


def test_the_mirror_is_as_recorded_only_when_every_record_is_on_disk_as_placed(
    tmp_path: Path,
) -> None:
    state = StateStore(tmp_path / "state")
    try:
        with state.run():
            state.put_mirror(_file("i1", "a.txt"))
            state.put_mirror(_file("i2", "b.txt"))
        both = {"A.TXT": LocalStat(3, 42), "B.TXT": LocalStat(3, 42)}
        assert state.mirror_as_recorded(both)
        assert state.mirror_as_recorded({**both, "extra.txt": LocalStat(1, 1)})
        assert not state.mirror_as_recorded({**both, "B.TXT": LocalStat(3, 43)})
        assert not state.mirror_as_recorded({**both, "B.TXT": LocalStat(4, 42)})
        assert not state.mirror_as_recorded({"A.TXT": LocalStat(3, 42)})
    finally:
        state.close()
