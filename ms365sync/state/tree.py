"""The state store's copy of the remote tree: the listing stage and the items table.

A delta round streams into `stage`; `apply_stage` folds a complete round into `items`
(latest entry per id wins, deleted folders take their subtrees, a full round replaces the
tree) and resolves every item's path and permission source (its nearest permission root)
in SQL, so the tree is never held in Python. `TreeTables` is a part of `StateStore` and
works on its connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ms365sync.models import RemoteItem

_ITEM_COLUMNS = (
    "item_id, parent_id, name, is_folder, is_root, size, etag, ctag, qxh, modified, mime, "
    "shared, package, malware, list_item_id"
)

# Every item reachable from a root (`is_root`) through named items, with its path's names
# as JSON text exactly as json.dumps(names, ensure_ascii=False) writes it (what earlier
# versions stored: an unchanged item is not rewritten), its path (its key, as
# models.path_key makes it from the names: "\" and "/" in a name escaped with "\"), and
# its permission source (itself if a root, shared, or with permissions of its own, else its
# parent's). A nameless item cannot be placed: it and its subtree are left out. Each item
# has one parent and a root is nobody's child, so every item is reached at most once, even
# along a cycle. Sorted by id, the rows go into the temporary table's key in order (about
# twice as fast).
_PLACED = r"""
WITH RECURSIVE walk(item_id, segs, path, perm_src) AS (
    SELECT item_id, '[]', '', item_id FROM items WHERE is_root = 1
    UNION ALL
    SELECT c.item_id,
        CASE WHEN p.segs = '[]' THEN '[' || json_quote(c.name) || ']'
            ELSE substr(p.segs, 1, length(p.segs) - 1) || ', ' || json_quote(c.name) || ']' END,
        CASE WHEN p.segs = '[]' THEN '' ELSE p.path || '/' END
            || replace(replace(c.name, '\', '\\'), '/', '\/'),
        CASE WHEN c.shared OR c.own_perms THEN c.item_id ELSE p.perm_src END
    FROM walk p JOIN items c ON c.parent_id = p.item_id
    WHERE c.is_root = 0 AND c.name IS NOT NULL
)
SELECT item_id, segs, path, perm_src FROM walk ORDER BY item_id
"""

_FILE = "is_folder = 0 AND package = 0"  # a remote file (not a folder or a package)

# The files below a package (item id, the package's key), wherever they lie in it.
_IN_PACKAGES = """
WITH RECURSIVE inside(item_id, pkg) AS (
    SELECT item_id, item_id FROM items WHERE package = 1
    UNION
    SELECT c.item_id, p.pkg FROM inside p JOIN items c ON c.parent_id = p.item_id
    WHERE c.is_root = 0
)
SELECT i.item_id, COALESCE(k.path, k.name) FROM inside i
JOIN items f ON f.item_id = i.item_id AND f.is_folder = 0 AND f.package = 0
JOIN items k ON k.item_id = i.pkg
"""
_CHUNK = 500  # item ids per statement (SQLite before 3.32 allows 999 parameters)

# Files among the ids in {marks} with their permission set and that of the root they would
# inherit from (their parent's source) stored: set apart as a root of their own exactly when
# the service does not mark them (a marked file is a root already, and stops being one when
# its mark goes) and the labels differ (both stored by the same json.dumps, so equal labels
# are equal text). Those whose flag (0 or 1) says otherwise flip. (No UPDATE ... FROM: that
# needs SQLite 3.33.)
_CLASSIFY = """
UPDATE items SET own_perms = 1 - own_perms WHERE item_id IN (
    SELECT f.item_id
    FROM items f JOIN items p ON p.item_id = f.parent_id
    JOIN perms mine ON mine.item_id = f.item_id
    JOIN perms theirs ON theirs.item_id = p.perm_src
    WHERE f.item_id IN ({marks}) AND f.is_folder = 0 AND f.package = 0
    AND f.own_perms != (f.shared = 0 AND mine.labels != theirs.labels)
)
"""

# The items the staged round deleted (in `temp.latest`; an empty id names no item) and
# everything below them. UNION, not UNION ALL: each is visited once, even along a cycle.
# The statement starts with DELETE, the WITH inside: Python's sqlite3 gives the rowcount
# only of a statement that starts with INSERT, UPDATE, DELETE or REPLACE (-1 otherwise).
_DELETE_SUBTREES = """
DELETE FROM items WHERE item_id IN (
    WITH RECURSIVE doomed(item_id) AS (
        SELECT item_id FROM latest WHERE deleted = 1 AND item_id != ''
        UNION
        SELECT i.item_id FROM items i JOIN doomed d ON i.parent_id = d.item_id
    )
    SELECT item_id FROM doomed
)
"""


@dataclass(frozen=True, slots=True)
class TreeRow:
    """A remote file of the committed tree, with its resolved path and permission source."""

    item_id: str
    segments: tuple[str, ...] | None  # None while an ancestor is unknown
    size: int
    etag: str | None
    ctag: str | None
    quick_xor_hash: str | None
    modified: str | None
    perm_src: str | None
    malware: str | None = None  # the malware facet's description: SharePoint flagged it
    list_item_id: str | None = None  # its list item (None: not selected by the listing)
    metadata: str | None = None  # its list item's metadata (`fields` table); None: not listed


@dataclass(frozen=True)
class StageSummary:
    """How many items applying a listing round reported and removed. The round's entries
    stay in `temp.latest` until the next one is applied (see `sources_to_read`)."""

    reported: int  # items reported in this round (not deleted)
    removed: int  # items that left the tree
    shared_changed: int  # items carrying sharedChanged


@dataclass(frozen=True)
class StructureChange:
    """What a structure sweep's enumeration changed in the tree's permission roots."""

    roots: int  # items the enumeration marked as roots of permission hierarchies
    became: int  # items that became roots
    ceased: int  # items that stopped being roots (their inheritance was restored)


class TreeTables:
    """The stage and items tables of a `StateStore` (a mixin over its connection)."""

    _db: sqlite3.Connection

    # ------------------------------------------------------------------ listing stage

    def clear_stage(self) -> None:
        self._db.execute("DELETE FROM stage")

    def stage_page(self, items: Iterable[RemoteItem]) -> int:
        """Append one delta page to the stage (durably, outside the run transaction)."""
        rows = [
            (
                i.item_id,
                i.parent_id,
                i.name,
                int(i.is_folder),
                int(i.is_root),
                int(i.deleted),
                i.size,
                i.etag,
                i.ctag,
                i.quick_xor_hash,
                i.modified,
                i.mime_type,
                int(i.shared),
                int(i.shared_changed),
                int(i.package),
                i.malware,
                i.list_item_id,
            )
            for i in items
        ]
        self._db.executemany(
            "INSERT INTO stage(item_id, parent_id, name, is_folder, is_root, deleted, size, etag, "
            "ctag, qxh, modified, mime, shared, shared_changed, package, malware, list_item_id) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        return len(rows)

    def stage_root_shared(self) -> bool | None:
        """Whether the library root came with a `shared` facet in the stage (None: no root)."""
        row = self._db.execute(
            "SELECT shared FROM stage WHERE is_root = 1 ORDER BY ord DESC LIMIT 1"
        ).fetchone()
        return None if row is None else bool(row[0])

    # ------------------------------------------------------------------ structure sweep

    def clear_structure(self) -> None:
        """Start staging a structure sweep's enumeration (a temporary table: a crash loses
        it, and the sweep is simply not recorded as done)."""
        self._db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS structure("
            "item_id TEXT PRIMARY KEY, shared INTEGER NOT NULL) WITHOUT ROWID"
        )
        self._db.execute("DELETE FROM temp.structure")

    def stage_structure(self, marks: Iterable[tuple[str, bool]]) -> int:
        """Record, per item id of one enumeration page, whether it is a permission root."""
        rows = [(item_id, int(shared)) for item_id, shared in marks]
        self._db.executemany("INSERT OR REPLACE INTO temp.structure VALUES (?, ?)", rows)
        return len(rows)

    def apply_structure(self) -> StructureChange:
        """Take the staged enumeration's roots as the tree's (inside `run()`): items it marks
        become roots, items it lists unmarked stop being roots; items it did not list (new
        or deleted since the run's own listing) keep what the listing said."""
        db = self._db
        became = db.execute(
            "UPDATE items SET shared = 1 WHERE shared = 0 AND item_id IN "
            "(SELECT item_id FROM temp.structure WHERE shared = 1)"
        ).rowcount
        ceased = db.execute(
            "UPDATE items SET shared = 0 WHERE shared = 1 AND item_id IN "
            "(SELECT item_id FROM temp.structure WHERE shared = 0)"
        ).rowcount
        roots = db.execute("SELECT COUNT(*) FROM temp.structure WHERE shared = 1").fetchone()[0]
        db.execute("DELETE FROM temp.structure")
        if became or ceased:
            self._resolve()
        return StructureChange(int(roots), became, ceased)

    def apply_stage(self, *, full: bool, keep_marks: bool = False) -> StageSummary:
        """Fold the staged round into the tree (inside `run()`); a full round replaces it.

        Deleted folders take their descendants with them whether or not the service reported
        each one (graph-facts §5.5 leaves it unconfirmed). With `keep_marks`, the round's
        `shared` facets are not taken: known items keep their permission-root marks (the
        round came without marks it should have had).
        """
        db = self._db
        db.execute("DROP TABLE IF EXISTS temp.latest")
        db.execute(
            "CREATE TEMP TABLE latest AS SELECT * FROM stage WHERE ord IN "
            "(SELECT MAX(ord) FROM stage GROUP BY item_id)"
        )
        db.execute("CREATE INDEX temp.latest_id ON latest(item_id)")
        if keep_marks:
            db.execute(
                "UPDATE latest SET shared = COALESCE("
                "(SELECT i.shared FROM items i WHERE i.item_id = latest.item_id), shared)"
            )
        reshaped = full or self._reshapes_tree()
        removed = 0
        if full:
            removed = db.execute(
                "DELETE FROM items WHERE item_id NOT IN (SELECT item_id FROM latest)"
            ).rowcount
        db.execute(
            f"INSERT INTO items({_ITEM_COLUMNS}) SELECT {_ITEM_COLUMNS} FROM latest "
            "WHERE deleted = 0 ON CONFLICT(item_id) DO UPDATE SET parent_id=excluded.parent_id, "
            "name=excluded.name, is_folder=excluded.is_folder, is_root=excluded.is_root, "
            "size=excluded.size, etag=excluded.etag, ctag=excluded.ctag, qxh=excluded.qxh, "
            "modified=excluded.modified, mime=excluded.mime, shared=excluded.shared, "
            "package=excluded.package, malware=excluded.malware, "
            "list_item_id=COALESCE(excluded.list_item_id, items.list_item_id)"
        )
        removed += db.execute(_DELETE_SUBTREES).rowcount
        if reshaped:
            self._resolve()
        reported, shared_changed = db.execute(
            "SELECT COUNT(*) - TOTAL(deleted), TOTAL(shared_changed) FROM latest"
        ).fetchone()
        return StageSummary(int(reported), removed, int(shared_changed))

    def _reshapes_tree(self) -> bool:
        """Whether the staged round (in `temp.latest`, not yet folded) adds, deletes, moves,
        renames or re-roots any item: only then can a path or a permission source change.

        A no-op round (typically just the root, unchanged) then skips `_resolve`, which
        walks the whole tree (about 0.5 s per 100,000 items).
        """
        row = self._db.execute(
            "SELECT EXISTS (SELECT 1 FROM latest l LEFT JOIN items i ON i.item_id = l.item_id "
            "WHERE l.deleted = 1 OR i.item_id IS NULL OR i.parent_id IS NOT l.parent_id "
            "OR i.name IS NOT l.name OR i.is_root != l.is_root OR i.shared != l.shared)"
        ).fetchone()
        return bool(row[0])

    def set_own_permissions_of_files(self, own: bool) -> None:
        """Record that every file carries permissions of its own (without hierarchical
        sharing hints) or that none does (they follow their folders again)."""
        changed = self._db.execute(
            f"UPDATE items SET own_perms = ? WHERE {_FILE} AND own_perms != ?", (own, own)
        ).rowcount
        if changed:
            self._resolve()

    def classify_own_permissions(self, item_ids: Sequence[str]) -> int:
        """Of the files among `item_ids` (permission sets just read), those whose labels
        differ from the set of the root they would inherit from (their parent's source)
        become roots of their own; those equal to it follow it again. A file missing either
        stored set is left as it is. Returns how many files changed."""
        changed = 0
        for start in range(0, len(item_ids), _CHUNK):
            chunk = item_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            changed += self._db.execute(_CLASSIFY.format(marks=marks), chunk).rowcount
        if changed:
            self._resolve()
        return changed

    def _resolve(self) -> None:
        """Recompute every item's path and `perm_src` from the tree; write what changed.

        An item whose parent is unknown keeps a NULL path (its round is incomplete for it).
        The walk runs in SQLite (about 0.5 s per 100,000 items, none of them held in Python)
        and only changed rows are written, so a no-op run stays cheap.
        """
        db = self._db
        db.execute("DROP TABLE IF EXISTS temp.placed")
        db.execute(
            "CREATE TEMP TABLE placed(item_id TEXT PRIMARY KEY, segs TEXT, path TEXT, "
            "perm_src TEXT) WITHOUT ROWID"
        )
        db.execute(f"INSERT INTO placed {_PLACED}")
        db.execute(
            "UPDATE items SET (segs, path, perm_src) = (SELECT p.segs, p.path, p.perm_src "
            "FROM placed p WHERE p.item_id = items.item_id) WHERE item_id IN ("
            "SELECT p.item_id FROM placed p JOIN items i ON i.item_id = p.item_id "
            "WHERE i.segs IS NOT p.segs OR i.path IS NOT p.path OR i.perm_src IS NOT p.perm_src)"
        )
        db.execute(
            "UPDATE items SET segs = NULL, path = NULL, perm_src = NULL "
            "WHERE (segs IS NOT NULL OR perm_src IS NOT NULL) "
            "AND item_id NOT IN (SELECT item_id FROM placed)"
        )
        db.execute("DROP TABLE temp.placed")

    # ------------------------------------------------------------------ tree queries

    def tree_files(self) -> Iterator[TreeRow]:
        """Every remote file (not folder or package), sorted by item id."""
        for item_id, segs, *rest in self._db.execute(
            "SELECT i.item_id, i.segs, i.size, i.etag, i.ctag, i.qxh, i.modified, i.perm_src, "
            "i.malware, i.list_item_id, f.doc FROM items i "
            "LEFT JOIN fields f ON f.list_item_id = i.list_item_id "
            "WHERE i.is_folder = 0 AND i.package = 0 ORDER BY i.item_id"
        ):
            segments = None if segs is None else tuple(json.loads(segs))
            yield TreeRow(item_id, segments, *rest)

    def flagged_files(self) -> dict[str, str]:
        """Files SharePoint flags as malware: item id -> the facet's description."""
        return dict(
            self._db.execute(
                f"SELECT item_id, malware FROM items WHERE {_FILE} AND malware IS NOT NULL"
            )
        )

    def package_files(self) -> dict[str, str]:
        """Files inside a package (a OneNote notebook ...): item id -> the package's key."""
        return dict(self._db.execute(_IN_PACKAGES))

    def item_versions(self, item_ids: Iterable[str]) -> dict[str, str | None]:
        """The cTag of each of `item_ids` in the tree (ids not in it are left out)."""
        ids = list(item_ids)
        found: dict[str, str | None] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                self._db.execute(
                    f"SELECT item_id, ctag FROM items WHERE item_id IN ({marks})", chunk
                )
            )
        return found

    def unplaced_file_ids(self) -> set[str]:
        """Files of the tree whose path is not known yet (an ancestor was not listed)."""
        return {
            row[0]
            for row in self._db.execute(f"SELECT item_id FROM items WHERE {_FILE} AND segs IS NULL")
        }

    def unlisted_file_ids(self) -> set[str]:
        """Files of the tree whose list item the fields table lacks (their document metadata
        is not known yet: the list's delta has not reported it)."""
        return {
            row[0]
            for row in self._db.execute(
                f"SELECT item_id FROM items i WHERE {_FILE} AND NOT EXISTS "
                "(SELECT 1 FROM fields f WHERE f.list_item_id = i.list_item_id)"
            )
        }

    def item_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def sources_to_read(self, retry: Iterable[str]) -> list[str]:
        """The files' permission sources a run reads when it does not sweep, sorted: those
        the applied round reported (live, or with a sharing hint), those never read, and
        those of `retry`. A folder's own source is not one unless a file uses it: reading
        it would cost 5 RU for nothing."""
        return [
            row[0]
            for row in self._db.execute(
                f"SELECT DISTINCT perm_src FROM items WHERE {_FILE} AND perm_src IS NOT NULL "
                "AND (perm_src IN (SELECT item_id FROM latest WHERE deleted = 0 OR shared_changed) "
                "OR perm_src NOT IN (SELECT item_id FROM perms) "
                "OR perm_src IN (SELECT value FROM json_each(?))) ORDER BY perm_src",
                (json.dumps(list(retry)),),
            )
        ]

    def sources_to_sweep(self) -> list[str]:
        """The files' permission sources and their folders' sources (where each file would
        inherit from), sorted: what a sweep reads first."""
        return [
            row[0]
            for row in self._db.execute(
                f"SELECT perm_src FROM items WHERE {_FILE} AND perm_src IS NOT NULL UNION "
                "SELECT p.perm_src FROM items f JOIN items p ON p.item_id = f.parent_id "
                "WHERE f.is_folder = 0 AND f.package = 0 AND p.perm_src IS NOT NULL ORDER BY 1"
            )
        ]

    def file_sources(self) -> list[str]:
        """Every file's permission source, sorted: what a structure sweep reads."""
        return [
            row[0]
            for row in self._db.execute(
                f"SELECT DISTINCT perm_src FROM items WHERE {_FILE} AND perm_src IS NOT NULL "
                "ORDER BY perm_src"
            )
        ]

    def sources_to_compare(self, item_ids: Sequence[str], *, every: bool) -> list[str]:
        """The sources the files set apart among `item_ids` would inherit from (their
        parents' sources) that classifying them needs read first (sorted): with `every`, all
        of them (a sweep); else those never read and those the applied round reported. A
        file is compared with its folder's current set, never a missing or stale one."""
        found: set[str] = set()
        for start in range(0, len(item_ids), _CHUNK):
            chunk = item_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            wanted = (
                ""
                if every
                else "AND (p.perm_src NOT IN (SELECT item_id FROM perms) OR p.perm_src IN "
                "(SELECT item_id FROM latest WHERE deleted = 0))"
            )
            found.update(
                row[0]
                for row in self._db.execute(
                    "SELECT DISTINCT p.perm_src FROM items f JOIN items p ON p.item_id = "
                    f"f.parent_id WHERE f.item_id IN ({marks}) AND f.own_perms = 1 "
                    f"AND f.is_folder = 0 AND f.package = 0 AND p.perm_src IS NOT NULL {wanted}",
                    chunk,
                )
            )
        return sorted(found - set(item_ids))

    def sweep_reads(self) -> tuple[int, int]:
        """How many permission reads a structure sweep and a full sweep of the tree make
        (the sizes of `file_sources` and of `sources_to_sweep` plus `files_to_sweep`)."""
        structure, files, own = self._db.execute(
            f"SELECT COUNT(DISTINCT perm_src), COUNT(*), TOTAL(perm_src = item_id) FROM items "
            f"WHERE {_FILE} AND perm_src IS NOT NULL"
        ).fetchone()
        parents = self._db.execute(
            "SELECT COUNT(DISTINCT p.perm_src) FROM items f "
            "JOIN items p ON p.item_id = f.parent_id "
            "WHERE f.is_folder = 0 AND f.package = 0 AND p.perm_src IS NOT NULL "
            f"AND p.perm_src NOT IN (SELECT perm_src FROM items WHERE {_FILE} "
            "AND perm_src IS NOT NULL)"
        ).fetchone()[0]
        return int(structure), int(structure) + int(parents) + int(files) - int(own)

    def files_to_sweep(self) -> list[str]:
        """The files that are no file's permission source, sorted: what a sweep reads next."""
        return [
            row[0]
            for row in self._db.execute(
                f"SELECT item_id FROM items WHERE {_FILE} AND item_id NOT IN "
                f"(SELECT perm_src FROM items WHERE {_FILE} AND perm_src IS NOT NULL) "
                "ORDER BY item_id"
            )
        ]
