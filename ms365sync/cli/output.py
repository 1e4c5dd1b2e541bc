"""What the command line shows: logging set-up, progress bars, summary tables and JSON.

On a terminal the run shows a progress line per target and a summary table; otherwise
plain log lines (cron, CI and Kubernetes capture them). `--json` prints one JSON summary.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loguru import logger
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ms365sync.config import Target
from ms365sync.coordinator import RunReport
from ms365sync.sync.apply import Progress as SyncProgress
from ms365sync.sync.result import SyncResult

LOG_FORMAT = "{time:YYYY-MM-DD HH:mm:ss} {level: <7} {message}"


def setup_logging(*, verbose: bool, quiet: bool, log_file: Path | None, console: bool) -> None:
    """Send ms365sync's log records to stderr (and a file); secrets are never logged."""
    logger.remove()
    logger.enable("ms365sync")
    level = "DEBUG" if verbose else "WARNING" if quiet else "INFO"
    if console:
        logger.add(sys.stderr, level=level, format=LOG_FORMAT, colorize=False)
    if log_file is not None:
        logger.add(log_file, level="DEBUG", format=LOG_FORMAT, encoding="utf-8")


class RunDisplay:
    """Progress per target while a run goes on (only on a terminal)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[target]}"),
            BarColumn(bar_width=None),
            TextColumn("{task.fields[files]} files"),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        )

    @contextmanager
    def running(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._progress:
            yield

    def for_target(self, target: Target) -> SyncProgress:
        if not self.enabled:
            return SyncProgress()
        task = self._progress.add_task("", total=None, target=target.name, files=0)
        counting = threading.Lock()  # files finish on the target's download threads

        def on_file(count: int) -> None:
            with counting:
                files = self._progress.tasks[task].fields["files"] + count
                self._progress.update(task, files=files)

        return SyncProgress(
            on_file=on_file, on_bytes=lambda count: self._progress.advance(task, count)
        )


def result_row(result: SyncResult) -> dict[str, Any]:
    """One target's outcome as the JSON summary (and the table) show it."""
    summary = result.summary
    return {
        "target": result.target,
        "ok": result.ok,
        "interrupted": result.interrupted,
        "dry_run": result.dry_run,
        "error": None if result.error is None else str(result.error),
        "hint": None if result.error is None else result.error.hint,
        "added": summary.added_count if summary else 0,
        "modified": summary.modified_count if summary else 0,
        "deleted": summary.deleted_count if summary else 0,
        "permission_only_changes": summary.permission_only_changes_count if summary else 0,
        "errors": summary.errors_count if summary else 0,
        "repairs": summary.repairs_count if summary else 0,
        "total_files": summary.total_files if summary else None,
        "untracked_local_files": summary.untracked_local_files if summary else 0,
        "change_log": None if result.log_path is None else str(result.log_path),
        "downloaded_files": result.counters.downloaded_files,
        "downloaded_bytes": result.counters.downloaded_bytes,
        "full_listing": result.counters.full_enumeration,
        "seconds": round(max(0.0, result.finished - result.started), 3),
        "notes": list(result.counters.notes),
    }


def print_json(report: RunReport, *, dry_run: bool, exit_code: int | None = None) -> None:
    """The run's summary as one JSON document on stdout (`exit_code`: the report's if None)."""
    payload = {
        "ok": report.ok,
        "exit_code": report.exit_code if exit_code is None else exit_code,
        "dry_run": dry_run,
        "targets": [result_row(r) for r in report.results],
        "on_change_failures": report.hook_failures,
    }
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def print_summary(console: Console, report: RunReport, *, fancy: bool) -> None:
    """A table on a terminal, one line per target otherwise."""
    rows = [result_row(r) for r in report.results]
    if fancy:
        table = Table(title="ms365sync run")
        for column in ("target", "result", "added", "modified", "deleted", "perms", "errors",
                       "files", "change log"):  # fmt: skip
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*_cells(row))
        console.print(table)
        for row in rows:
            if row["hint"]:
                console.print(f"[bold]{row['target']}[/]: {row['hint']}")
        return
    for row in rows:
        console.print(" ".join(_plain(row)), highlight=False, soft_wrap=True)


def _cells(row: dict[str, Any]) -> list[str]:
    result = "ok" if row["ok"] else f"FAILED: {row['error']}"
    if row["interrupted"]:
        result += " (interrupted)"
    return [
        row["target"],
        result,
        str(row["added"]),
        str(row["modified"]),
        str(row["deleted"]),
        str(row["permission_only_changes"]),
        str(row["errors"]),
        "-" if row["total_files"] is None else str(row["total_files"]),
        row["change_log"] or ("(dry run)" if row["dry_run"] else "(no changes)"),
    ]


def _plain(row: dict[str, Any]) -> Sequence[str]:
    if not row["ok"]:
        return [f"{row['target']}: FAILED: {row['error']}"]
    return [
        f"{row['target']}: {'interrupted' if row['interrupted'] else 'ok'}",
        f"added={row['added']} modified={row['modified']} deleted={row['deleted']}",
        f"permission_only={row['permission_only_changes']} errors={row['errors']}",
        f"total_files={row['total_files']}",
        f"log={row['change_log'] or '-'}",
    ]
