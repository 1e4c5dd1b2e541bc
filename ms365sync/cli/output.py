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
from typing import TYPE_CHECKING, Any, cast

from loguru import logger

from ms365sync._version import __version__
from ms365sync.cli.changes import changed_paths, print_listing, refusal

# rich (progress bars, tables) loads only for a terminal, and the sync's modules only for a
# run: configuring the logging for `--version` or a usage error stays cheap.
if TYPE_CHECKING:
    from loguru import Record
    from rich.console import Console
    from rich.progress import Progress

    from ms365sync.cli.plain import Printer
    from ms365sync.config import Target
    from ms365sync.coordinator import RunReport
    from ms365sync.shards import Shard
    from ms365sync.sync.apply import Progress as SyncProgress
    from ms365sync.sync.result import SyncResult

TIME_FORMAT = "YYYY-MM-DDTHH:mm:ss.SSSZZ"  # ISO 8601 with the zone's offset


def _text_line(record: Record) -> str:
    """A text log line: time with zone, level, the target it concerns (if one), message."""
    target = " [{extra[target]}]" if record["extra"].get("target") else ""
    return "{time:" + TIME_FORMAT + "} {level: <7}" + target + " {message}\n{exception}"


def _json_line(record: Record) -> str:
    """A JSON line for log shippers: time, level, message, target, and any exception."""
    fields: dict[str, Any] = {
        "time": record["time"].isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
    }
    fields.update({k: str(v) for k, v in record["extra"].items() if not k.startswith("_")})
    if record["exception"] is not None:
        kind, error, _ = record["exception"]
        fields["exception"] = f"{kind.__name__ if kind else 'Exception'}: {error}"
    record["extra"]["_line"] = json.dumps(fields, ensure_ascii=False)
    return "{extra[_line]}\n"


def _for_console(record: Record) -> bool:
    """Records bound with `_file_only` (what the error line says already) skip stderr, and
    so do the run's start and end lines (`_run_line`: the summary says it on the terminal)."""
    return not record["extra"].get("_file_only") and not record["extra"].get("_run_line")


def _for_verbose_console(record: Record) -> bool:
    """With -v the run's start and end lines go to stderr too."""
    return not record["extra"].get("_file_only")


def setup_logging(
    *,
    verbose: bool,
    quiet: bool,
    log_file: Path | None,
    console: bool,
    log_format: str = "text",
) -> None:
    """Send ms365sync's log records to stderr (and a file, at debug level), each line with
    its level, an ISO 8601 time with zone and the target it concerns; `log_format` "json"
    writes JSON lines. Secrets are never logged."""
    logger.remove()
    logger.enable("ms365sync")
    line = _json_line if log_format == "json" else _text_line
    level = "DEBUG" if verbose else "ERROR" if quiet else "INFO"
    if console:
        shown = _for_verbose_console if verbose else _for_console
        logger.add(sys.stderr, level=level, format=line, colorize=False, filter=shown)
    if log_file is not None:
        logger.add(log_file, level="DEBUG", format=line, encoding="utf-8")


def log_run_start(
    config: Path, targets: Sequence[Target], *, dry_run: bool, shard: Shard | None = None
) -> None:
    """The run's first log line: version, configuration, shard, targets."""
    names = ", ".join(target.name for target in targets)
    kind = "dry run" if dry_run else "run"
    sharded = f", shard {shard}" if shard is not None else ""
    logger.bind(_run_line=True).info(
        "{} start: ms365sync {}, config {}{}, {} targets: {}",
        kind, __version__, config, sharded, len(targets), names,
    )  # fmt: skip


