"""LogConsumer: pending change logs in write order, durable checkpoints, acknowledging each log
once, and consumers killed part way."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ms365sync import (
    ChangeLog,
    ConsumerError,
    FileCheckpointStore,
    LogConsumer,
    SQLiteCheckpointStore,
)
from ms365sync.outputs.changelog import LogPosition, log_name, parse_log_name
from support.consumer_logs import write_log

STAMP = "2026-01-20_14-30-45"


def names(consumer: LogConsumer) -> list[str]:
    return [f"{Path(p.source.key).name}:{p.path.name}" for p in consumer.pending()]


def test_logs_are_listed_in_write_order_within_and_across_targets(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for suffix in ("", "_2", "_10", "_9"):
        write_log(a, f"sync_changes_{STAMP}{suffix}.json")
    write_log(a, "sync_changes_2026-01-21_08-00-00.json")
    write_log(b, "sync_changes_2026-01-20_14-30-45.json")
    write_log(b, "sync_changes_2026-01-19_23-59-59.json")
    for other in ("notes.txt", "sync_changes_2026-01-20_14-30-45_1.json", "sync_changes_x.json"):
        (a / "sync_logs" / other).write_text("not a log")
    consumer = LogConsumer("indexer", [b, a], tmp_path / "checkpoints")
    assert names(consumer) == [
        "b:sync_changes_2026-01-19_23-59-59.json",
        "a:sync_changes_2026-01-20_14-30-45.json",
        "b:sync_changes_2026-01-20_14-30-45.json",
        "a:sync_changes_2026-01-20_14-30-45_2.json",
        "a:sync_changes_2026-01-20_14-30-45_9.json",
        "a:sync_changes_2026-01-20_14-30-45_10.json",
        "a:sync_changes_2026-01-21_08-00-00.json",
    ]
    # A target without logs yet is fine.
    assert LogConsumer("indexer", [tmp_path / "new"], tmp_path / "checkpoints").pending() == []


def test_acknowledged_logs_stay_consumed_for_that_consumer_only(tmp_path: Path) -> None:
    root = tmp_path / "target"
    first = write_log(root, f"sync_changes_{STAMP}.json", {"a.txt": "1"})
    write_log(root, f"sync_changes_{STAMP}_2.json", {"b.txt": "2"})
    consumer = LogConsumer("indexer", [root], tmp_path / "checkpoints")
    (log, second) = consumer.pending()
    assert log.path == first and set(log.read().changes.added) == {"a.txt"}
    consumer.ack(log)
    again = LogConsumer("indexer", [root], tmp_path / "checkpoints")
    assert [p.path for p in again.pending()] == [second.path]
    assert again.checkpoints() == {str(root.resolve()): LogPosition(STAMP)}
    stored = json.loads((tmp_path / "checkpoints" / "indexer.json").read_text())
    assert stored["acknowledged"] == {str(root.resolve()): first.name}
    other = LogConsumer("search-2", [root], tmp_path / "checkpoints")
    assert len(other.pending()) == 2
    # A log written later (a new run) is pending next time.
    write_log(root, "sync_changes_2026-02-01_00-00-00.json")
    assert [p.path.name for p in again.pending()] == [
        second.path.name,
        "sync_changes_2026-02-01_00-00-00.json",
    ]


def test_acknowledging_out_of_order_or_twice_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "target"
    write_log(root, f"sync_changes_{STAMP}.json")
    write_log(root, f"sync_changes_{STAMP}_2.json")
    consumer = LogConsumer("indexer", [root], tmp_path / "checkpoints")
    first, second = consumer.pending()
    with pytest.raises(ConsumerError, match="before") as caught:
        consumer.ack(second)
    assert caught.value.hint and "in the order" in caught.value.hint
    consumer.ack(first)
    with pytest.raises(ConsumerError, match="acknowledged already"):
        consumer.ack(first)
    assert [p.path for p in consumer.pending()] == [second.path]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_two_processes_of_one_consumer_cannot_both_acknowledge_a_log(
    tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "target"
    write_log(root, f"sync_changes_{STAMP}.json")

    def store() -> FileCheckpointStore | SQLiteCheckpointStore:
        if kind == "file":
            return FileCheckpointStore(tmp_path / "checkpoints")
        return SQLiteCheckpointStore(sqlite3.connect(tmp_path / "index.db", isolation_level=None))

    one, two = LogConsumer("indexer", [root], store()), LogConsumer("indexer", [root], store())
    (log_one,), (log_two,) = one.pending(), two.pending()
    with one.store.transaction():
        one.ack(log_one)
    with pytest.raises(ConsumerError, match="acknowledged already"), two.store.transaction():
        two.ack(log_two)
    assert one.pending() == two.pending() == []


def test_a_checkpoint_moved_by_another_process_is_detected_at_save(tmp_path: Path) -> None:
    store = FileCheckpointStore(tmp_path)
    store.save("indexer", "source", f"sync_changes_{STAMP}.json", None)
    with pytest.raises(ConsumerError, match="another process"):
        store.save("indexer", "source", f"sync_changes_{STAMP}_2.json", None)
    db = sqlite3.connect(":memory:", isolation_level=None)
    sql_store = SQLiteCheckpointStore(db)
    sql_store.save("indexer", "source", f"sync_changes_{STAMP}.json", None)
    with pytest.raises(ConsumerError, match="another process"):
        sql_store.save("indexer", "source", f"sync_changes_{STAMP}_2.json", None)
    assert sql_store.load("indexer") == {"source": f"sync_changes_{STAMP}.json"}


def test_a_failing_application_rolls_back_with_its_acknowledgement(tmp_path: Path) -> None:
    root = tmp_path / "target"
    write_log(root, f"sync_changes_{STAMP}.json", {"a.txt": "1"})
    write_log(root, f"sync_changes_{STAMP}_2.json", {"b.txt": "2"})
    db = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
    db.execute("CREATE TABLE docs (path TEXT PRIMARY KEY)")
    consumer = LogConsumer("indexer", [root], SQLiteCheckpointStore(db))

    def apply(log: object, changes: ChangeLog) -> None:
        for path in changes.changes.added:
            db.execute("INSERT INTO docs VALUES (?)", (path,))
        if "b.txt" in changes.changes.added:
            raise RuntimeError("the index is down")

    with pytest.raises(RuntimeError):
        consumer.consume(apply)
    assert [row[0] for row in db.execute("SELECT path FROM docs")] == ["a.txt"]
    assert [p.path.name for p in consumer.pending()] == [f"sync_changes_{STAMP}_2.json"]


def test_the_sqlite_store_joins_a_transaction_the_caller_opened(tmp_path: Path) -> None:
    root = tmp_path / "target"
    write_log(root, f"sync_changes_{STAMP}.json")
    db = sqlite3.connect(tmp_path / "index.db")  # the driver's default: implicit transactions
    db.execute("CREATE TABLE docs (path TEXT)")
    store = SQLiteCheckpointStore(db)
    consumer = LogConsumer("indexer", [root], store)
    (log,) = consumer.pending()
    db.execute("INSERT INTO docs VALUES ('x')")  # opens the caller's transaction
    with store.transaction():
        consumer.ack(log)
    db.rollback()  # the caller gives up: the acknowledgement goes with its writes
    assert len(consumer.pending()) == 1
    assert db.execute("SELECT COUNT(*) FROM docs").fetchone() == (0,)


def test_an_unreadable_log_stops_the_consumer_until_it_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "target"
    bad = root / "sync_logs" / f"sync_changes_{STAMP}.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"timestamp": "yesterday"}')
    write_log(root, f"sync_changes_{STAMP}_2.json", {"b.txt": "2"})
    consumer = LogConsumer("indexer", [root], tmp_path / "checkpoints")
    seen: list[str] = []
    with pytest.raises(ConsumerError, match="not a change log") as caught:
        consumer.consume(lambda log, changes: seen.extend(changes.changes.added))
    assert caught.value.hint and "skip" in caught.value.hint and seen == []
    consumer.ack(consumer.pending()[0])  # skip it on purpose
    assert consumer.consume(lambda log, changes: seen.extend(changes.changes.added)) == 1
    assert seen == ["b.txt"]


def test_bad_names_and_damaged_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="consumer name"):
        LogConsumer("../escape", [tmp_path], tmp_path)
    with pytest.raises(ValueError, match="twice"):
        LogConsumer("indexer", [tmp_path / "a", tmp_path / "a" / ".." / "a"], tmp_path)
    (tmp_path / "indexer.json").write_text("{truncated")
    with pytest.raises(ConsumerError, match="unreadable checkpoint"):
        LogConsumer("indexer", [tmp_path / "a"], tmp_path).pending()
    (tmp_path / "indexer.json").write_text('{"format": "something else"}')
    with pytest.raises(ConsumerError, match="not an ms365sync consumer checkpoint"):
        LogConsumer("indexer", [tmp_path / "a"], tmp_path).pending()


def test_log_names_sort_in_write_order_even_when_the_clock_goes_back(tmp_path: Path) -> None:
    taken: set[str] = set()
    written = []
    for stamp in (STAMP, STAMP, "2026-01-20_14-30-44", "2026-01-21_00-00-00"):
        name = log_name(stamp, taken, tmp_path)
        taken.add(name)
        written.append(name)
    assert written == [
        f"sync_changes_{STAMP}.json",
        f"sync_changes_{STAMP}_2.json",
        f"sync_changes_{STAMP}_3.json",  # the clock went back a second: still after
        "sync_changes_2026-01-21_00-00-00.json",
    ]
    positions = [parse_log_name(n) for n in written]
    assert positions == sorted(positions)  # type: ignore[type-var]
    # Names already in the folder count too (a rebuilt state store knows none of them).
    (tmp_path / "sync_changes_2026-01-22_00-00-00_5.json").write_text("{}")
    assert log_name(STAMP, set(), tmp_path) == "sync_changes_2026-01-22_00-00-00_6.json"
    assert parse_log_name("sync_changes_2026-01-22_00-00-00_1.json") is None
    assert parse_log_name("sync_changes_2026-01-22_00-00-00_12.json") == LogPosition(
        "2026-01-22_00-00-00", 12
    )


# ---------------------------------------------------------------------- killed consumers

DRIVER = textwrap.dedent(
    """
    import json, os, sqlite3, sys
    from pathlib import Path
    from ms365sync import LogConsumer, SQLiteCheckpointStore

    kind, crash, crash_log, root, work = sys.argv[1:6]
    work = Path(work)
    db = sqlite3.connect(work / "index.db", isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS docs (path TEXT PRIMARY KEY, item TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS ledger (log TEXT)")
    store = SQLiteCheckpointStore(db) if kind == "sqlite" else work / "checkpoints"
    consumer = LogConsumer("indexer", [root], store)

    def apply(log, changes):
        if crash == "before-apply" and log.path.name == crash_log:
            os._exit(137)
        if kind == "file":  # the index lives outside any transaction with the checkpoint
            with open(work / "ledger.txt", "a") as ledger:
                ledger.write(log.path.name + "\\n")
                ledger.flush()
                os.fsync(ledger.fileno())
        db.execute("INSERT INTO ledger VALUES (?)", (log.path.name,))
        for path, entry in changes.changes.added.items():  # idempotent: an upsert by path
            db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?)", (path, entry.item_id))
        if crash == "after-apply" and log.path.name == crash_log:
            os._exit(137)  # applied, not acknowledged

    print(consumer.consume(apply))
    """
)


def _run_driver(tmp: Path, kind: str, crash: str, crash_log: str, root: Path) -> int:
    driver = tmp / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(driver), kind, crash, crash_log, str(root), str(tmp)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 137), done.stderr
    return done.returncode


@pytest.mark.parametrize("kind", ["sqlite", "file"])
@pytest.mark.parametrize("crash", ["after-apply", "before-apply"])
def test_a_consumer_killed_part_way_applies_each_log_once_in_effect(
    tmp_path: Path, kind: str, crash: str
) -> None:
    root = tmp_path / "target"
    logs = [
        write_log(root, f"sync_changes_{STAMP}.json", {"a.txt": "1"}).name,
        write_log(root, f"sync_changes_{STAMP}_2.json", {"b.txt": "2"}).name,
        write_log(root, f"sync_changes_{STAMP}_3.json", {"a.txt": "3"}).name,
    ]
    assert _run_driver(tmp_path, kind, crash, logs[1], root) == 137
    assert _run_driver(tmp_path, kind, "none", "", root) == 0
    db = sqlite3.connect(tmp_path / "index.db")
    # The effect is that of applying each log once, in order ("a.txt" was re-added by log 3).
    assert dict(db.execute("SELECT path, item FROM docs")) == {"a.txt": "3", "b.txt": "2"}
    committed = [row[0] for row in db.execute("SELECT log FROM ledger")]
    if kind == "sqlite":
        assert committed == logs  # applied and acknowledged together: exactly once, in order
    else:
        # At least once: a kill between applying and acknowledging applies that log again.
        again = [logs[0], logs[1], logs[1], logs[2]] if crash == "after-apply" else logs
        assert (tmp_path / "ledger.txt").read_text().split() == committed == again
    assert LogConsumer("indexer", [root], _store(tmp_path, kind)).pending() == []


def _store(tmp: Path, kind: str) -> SQLiteCheckpointStore | Path:
    if kind == "sqlite":
        return SQLiteCheckpointStore(sqlite3.connect(tmp / "index.db", isolation_level=None))
    return tmp / "checkpoints"
