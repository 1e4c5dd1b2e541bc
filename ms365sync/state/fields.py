"""The library's list items as the state store keeps them: each one's document metadata
(`sync.metadata`), staged from the list's delta and folded into the `fields` table, where
the tree's files find theirs by list item id (graph-facts §18.2)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

__all__ = ["FieldsTables"]


class FieldsTables:
    """The fields tables of a `StateStore` (a mixin over its connection)."""

    _db: sqlite3.Connection

    def clear_fields_stage(self) -> None:
        self._db.execute("DELETE FROM fields_stage")

    def stage_fields(self, rows: Iterable[tuple[str, str | None]]) -> int:
        """Append one page of the list's delta: (list item id, its metadata; None: deleted),
        durably, outside the run transaction."""
        batch = list(rows)
        self._db.executemany("INSERT INTO fields_stage(list_item_id, doc) VALUES (?, ?)", batch)
        return len(batch)

    def apply_fields(self, *, full: bool) -> int:
        """Fold the staged round into `fields` (inside `run()`; the latest entry per item
        wins, a full round replaces the table); how many list items it added, changed or
        removed."""
        db = self._db
        latest = (
            "SELECT list_item_id, doc FROM fields_stage WHERE ord IN "
            "(SELECT MAX(ord) FROM fields_stage GROUP BY list_item_id)"
        )
        changed = 0
        if full:
            changed += db.execute(
                "DELETE FROM fields WHERE list_item_id NOT IN "
                f"(SELECT list_item_id FROM ({latest}) WHERE doc IS NOT NULL)"
            ).rowcount
        else:
            changed += db.execute(
                "DELETE FROM fields WHERE list_item_id IN "
                f"(SELECT list_item_id FROM ({latest}) WHERE doc IS NULL)"
            ).rowcount
        changed += db.execute(
            f"INSERT INTO fields(list_item_id, doc) SELECT list_item_id, doc FROM ({latest}) "
            "WHERE doc IS NOT NULL ON CONFLICT(list_item_id) DO UPDATE SET doc = excluded.doc "
            "WHERE fields.doc IS NOT excluded.doc"
        ).rowcount
        db.execute("DELETE FROM fields_stage")
        return changed

    def forget_fields(self) -> None:
        """Drop every list item's metadata (the target stopped reading it)."""
        self._db.execute("DELETE FROM fields")
        self._db.execute("DELETE FROM fields_stage")