def log_run_end(report: RunReport, seconds: float) -> None:
    """A line per target (result, counts, seconds), then one for the run."""
    for result in report.results:
        row = result_row(result)
        outcome = "ok" if result.ok else f"failed: {row['error']}"
        logger.bind(target=result.target, _run_line=True).info(
            "target end: {}; added {}, modified {}, deleted {}, permission-only {}, "
            "errors {}, downloaded {} files ({} bytes) in {:.3f}s",
            outcome, row["added"], row["modified"], row["deleted"],
            row["permission_only_changes"], row["errors"], row["downloaded_files"],
            row["downloaded_bytes"], row["seconds"],
        )  # fmt: skip
    failed = sum(not result.ok for result in report.results)
    logger.bind(_run_line=True).info(
        "run end: exit code {}, {} targets ok, {} failed, in {:.3f}s",
        report.exit_code, len(report.results) - failed, failed, seconds,
    )  # fmt: skip


class RunDisplay:
    """Progress per target while a run goes on (only on a terminal): a spinner while the
    library is listed, then files and bytes done of the total, percentage, rate and time
    left; a target's bar is cleared when it fails."""

    def __init__(self, console: Printer, enabled: bool) -> None:
        self.console = console
        self.enabled = enabled
        self._bars: Progress | None = None

    @property
    def _progress(self) -> Progress:
        """The bars (rich), made on first use: only a terminal shows them."""
        if self._bars is None:
            from rich.progress import (  # noqa: PLC0415 -- a terminal only
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bars = Progress(
                SpinnerColumn(),
                TextColumn("{task.fields[target]}"),
                BarColumn(bar_width=None),
                TextColumn("{task.fields[files]}/{task.fields[total_files]} files"),
                DownloadColumn(),
                TaskProgressColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=cast("Console", self.console),
                transient=True,
            )
        return self._bars

    @contextmanager
    def running(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self._progress:
            yield

    def for_target(self, target: Target) -> SyncProgress:
        if not self.enabled:
            from ms365sync.sync.apply import Progress as SyncProgress  # noqa: PLC0415

            return SyncProgress()
        return self.track(target.name)

    def track(self, name: str) -> SyncProgress:
        """The callbacks that move `name`'s bar."""
        from ms365sync.sync.apply import Progress as SyncProgress  # noqa: PLC0415

        progress = self._progress
        task = progress.add_task("", total=None, target=name, files=0, total_files="?")
        counting = threading.Lock()  # files finish on the target's download threads

        def on_file(count: int) -> None:
            with counting:
                files = progress.tasks[task].fields["files"] + count
                progress.update(task, files=files)

        def on_total(files: int, size: int) -> None:
            progress.update(task, total=size, total_files=files)

        def on_finish(ok: bool) -> None:
            if not ok:
                progress.remove_task(task)

        return SyncProgress(
            on_file=on_file,
            on_bytes=lambda count: progress.advance(task, count),
            on_total=on_total,
            on_finish=on_finish,
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
        # None: the target reads no document metadata.
        "metadata_only_changes": summary.metadata_only_changes_count if summary else None,
        "errors": summary.errors_count if summary else 0,
        "repairs": summary.repairs_count if summary else 0,
        "skipped": summary.skipped_count if summary else 0,
        "mismatch_accepted": summary.mismatch_accepted_count if summary else 0,
        "total_files": summary.total_files if summary else None,
        "untracked_local_files": summary.untracked_local_files if summary else 0,
        "change_log": None if result.log_path is None else str(result.log_path),
        "downloaded_files": result.counters.downloaded_files,
        "downloaded_bytes": result.counters.downloaded_bytes,
        "full_listing": result.counters.full_enumeration,
        "seconds": round(max(0.0, result.finished - result.started), 3),
        "notes": list(result.counters.notes),
    }


def dry_run_row(result: SyncResult) -> dict[str, Any]:
    """`result_row` with, for a dry run, every path it would change and whether the
    max-delete guard would refuse the real run."""
    row = result_row(result)
    if result.dry_run:
        log = result.log
        row["changes"] = None if log is None else changed_paths(log)
        row["would_be_refused"] = None if result.refused is None else refusal(result.refused)
    return row


def json_document(
    report: RunReport, *, dry_run: bool, exit_code: int | None = None, shard: Shard | None = None
) -> dict[str, Any]:
    """A run's one JSON document, what --json prints (`exit_code`: the report's if None;
    "shard": "I/N" only when the run was one shard's)."""
    return {
        "ok": report.ok,
        "exit_code": report.exit_code if exit_code is None else exit_code,
        "dry_run": dry_run,
        **({"shard": str(shard)} if shard is not None else {}),
        "targets": [dry_run_row(r) for r in report.results],
        "on_change_failures": report.hook_failures,
    }


def print_json(
    report: RunReport, *, dry_run: bool, exit_code: int | None = None, shard: Shard | None = None
) -> None:
    """The run's one JSON document on stdout."""
    document = json_document(report, dry_run=dry_run, exit_code=exit_code, shard=shard)
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def print_summary(
    console: Printer, report: RunReport, *, fancy: bool, quiet: bool = False, max_lines: int = 50
) -> None:
    """A table on a terminal, one line per target otherwise; a dry run first lists the paths
    it would change, at most `max_lines` per kind. Quiet: only the failed targets."""
    if quiet:
        for result in report.results:
            if not result.ok:
                _print_failure(console, result_row(result))
        return
    _print_listings(console, report, max_lines)
    rows = [result_row(r) for r in report.results]
    if fancy:
        from rich.table import Table  # noqa: PLC0415 -- a terminal only

        table = Table(title="ms365sync run")
        for column in ("target", "result", "added", "modified", "deleted", "perms", "errors",
                       "skipped", "files", "change log"):  # fmt: skip
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*_cells(row))
        console.print(table)
        for row in rows:
            if row["hint"]:
                console.print(f"[bold]{row['target']}[/]: {row['hint']}")
        return
    for row in rows:
        if row["ok"]:
            console.print(" ".join(_plain(row)), highlight=False, soft_wrap=True)
        else:
            _print_failure(console, row)


def print_records(console: Printer, title: str, rows: Sequence[dict[str, str]]) -> None:
    """Rows as a table on a terminal; otherwise each row as `key: value` lines, full
    values unwrapped, rows separated by a blank line."""
    if console.is_terminal:
        from rich.table import Table  # noqa: PLC0415 -- a terminal only

        table = Table(title=title)
        for column in rows[0] if rows else ():
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
        return
    for number, row in enumerate(rows):
        if number:
            console.print()
        for key, value in row.items():
            console.print(f"{key}: {value}", highlight=False, markup=False, soft_wrap=True)


def _print_listings(console: Printer, report: RunReport, max_lines: int) -> None:
    """A dry run's listing of the paths each target would change."""
    for result in report.results:
        if result.dry_run and result.ok and result.log is not None:
            paths = changed_paths(result.log)
            print_listing(
                console, result.target, paths, max_lines=max_lines, refused=result.refused
            )


def _print_failure(console: Printer, row: dict[str, Any]) -> None:
    """A failed target's line, and its hint on the next (in every output mode)."""
    console.print(" ".join(_plain(row)), highlight=False, markup=False, soft_wrap=True)
    if row["hint"]:
        console.print(
            f"{row['target']}: hint: {row['hint']}", highlight=False, markup=False, soft_wrap=True
        )


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
        str(row["skipped"]),
        "-" if row["total_files"] is None else str(row["total_files"]),
        row["change_log"] or ("(dry run)" if row["dry_run"] else "(no changes)"),
    ]


def _plain(row: dict[str, Any]) -> Sequence[str]:
    if not row["ok"]:
        return [f"{row['target']}: FAILED: {row['error']}"]
    return [
        f"{row['target']}: {'interrupted' if row['interrupted'] else 'ok'}",
        f"added={row['added']} modified={row['modified']} deleted={row['deleted']}",
        f"permission_only={row['permission_only_changes']}"
        + (
            ""
            if row["metadata_only_changes"] is None
            else f" metadata_only={row['metadata_only_changes']}"
        )
        + f" errors={row['errors']}",
        f"skipped={row['skipped']}",
        f"total_files={row['total_files']}",
        f"log={row['change_log'] or '-'}",
    ]
