"""The state store's tables, its triggers and its version (`SCHEMA_VERSION`).

Every statement is `IF NOT EXISTS`: opening a store creates what is missing and leaves the
rest as it is. A store written by a newer ms365sync (a higher version) is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ms365sync.errors import StateError
from ms365sync.state.meta import MetaKey, read_value, write_value

__all__ = [
    "ITEM_FIELDS",
    "MIRROR_COLUMNS",
    "MIRROR_FIELDS",
    "SCHEMA_VERSION",
    "create",
    "index",
    "migrate",
]

# 2: mirror.ino. 3: the principal kinds of graph-facts §6.12 (a store of version 2 holds
# permission sets classified the old way: they are read again). 4: items.malware,
# mirror.local_size, and the errors table's classes (graph-facts §17). 5: document metadata
# (issue 21): items.list_item_id, the fields tables, mirror.metadata.
SCHEMA_VERSION = 5

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, parent_id TEXT, name TEXT, is_folder INTEGER NOT NULL,
    is_root INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT, ctag TEXT, qxh TEXT,
    modified TEXT, mime TEXT, shared INTEGER NOT NULL, package INTEGER NOT NULL,
    own_perms INTEGER NOT NULL DEFAULT 0,  -- a permission sweep found it differs from its root
    path TEXT,       -- its key (models.path_key of segs); NULL while an ancestor is unknown
    segs TEXT,       -- the path's names as a JSON list (names may contain "/")
    perm_src TEXT,   -- the item whose permission set applies (nearest root)
    malware TEXT,    -- the malware facet's description; NULL: not flagged
    list_item_id TEXT  -- sharepointIds.listItemId; NULL: not selected (no metadata read)
);
CREATE INDEX IF NOT EXISTS items_parent ON items(parent_id);
CREATE TABLE IF NOT EXISTS perms (
    item_id TEXT PRIMARY KEY, labels TEXT NOT NULL, grants TEXT NOT NULL, read_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror (
    item_id TEXT PRIMARY KEY, path TEXT NOT NULL, local_path TEXT NOT NULL, size INTEGER NOT NULL,
    ctag TEXT, qxh TEXT, etag TEXT, modified TEXT, mtime_ns INTEGER NOT NULL,
    labels TEXT NOT NULL, grants TEXT NOT NULL,
    ino INTEGER,     -- the inode number of the file placed; NULL: not known (schema 1)
    local_size INTEGER, -- the placed copy's size when not the listed one; NULL: the same
    metadata TEXT    -- the document metadata last reported (canonical JSON); NULL: none
);
-- put_mirror looks records up by path: without this index every insert scans the table.
CREATE INDEX IF NOT EXISTS mirror_path ON mirror(path);
-- Files that could not be mirrored as listed. kind: "transient" (tried again by the next
-- run), "permanent" (tried again when the item's cTag changes, or after retry_at),
-- "skipped" (not fetched on purpose: a package's content, a file flagged as malware);
-- cause: a word for the case (sync/issues.py); ctag: the item's version it applies to.
CREATE TABLE IF NOT EXISTS errors (
    item_id TEXT PRIMARY KEY, path TEXT, reason TEXT NOT NULL, first_seen REAL NOT NULL,
    attempts INTEGER NOT NULL, kind TEXT NOT NULL DEFAULT 'transient', cause TEXT,
    ctag TEXT, retry_at REAL
);
CREATE TABLE IF NOT EXISTS stage (
    ord INTEGER PRIMARY KEY, item_id TEXT NOT NULL, parent_id TEXT, name TEXT,
    is_folder INTEGER NOT NULL, is_root INTEGER NOT NULL, deleted INTEGER NOT NULL,
    size INTEGER NOT NULL, etag TEXT, ctag TEXT, qxh TEXT, modified TEXT, mime TEXT,
    shared INTEGER NOT NULL, shared_changed INTEGER NOT NULL, package INTEGER NOT NULL,
    malware TEXT, list_item_id TEXT
);
-- The library's list items as the list's delta reported them (sync/metadata.py): each one's
-- document metadata as canonical JSON, joined to its file on items.list_item_id.
CREATE TABLE IF NOT EXISTS fields (list_item_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
-- One round of the list's delta as it arrives (doc NULL: deleted); folded into fields.
CREATE TABLE IF NOT EXISTS fields_stage (
    ord INTEGER PRIMARY KEY, list_item_id TEXT NOT NULL, doc TEXT
);
CREATE TABLE IF NOT EXISTS exports (
    run_id TEXT PRIMARY KEY, log_name TEXT, log_json TEXT, permissions INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, finished REAL, status TEXT NOT NULL,
    summary TEXT
);
"""

ITEM_FIELDS = (
    "item_id, parent_id, name, is_folder, is_root, size, etag, ctag, qxh, modified, mime, "
    "shared, package, own_perms, path, segs, perm_src, malware, list_item_id"
)
MIRROR_FIELDS = (
    "item_id, path, local_path, size, ctag, qxh, etag, modified, mtime_ns, labels, grants"
)
# Every column of a mirror record. The inode number is not an input of the plan (which
# watches MIRROR_FIELDS): it only says whether a time may be set in place. The local size
# is (a no-op run compares it with the disk).
MIRROR_COLUMNS = f"{MIRROR_FIELDS}, ino, local_size, metadata"

