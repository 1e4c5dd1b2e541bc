"""Outputs committed with a run but written after it (`exports`), and the run history (`runs`).

A run queues its change log and whether `.permissions.json` is due inside its transaction;
the syncer writes them out after the commit, and again at the next start after a crash. The
change log is kept in the form it is written from: `LogDocument.packed()`, zlib streams whose
inflated concatenation is the file's bytes (`logstream.unpack`), compressed once as the
log was built. (Logs queued before were one zlib stream of the whole file: the same form.)
"""

from __future__ import annotations

import sqlite3
import time
from typing import NamedTuple

__all__ = ["OutboxTables", "PendingExport", "RunRecord"]


class PendingExport(NamedTuple):
    """A committed run's outputs not yet written."""

    run_id: str
    log_name: str | None  # the change log's file name (None: no log for this run)
    log: bytes | None  # the change log as queued (`logstream.unpack` gives its bytes)
    permissions: bool  # .permissions.json is due


class RunRecord(NamedTuple):
    """One run as recorded in the history."""

    run_id: str
    started: float
    finished: float | None
    status: str
    summary: str | None  # the change log's summary as JSON


class OutboxTables:
    """The exports and runs tables of a `StateStore` (a mixin over its connection)."""

    _db: sqlite3.Connection

    def enqueue_export(
        self, run_id: str, log_name: str | None, log: bytes | None, permissions: bool
    ) -> None:
        """Queue a run's exports (inside its transaction): its change log as
        `LogDocument.packed()` gives it, and whether .permissions.json is due."""
        self._db.execute(
            "INSERT INTO exports(run_id, log_name, log_json, permissions) VALUES(?,?,?,?)",
            (run_id, log_name, log, int(permissions)),
        )

    def pending_exports(self) -> list[PendingExport]:
        """The queued exports, oldest first."""
        return [
            PendingExport(row[0], row[1], row[2], bool(row[3]))
            for row in self._db.execute(
                "SELECT run_id, log_name, log_json, permissions FROM exports WHERE done = 0 "
                "ORDER BY rowid"
            )
        ]

    def export_done(self, run_id: str) -> None:
        self._db.execute("UPDATE exports SET done = 1, log_json = NULL WHERE run_id = ?", (run_id,))

    def log_names(self) -> set[str]:
        return {
            row[0]
            for row in self._db.execute("SELECT log_name FROM exports WHERE log_name IS NOT NULL")
        }

    def record_run(self, run_id: str, started: float, status: str, summary: str | None) -> None:
        self._db.execute(
            "INSERT INTO runs(run_id, started, finished, status, summary) VALUES(?,?,?,?,?) "
            "ON CONFLICT(run_id) DO UPDATE SET finished=excluded.finished, status=excluded.status, "
            "summary=excluded.summary",
            (run_id, started, time.time(), status, summary),
        )

    def last_run(self) -> RunRecord | None:
        row = self._db.execute(
            "SELECT run_id, started, finished, status, summary FROM runs "
            "ORDER BY started DESC LIMIT 1"
        ).fetchone()
        return None if row is None else RunRecord._make(row)
