"""Principals change logs through LogConsumer: merged with the targets' change logs in one
order under one checkpoint, each handed to its own function exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ms365sync import ConsumerError, LogConsumer, SQLiteCheckpointStore
from ms365sync.consumer.logconsumer import LogSource, PendingLog
from ms365sync.outputs.changelog import ChangeLog
from ms365sync.outputs.principals import MembershipEvent, PrincipalChanges
from support.consumer_logs import write_log  # the target change logs' writer

DATA = "data-root"


def write_principal_log(data_root: Path, name: str, member: str) -> Path:
    path = data_root / "sync_logs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = name.removeprefix("principal_changes_").removesuffix(".json")
    event = MembershipEvent(
        change="added",
        principal_kind="group",
        principal_id="g",
        member_kind="user",
        member_id=member,
    )
    log = PrincipalChanges(timestamp=stamp, tenant_id="t", events=[event])
    path.write_text(log.model_dump_json(indent=2))
    return path


def test_both_kinds_in_one_order_each_once(tmp_path: Path) -> None:
    target, data_root = tmp_path / "target", tmp_path / DATA
    write_log(target, "sync_changes_2026-01-20_10-00-00.json", {"a.txt": "1"})
    write_principal_log(data_root, "principal_changes_2026-01-20_11-00-00.json", "u1")
    write_log(target, "sync_changes_2026-01-20_12-00-00.json", {"b.txt": "2"})
    write_principal_log(data_root, "principal_changes_2026-01-20_12-00-00_2.json", "u2")
    db = sqlite3.connect(tmp_path / "index.db")
    sources = [LogSource.for_target(target), LogSource.for_principals(data_root)]
    consumer = LogConsumer("index", sources, SQLiteCheckpointStore(db))
    seen: list[str] = []

    def apply(log: PendingLog, changes: ChangeLog) -> None:
        seen.append("changes:" + ",".join(changes.changes.added))

    def apply_principals(log: PendingLog, changes: PrincipalChanges) -> None:
        seen.append("members:" + ",".join(e.member_id for e in changes.events))

    assert consumer.consume(apply, apply_principals=apply_principals) == 4
    assert seen == ["changes:a.txt", "members:u1", "changes:b.txt", "members:u2"]
    assert consumer.consume(apply, apply_principals=apply_principals) == 0
    write_principal_log(data_root, "principal_changes_2026-01-21_00-00-00.json", "u3")
    again = LogConsumer("index", sources, SQLiteCheckpointStore(db))
    assert again.consume(apply, apply_principals=apply_principals) == 1
    assert seen[-1] == "members:u3"
    # A change log of the same folder is not a principals log, and the reverse.
    (data_root / "sync_logs" / "sync_changes_2026-01-22_00-00-00.json").write_text("{}")
    assert [p.path.name for p in again.pending()] == []


def test_a_principals_log_needs_its_function(tmp_path: Path) -> None:
    data_root = tmp_path / DATA
    write_principal_log(data_root, "principal_changes_2026-01-20_11-00-00.json", "u1")
    consumer = LogConsumer("index", [LogSource.for_principals(data_root)], tmp_path / "cp")
    with pytest.raises(ConsumerError) as info:
        consumer.consume(lambda log, changes: None)
    assert "apply_principals" in str(info.value.hint)
    [pending] = consumer.pending()
    with pytest.raises(ConsumerError):
        pending.read()
    assert pending.read_principals().events[0].member_id == "u1"
