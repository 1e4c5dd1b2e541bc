"""The paths a dry run would change, per kind of action, as the listing and --json show them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ms365sync.cli.plain import Printer
    from ms365sync.errors import SafetyError
    from ms365sync.outputs.changelog import ChangeLog

# In the order the listing shows them; a move is reported once, "old -> new".
KINDS = ("add", "modify", "move", "delete", "permission-only", "repair", "error")


def changed_paths(log: ChangeLog) -> dict[str, list[str]]:
    """Every path of the change log under its kind of action, sorted (every kind present)."""
    changes = log.changes
    kinds: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for path, added in changes.added.items():
        if added.moved_from is None:
            kinds["add"].append(path)
        else:
            kinds["move"].append(f"{added.moved_from} -> {path}")
    kinds["modify"] = list(changes.modified)
    kinds["delete"] = [p for p, gone in changes.deleted.items() if gone.reason != "moved"]
    kinds["permission-only"] = list(changes.permission_only_changes)
    kinds["repair"] = list(log.repairs)
    kinds["error"] = [f"{path}: {entry.reason}" for path, entry in log.errors.items()]
    return {kind: sorted(paths) for kind, paths in kinds.items()}


def refusal(refused: SafetyError) -> dict[str, object]:
    """Why the real run would be refused, as --json gives it."""
    return {
        "message": str(refused),
        "setting": refused.setting,
        "value": refused.value,
        "would_delete": refused.would_delete,
        "mirrored": refused.total,
        "share_percent": None if refused.share is None else round(refused.share, 1),
        "hint": refused.hint,
    }


def print_listing(
    console: Printer,
    target: str,
    paths: dict[str, list[str]],
    *,
    max_lines: int,
    refused: SafetyError | None,
) -> None:
    """One target's would-be actions, at most `max_lines` per kind (0: no limit)."""
    kinds = [(kind, found) for kind, found in paths.items() if found]
    if not kinds and refused is None:
        console.print(f"{target}: (dry run) nothing would change", highlight=False)
        return
    console.print(f"{target}: (dry run) would:", highlight=False)
    for kind, found in kinds:
        shown = found if max_lines <= 0 else found[:max_lines]
        console.print(f"  {kind} ({len(found)}):", highlight=False)
        for path in shown:
            console.print(f"    {path}", highlight=False, markup=False, soft_wrap=True)
        if len(found) > len(shown):
            console.print(f"    ... and {len(found) - len(shown)} more", highlight=False)
    if refused is not None:
        console.print(
            f"  a real run would be refused: {refused}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        console.print(f"  hint: {refused.hint}", highlight=False, markup=False, soft_wrap=True)
