"""`status`'s listing of the files a target could not mirror as listed, by class
(`sync.issues`): transient (tried again by the next run), permanent (tried again when the
file changes, or after a while) and skipped on purpose, each with its reason."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ms365sync.state.store import FileError
from ms365sync.sync.issues import Cause, IssueKind, retry_text

if TYPE_CHECKING:
    from ms365sync.cli.plain import Printer

__all__ = ["CLASSES", "issue_rows", "print_unmirrored"]

CLASSES = tuple(kind.value for kind in IssueKind)  # transient, permanent, skipped
_SHOWN = 20  # files listed per class and target in text; --json lists every one


def issue_rows(errors: Sequence[FileError]) -> dict[str, list[dict[str, Any]]]:
    """The stored issues by class, each file with its reason and when it is tried again."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CLASSES}
    for error in errors:
        kind = IssueKind(error.kind) if error.kind in CLASSES else IssueKind.TRANSIENT
        cause = _cause(error.cause)
        rows[kind.value].append(
            {
                "path": error.path,
                "item_id": error.item_id,
                "cause": cause.value,
                "reason": error.reason,
                "retry": retry_text(kind, cause, error.retry_at),
                "since": _when(error.first_seen),
                "runs": error.attempts,
            }
        )
    return rows


def print_unmirrored(console: Printer, target: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Each class's files of one target, a line each (at most `_SHOWN` per class)."""
    for name in CLASSES:
        files = rows.get(name, [])
        if not files:
            continue
        console.print(
            f"{target}: {len(files)} {name} ({_MEANING[name]})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for row in files[:_SHOWN]:
            line = f"  {row['path']}: {row['reason']} [{row['cause']}; retry {row['retry']}]"
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        if len(files) > _SHOWN:
            console.print(f"  ... and {len(files) - _SHOWN} more (--json lists every one)")


_MEANING = {
    "transient": "tried again by the next run",
    "permanent": "not asked for again until the file changes or its wait is over",
    "skipped": "not fetched on purpose",
}


def _cause(word: str | None) -> Cause:
    try:
        return Cause(word) if word is not None else Cause.OTHER
    except ValueError:
        return Cause.OTHER


def _when(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment).isoformat(" ", "seconds")
