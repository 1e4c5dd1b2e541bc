"""Where a change-log consumer's checkpoints live: `CheckpointStore` and two implementations.

A checkpoint is, per consumer and target (source key), the file name of the last
acknowledged log. `FileCheckpointStore` keeps one small JSON file per consumer, replaced
atomically (at least once: applying and acknowledging are two steps);
`SQLiteCheckpointStore` keeps a table in the consumer's own database and commits with the
consumer's writes (exactly once). Both refuse to move a checkpoint that another process
moved since it was read.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ms365sync.errors import LocalStorageError, MS365SyncError
from ms365sync.localfs.atomic import write_json_atomic

__all__ = ["CheckpointStore", "ConsumerError", "FileCheckpointStore", "SQLiteCheckpointStore"]

_CHECKPOINT_FORMAT = "ms365sync-consumer-checkpoint"


class ConsumerError(MS365SyncError):
    """A change log cannot be read, or a checkpoint is unusable or was moved by someone else."""


class CheckpointStore(Protocol):
    """Where a consumer's checkpoints live: per source key, the last acknowledged log name."""

    def load(self, consumer: str) -> dict[str, str]:
        """Every checkpoint of `consumer` (source key -> log file name)."""
        ...

    def save(self, consumer: str, source: str, log_name: str, previous: str | None) -> None:
        """Move a checkpoint from `previous` to `log_name`.

        Raises:
            ConsumerError: the stored checkpoint is not `previous` any more.
        """
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """The unit in which a log's application and its acknowledgement commit."""
        ...


class FileCheckpointStore:
    """Checkpoints in `<directory>/<consumer>.json`, replaced atomically on every save."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, consumer: str) -> Path:
        return self.directory / f"{consumer}.json"

    def load(self, consumer: str) -> dict[str, str]:
        path = self.path(consumer)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConsumerError(f"{path}: unreadable checkpoint ({exc})") from exc
        if not isinstance(document, dict) or document.get("format") != _CHECKPOINT_FORMAT:
            raise ConsumerError(f"{path}: not an ms365sync consumer checkpoint")
        acknowledged = document.get("acknowledged")
        if not isinstance(acknowledged, dict) or not _str_map(acknowledged):
            raise ConsumerError(f"{path}: not an ms365sync consumer checkpoint")
        return {str(k): str(v) for k, v in acknowledged.items()}

    def save(self, consumer: str, source: str, log_name: str, previous: str | None) -> None:
        checkpoints = self.load(consumer)
        if checkpoints.get(source) != previous:
            raise _moved(consumer, source, previous, checkpoints.get(source))
        checkpoints[source] = log_name
        document = {"format": _CHECKPOINT_FORMAT, "consumer": consumer, "acknowledged": checkpoints}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalStorageError.from_oserror(
                exc, action="create the checkpoint folder"
            ) from exc
        write_json_atomic(self.path(consumer), document)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # a file cannot join the consumer's own transaction: at least once


class SQLiteCheckpointStore:
    """Checkpoints in a table of the consumer's own SQLite database (same connection).

    `save` only executes an upsert: it commits with the transaction it runs in, so the
    consumer's writes and the acknowledgement of the log they applied commit together.
    """

    def __init__(self, connection: sqlite3.Connection, table: str = "ms365sync_checkpoints"):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise ValueError(f"not a plain SQL table name: {table!r}")
        self.db = connection
        self.table = table
        self.db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (consumer TEXT NOT NULL, source TEXT NOT NULL, "
            "log_name TEXT NOT NULL, acknowledged_at REAL NOT NULL, "
            "PRIMARY KEY (consumer, source))"
        )

    def load(self, consumer: str) -> dict[str, str]:
        rows = self.db.execute(
            f"SELECT source, log_name FROM {self.table} WHERE consumer = ?", (consumer,)
        )
        return {str(source): str(name) for source, name in rows}

    def save(self, consumer: str, source: str, log_name: str, previous: str | None) -> None:
        cursor = self.db.execute(
            f"INSERT INTO {self.table}(consumer, source, log_name, acknowledged_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(consumer, source) DO UPDATE SET "
            "log_name = excluded.log_name, acknowledged_at = excluded.acknowledged_at "
            "WHERE log_name IS ?",
            (consumer, source, log_name, time.time(), previous),
        )
        if cursor.rowcount != 1:
            raise _moved(consumer, source, previous, self.load(consumer).get(source))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception); inside a transaction that
        is already open, a savepoint that the caller's COMMIT completes. A connection with
        `autocommit=False` (Python 3.12+) always has one open: it commits or rolls back."""
        if getattr(self.db, "autocommit", None) is False:
            try:
                yield
            except BaseException:
                self.db.rollback()
                raise
            self.db.commit()
            return
        nested = self.db.in_transaction
        self.db.execute("SAVEPOINT ms365sync_log" if nested else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if nested:
                self.db.execute("ROLLBACK TO ms365sync_log")
                self.db.execute("RELEASE ms365sync_log")
            else:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("RELEASE ms365sync_log" if nested else "COMMIT")


def _str_map(value: dict[object, object]) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _moved(consumer: str, source: str, expected: str | None, found: str | None) -> ConsumerError:
    return ConsumerError(
        f"consumer {consumer!r}: the checkpoint of {source} is {found or 'empty'}, not "
        f"{expected or 'empty'}: another process of the same consumer acknowledged logs",
        hint="run one process per consumer name",
    )
