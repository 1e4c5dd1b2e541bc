"""Publishing principals snapshots: the change log of each refresh, each event once across
crashes."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from ms365sync.errors import LocalStorageError, StateError
from ms365sync.outputs.principals import PrincipalsFile
from ms365sync.principals import publish as publishing
from ms365sync.principals.publish import PENDING_FILE, SNAPSHOT_FILE, publish, read_snapshot

NOW = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.timezone.utc)


def snapshot(members: list[str]) -> PrincipalsFile:
    return PrincipalsFile.model_validate(
        {
            "version": 1,
            "tenant_id": "t",
            "refreshed": "2026-12-02T10:00:00Z",
            "users": {m: {"display_name": m, "guest": False} for m in members},
            "groups": {"g": {"display_name": "G", "members": sorted(members)}},
            "site_groups": {},
            "unexpanded": {},
        }
    )


def logs(root: Path) -> dict[str, Any]:
    folder = root / "sync_logs"
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def test_the_first_snapshot_has_no_events_and_each_change_one_log(tmp_path: Path) -> None:
    first = publish(tmp_path, snapshot(["a", "b"]), NOW)
    assert first.log is None and first.events == 0
    assert not (tmp_path / "sync_logs").exists()
    assert read_snapshot(tmp_path) == snapshot(["a", "b"])
    second = publish(tmp_path, snapshot(["b", "c"]), NOW)
    assert (
        second.log is not None and second.log.name == "principal_changes_2026-12-02_10-00-00.json"
    )
    [log] = logs(tmp_path).values()
    assert [(e["change"], e["member_id"]) for e in log["events"]] == [
        ("added", "c"),
        ("removed", "a"),
    ]
    assert publish(tmp_path, snapshot(["b", "c"]), NOW).log is None  # nothing changed
    third = publish(tmp_path, snapshot(["c"]), NOW)  # the same second: a suffix
    assert third.log is not None and third.log.name.endswith("_2.json")
    assert not (tmp_path / ".ms365sync" / PENDING_FILE).exists()


def test_a_refresh_killed_after_its_log_is_finished_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(tmp_path, snapshot(["a"]), NOW)
    real = publishing.write_atomic

    def killed_at_the_snapshot(path: Path, data: bytes, **options: Any) -> None:
        if path.name == SNAPSHOT_FILE:
            raise LocalStorageError("simulated crash", path=str(path))
        real(path, data, **options)

    monkeypatch.setattr(publishing, "write_atomic", killed_at_the_snapshot)
    with pytest.raises(LocalStorageError):
        publish(tmp_path, snapshot(["a", "b"]), NOW)
    monkeypatch.undo()
    [name] = logs(tmp_path)
    assert read_snapshot(tmp_path) == snapshot(["a"])  # not yet replaced
    # The next refresh finishes the pending one first (same log, same name), then compares
    # against what it published: "b" is reported added once, not twice.
    later = publish(tmp_path, snapshot(["a", "b"]), NOW + datetime.timedelta(hours=1))
    assert later.log is None
    assert list(logs(tmp_path)) == [name]
    assert read_snapshot(tmp_path) == snapshot(["a", "b"])


def test_a_damaged_pending_publication_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".ms365sync").mkdir()
    (tmp_path / ".ms365sync" / PENDING_FILE).write_text("{half")
    with pytest.raises(StateError) as info:
        publish(tmp_path, snapshot(["a"]), NOW)
    assert PENDING_FILE in str(info.value) and "\n" not in str(info.value)


def test_a_damaged_snapshot_is_written_again_without_events(tmp_path: Path) -> None:
    (tmp_path / SNAPSHOT_FILE).write_text("garbage")
    assert publish(tmp_path, snapshot(["a"]), NOW).log is None
    assert read_snapshot(tmp_path) == snapshot(["a"])