_GRANTS_FILE = MetaKey.GRANTS_FILE.value
_CONVERGED = MetaKey.CONVERGED.value
_TARGET_IDS = f"('{MetaKey.SITE_ID.value}', '{MetaKey.DRIVE_ID.value}')"

# The target's ids are part of the grants file: a change forgets its stamp (the mirror and
# the items' permission sources do the same through _INPUT_TRIGGERS).
_META_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS grants_input_meta AFTER UPDATE ON meta
WHEN NEW.key IN {_TARGET_IDS} AND OLD.value IS NOT NEW.value
BEGIN DELETE FROM meta WHERE key = '{_GRANTS_FILE}'; END;
CREATE TRIGGER IF NOT EXISTS grants_input_meta_insert AFTER INSERT ON meta
WHEN NEW.key IN {_TARGET_IDS}
BEGIN DELETE FROM meta WHERE key = '{_GRANTS_FILE}'; END;
"""


def _forgetting(key: str, table: str, fields: str) -> str:
    """Triggers that delete the meta `key` when a row of `table` is added, removed, or
    changed in any of `fields` (an update that changes none of them keeps it)."""
    forget = f"BEGIN DELETE FROM meta WHERE key = '{key}'; END;"
    old = ", ".join(f"OLD.{f.strip()}" for f in fields.split(","))
    new = ", ".join(f"NEW.{f.strip()}" for f in fields.split(","))
    return "\n".join(
        (
            f"CREATE TRIGGER IF NOT EXISTS {key}_{table}_insert AFTER INSERT ON {table} {forget}",
            f"CREATE TRIGGER IF NOT EXISTS {key}_{table}_delete AFTER DELETE ON {table} {forget}",
            f"CREATE TRIGGER IF NOT EXISTS {key}_{table}_update AFTER UPDATE ON {table} "
            f"WHEN ({old}) IS NOT ({new}) {forget}",
        )
    )


# Whatever the plan is made from (the tree, the permission sets, the mirror's records)
# forgets that the last run converged: only an untouched state lets a run skip planning.
# What the grants file is built from (the mirror's paths and grants, the items' permission
# sources) forgets the stamp of the last written file: a run that changed none of it need
# not read every mirror row to know that.
_INPUT_TRIGGERS = "\n".join(
    (
        _forgetting(_CONVERGED, "items", ITEM_FIELDS),
        _forgetting(_CONVERGED, "perms", "item_id, labels, grants"),
        _forgetting(_CONVERGED, "mirror", f"{MIRROR_FIELDS}, local_size, metadata"),
        _forgetting(_CONVERGED, "fields", "list_item_id, doc"),
        _forgetting(_GRANTS_FILE, "items", "item_id, perm_src"),
        _forgetting(_GRANTS_FILE, "mirror", "item_id, path, grants"),
    )
)


def create(db: sqlite3.Connection) -> None:
    """Create the tables and triggers that are missing."""
    db.executescript(_TABLES + _META_TRIGGERS + _INPUT_TRIGGERS)


_ADDED_COLUMNS = (  # (table, column, its declaration) added since schema 1
    ("mirror", "ino", "INTEGER"),
    ("mirror", "local_size", "INTEGER"),
    ("items", "malware", "TEXT"),
    ("stage", "malware", "TEXT"),
    ("errors", "kind", "TEXT NOT NULL DEFAULT 'transient'"),
    ("errors", "cause", "TEXT"),
    ("errors", "ctag", "TEXT"),
    ("errors", "retry_at", "REAL"),
    ("items", "list_item_id", "TEXT"),
    ("stage", "list_item_id", "TEXT"),
    ("mirror", "metadata", "TEXT"),
)


def _add_columns(db: sqlite3.Connection) -> None:
    """Add the columns an older store lacks, and make the triggers that watch the items and
    the mirror again (theirs name the columns they had)."""
    for table, column, declaration in _ADDED_COLUMNS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    for table in ("items", "mirror"):
        for event in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER IF EXISTS {_CONVERGED}_{table}_{event}")
    for statement in _INPUT_TRIGGERS.splitlines():  # one per line; executescript would commit
        db.execute(statement)


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Stamp a new store with the current version, bring an older one up to it, refuse
    one from a newer ms365sync.

    Raises:
        StateError: the store's schema is newer than this version knows.
    """
    version = read_value(db, MetaKey.SCHEMA_VERSION)
    if version is None:
        write_value(db, MetaKey.SCHEMA_VERSION, str(SCHEMA_VERSION))
    elif int(version) < SCHEMA_VERSION:
        db.execute("BEGIN IMMEDIATE")
        try:
            _add_columns(db)
            if int(version) < 3:
                # Grants stored before the kinds of graph-facts §6.12 (Everyone except
                # external users as a "user" ...): forgetting the permission sets makes the
                # next run read every source again, and the mirror's records follow (a kind
                # that changes no label is recorded without a change log).
                db.execute("DELETE FROM perms")
            write_value(db, MetaKey.SCHEMA_VERSION, str(SCHEMA_VERSION))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    elif int(version) > SCHEMA_VERSION:
        raise StateError(
            f"written by a newer ms365sync (schema {version})",
            path=path,
            hint="upgrade ms365sync",
        )


def index(db: sqlite3.Connection) -> None:
    """Create the indexes on columns a migration adds (after `migrate`)."""
    db.execute("CREATE INDEX IF NOT EXISTS items_list_item ON items(list_item_id)")
