"""Per-target state store (SQLite, under `<local_root>/.ms365sync/`).

It holds the remote tree as of the last complete listing (`items`), the files ms365sync
placed and reported (`mirror`), permission sets read from Graph (`perms`), per-file errors
to retry, the delta link, and change-log exports not yet written out. A listing streams its
pages into `stage` first; a run then applies the stage, plans, acts and records everything
in one transaction (`StateStore.run()`), so a crash at any point leaves the previous
committed state intact and no change event is lost or reported twice.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ms365sync.errors import CorruptStateError, LocalStorageError, MS365SyncError, StateError
from ms365sync.models import Grant, MirrorFile, PermissionSet, PrincipalKind
from ms365sync.state import db as sqlitedb
from ms365sync.state.tree import StageSummary, TreeRow, TreeTables
from ms365sync.target import DB_NAME

__all__ = ["StageSummary", "StateStore", "TreeRow"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, parent_id TEXT, name TEXT, is_folder INTEGER NOT NULL,
    is_root INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT, ctag TEXT, qxh TEXT,
    modified TEXT, mime TEXT, shared INTEGER NOT NULL, package INTEGER NOT NULL,
    own_perms INTEGER NOT NULL DEFAULT 0,  -- a permission sweep found it differs from its root
    path TEXT,       -- library-relative path; NULL while an ancestor is unknown
    segs TEXT,       -- the path's names as a JSON list (names may contain "/")
    perm_src TEXT    -- the item whose permission set applies (nearest root)
);
CREATE INDEX IF NOT EXISTS items_parent ON items(parent_id);
CREATE TABLE IF NOT EXISTS perms (
    item_id TEXT PRIMARY KEY, labels TEXT NOT NULL, grants TEXT NOT NULL, read_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror (
    item_id TEXT PRIMARY KEY, path TEXT NOT NULL, local_path TEXT NOT NULL, size INTEGER NOT NULL,
    ctag TEXT, qxh TEXT, etag TEXT, modified TEXT, mtime_ns INTEGER NOT NULL,
    labels TEXT NOT NULL, grants TEXT NOT NULL
);
-- put_mirror looks records up by path: without this index every insert scans the table.
CREATE INDEX IF NOT EXISTS mirror_path ON mirror(path);
CREATE TABLE IF NOT EXISTS errors (
    item_id TEXT PRIMARY KEY, path TEXT, reason TEXT NOT NULL, first_seen REAL NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stage (
    ord INTEGER PRIMARY KEY, item_id TEXT NOT NULL, parent_id TEXT, name TEXT,
    is_folder INTEGER NOT NULL, is_root INTEGER NOT NULL, deleted INTEGER NOT NULL,
    size INTEGER NOT NULL, etag TEXT, ctag TEXT, qxh TEXT, modified TEXT, mime TEXT,
    shared INTEGER NOT NULL, shared_changed INTEGER NOT NULL, package INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS exports (
    run_id TEXT PRIMARY KEY, log_name TEXT, log_json TEXT, permissions INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, finished REAL, status TEXT NOT NULL,
    summary TEXT
);
-- The target's ids are part of the grants file: a change forgets its stamp (the mirror and
-- the items' permission sources do the same through _INPUT_TRIGGERS).
CREATE TRIGGER IF NOT EXISTS grants_input_meta AFTER UPDATE ON meta
WHEN NEW.key IN ('site_id', 'drive_id') AND OLD.value IS NOT NEW.value
BEGIN DELETE FROM meta WHERE key = 'grants_file'; END;
CREATE TRIGGER IF NOT EXISTS grants_input_meta_insert AFTER INSERT ON meta
WHEN NEW.key IN ('site_id', 'drive_id')
BEGIN DELETE FROM meta WHERE key = 'grants_file'; END;
"""
GRANTS_FILE_KEY = "grants_file"  # meta: what identifies the grants file as last written
CONVERGED_KEY = "converged"  # meta: set when a run left the mirror equal to the tree (converged.py)

_ITEM_FIELDS = (
    "item_id, parent_id, name, is_folder, is_root, size, etag, ctag, qxh, modified, mime, "
    "shared, package, own_perms, path, segs, perm_src"
)
_MIRROR_FIELDS = (
    "item_id, path, local_path, size, ctag, qxh, etag, modified, mtime_ns, labels, grants"
)


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
        _forgetting(CONVERGED_KEY, "items", _ITEM_FIELDS),
        _forgetting(CONVERGED_KEY, "perms", "item_id, labels, grants"),
        _forgetting(CONVERGED_KEY, "mirror", _MIRROR_FIELDS),
        _forgetting(GRANTS_FILE_KEY, "items", "item_id, perm_src"),
        _forgetting(GRANTS_FILE_KEY, "mirror", "item_id, path, grants"),
    )
)  # meta: "size:mtime_ns" of the grants file as last written


def encode_grants(grants: Sequence[Grant]) -> str:
    return json.dumps(
        [
            {
                "kind": g.kind.value,
                "id": g.principal_id,
                "name": g.display_name,
                "role": g.role,
                "email": g.email,
                "login": g.login_name,
                "link_type": g.link_type,
                "link_scope": g.link_scope,
                "recipients": list(g.recipients),
            }
            for g in grants
        ],
        separators=(",", ":"),
    )


@functools.lru_cache(maxsize=4096)
def decode_permissions(labels: str, grants: str) -> PermissionSet:
    """The permission set stored as JSON. Cached: most files of a library share a handful of
    permission sets, and decoding each row again dominated a no-op run's cost."""
    return PermissionSet(
        labels=tuple(json.loads(labels)),
        grants=tuple(
            Grant(
                kind=PrincipalKind(g["kind"]),
                principal_id=g["id"],
                display_name=g["name"],
                role=g["role"],
                email=g["email"],
                login_name=g["login"],
                link_type=g["link_type"],
                link_scope=g["link_scope"],
                recipients=tuple(g["recipients"]),
            )
            for g in json.loads(grants)
        ),
    )


def _check_file(path: Path) -> None:
    """An existing store must be a file with content: SQLite would open an empty file (or
    create a missing one) as a new, empty store and the run would look like a first run."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, path=path, action="read the state store") from exc
    if not path.is_file():
        raise CorruptStateError("not a file", path=path)
    if info.st_size == 0:
        raise CorruptStateError("empty file", path=path)


class StateStore(TreeTables):
    """The SQLite state of one target. Not thread-safe: use from the syncer's thread."""

    def __init__(self, state_dir: Path, *, connection: sqlite3.Connection | None = None) -> None:
        """Open (creating or migrating) the store in `state_dir`.

        Raises:
            StateError: the store is corrupt, truncated, unreadable or from a newer version.
        """
        self.path = state_dir / DB_NAME
        if connection is None:
            _check_file(self.path)
            try:
                state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LocalStorageError.from_oserror(exc, action="create the state folder") from exc
            connection = sqlitedb.connect(self.path)
        self._db = connection
        try:
            self._check()
            self._db.executescript(_SCHEMA + _INPUT_TRIGGERS)
            self._migrate()
        except (MS365SyncError, sqlite3.Error) as exc:
            connection.close()
            if isinstance(exc, sqlite3.Error):
                raise sqlitedb.translate(exc, self.path) from exc
            raise

    @classmethod
    def snapshot(cls, state_dir: Path) -> StateStore:
        """An in-memory copy of the store (for dry runs): changes to it are never written.

        The files are copied aside first: even a read-only SQLite connection creates the
        -wal and -shm files of a WAL database, and a dry run must not touch the target.

        Raises:
            StateError: the store exists but cannot be read.
        """
        memory = sqlite3.connect(":memory:", isolation_level=None)
        path = state_dir / DB_NAME
        try:
            if path.exists():
                _copy_into(path, memory)
        except (sqlite3.DatabaseError, OSError) as exc:
            memory.close()
            raise StateError(f"unreadable ({exc})", path=path) from exc
        return cls(state_dir, connection=memory)

    @staticmethod
    def set_aside(state_dir: Path) -> Path:
        """Move an unreadable store out of the way (kept for inspection); returns where."""
        path = state_dir / DB_NAME
        aside = path.with_name(f"{DB_NAME}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        return aside

    def _check(self) -> None:
        row = self._db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            detail = row[0] if row else "no answer"
            raise CorruptStateError(f"integrity check failed: {detail}", path=self.path)

    def _migrate(self) -> None:
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise StateError(
                f"written by a newer ms365sync (schema {version})",
                path=self.path,
                hint="upgrade ms365sync",
            )

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # ------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        """One atomic unit: everything inside commits together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def rollback_run(self) -> None:
        """Abandon the open run transaction (dry runs)."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # ------------------------------------------------------------------ permissions

    def store_permissions(self, item_id: str, permissions: PermissionSet, now: float) -> None:
        self._db.execute(
            "INSERT INTO perms(item_id, labels, grants, read_at) VALUES(?,?,?,?) "
            "ON CONFLICT(item_id) DO UPDATE SET labels=excluded.labels, grants=excluded.grants, "
            "read_at=excluded.read_at",
            (item_id, json.dumps(list(permissions.labels)), encode_grants(permissions.grants), now),
        )

    def permissions(self) -> dict[str, PermissionSet]:
        """Every stored permission set by item id (sources only are ever looked up)."""
        return {
            row[0]: decode_permissions(row[1], row[2])
            for row in self._db.execute("SELECT item_id, labels, grants FROM perms")
        }

    def prune_permissions(self) -> None:
        self._db.execute("DELETE FROM perms WHERE item_id NOT IN (SELECT item_id FROM items)")

    # ------------------------------------------------------------------ mirror

    def mirror_files(self, page: int = 1000) -> Iterator[MirrorFile]:
        """Every recorded mirror file, sorted by item id, read a page at a time after the
        last id passed: records written meanwhile for ids already passed do not disturb it."""
        after = ""
        while True:
            rows = self._db.execute(
                "SELECT item_id, path, local_path, size, ctag, qxh, etag, modified, mtime_ns, "
                "labels, grants FROM mirror WHERE item_id > ? ORDER BY item_id LIMIT ?",
                (after, page),
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield from map(_mirror_file, rows)

    def unplaced_file_ids(self) -> set[str]:
        """Files of the tree whose path is not known yet (an ancestor was not listed)."""
        return {
            row[0]
            for row in self._db.execute(
                "SELECT item_id FROM items WHERE is_folder = 0 AND package = 0 AND segs IS NULL"
            )
        }

    def mirror_stats(self) -> Iterator[tuple[str, int, int]]:
        """(local path, size, mtime_ns) of every recorded mirror file, as placed."""
        yield from self._db.execute("SELECT local_path, size, mtime_ns FROM mirror")

    def mirror_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM mirror").fetchone()[0])

    def put_mirror(self, file: MirrorFile) -> None:
        self._db.execute(
            "DELETE FROM mirror WHERE path = ? AND item_id != ?", (file.path, file.item_id)
        )
        self._db.execute(
            "INSERT INTO mirror(item_id, path, local_path, size, ctag, qxh, etag, modified, "
            "mtime_ns, labels, grants) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(item_id) DO UPDATE SET path=excluded.path, "
            "local_path=excluded.local_path, "
            "size=excluded.size, ctag=excluded.ctag, qxh=excluded.qxh, etag=excluded.etag, "
            "modified=excluded.modified, mtime_ns=excluded.mtime_ns, labels=excluded.labels, "
            "grants=excluded.grants",
            (
                file.item_id,
                file.path,
                file.local_path,
                file.size,
                file.ctag,
                file.quick_xor_hash,
                file.etag,
                file.modified,
                file.mtime_ns,
                json.dumps(list(file.permissions.labels)),
                encode_grants(file.permissions.grants),
            ),
        )

    def drop_mirror(self, item_id: str) -> None:
        self._db.execute("DELETE FROM mirror WHERE item_id = ?", (item_id,))

    def mirror_local_paths(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT local_path FROM mirror")}

    def mirror_labels(self) -> Iterator[tuple[str, list[str]]]:
        """(path, labels) of every mirror file, sorted by path, for .permissions.json."""
        for path, labels in self._db.execute("SELECT path, labels FROM mirror ORDER BY path"):
            yield path, json.loads(labels)

    def mirror_grants(self) -> Iterator[tuple[str, str, PermissionSet]]:
        """(path, item id, permissions) of every mirror file, sorted by path."""
        for path, item_id, labels, grants in self._db.execute(
            "SELECT path, item_id, labels, grants FROM mirror ORDER BY path"
        ):
            yield path, item_id, decode_permissions(labels, grants)

    def mirror_grant_rows(self) -> Iterator[tuple[str, str, str, str | None]]:
        """(path, item id, encoded grants, permission source) of every mirror file, sorted by
        path: the grants file's input (the source is the item itself for own permissions)."""
        yield from self._db.execute(
            "SELECT m.path, m.item_id, m.grants, i.perm_src FROM mirror m "
            "LEFT JOIN items i ON i.item_id = m.item_id ORDER BY m.path"
        )

    # ------------------------------------------------------------------ errors

    def has_errors(self) -> bool:
        """Whether any file is failing (recorded by the last run, retried by the next)."""
        return bool(self._db.execute("SELECT EXISTS (SELECT 1 FROM errors)").fetchone()[0])

    def set_error(self, item_id: str, path: str | None, reason: str, now: float) -> None:
        self._db.execute(
            "INSERT INTO errors(item_id, path, reason, first_seen, attempts) VALUES(?,?,?,?,1) "
            "ON CONFLICT(item_id) DO UPDATE SET path=excluded.path, reason=excluded.reason, "
            "attempts=attempts+1",
            (item_id, path, reason, now),
        )

    def replace_errors(self, current: dict[str, tuple[str, str]], now: float) -> set[str]:
        """Record this run's errors (key -> (path, reason)), counting the attempts of those
        that persist and forgetting the rest; returns the keys that were not failing before."""
        previous = {row[0] for row in self._db.execute("SELECT item_id FROM errors")}
        gone = [(key,) for key in previous - set(current)]
        self._db.executemany("DELETE FROM errors WHERE item_id = ?", gone)
        for key, (path, reason) in current.items():
            self.set_error(key, path, reason, now)
        return set(current) - previous

    def errors(self) -> list[tuple[str, str | None, str, int]]:
        return [
            (row[0], row[1], row[2], int(row[3]))
            for row in self._db.execute(
                "SELECT item_id, path, reason, attempts FROM errors ORDER BY path"
            )
        ]

    # ------------------------------------------------------------------ exports and runs

    def enqueue_export(
        self,
        run_id: str,
        log_name: str | None,
        log_json: Iterable[bytes] | None,
        permissions: bool,
    ) -> None:
        """Queue a run's exports (inside its transaction); the change log's UTF-8 JSON, given
        a piece at a time, is kept compressed: an initial sync's log is tens of MB."""
        packed = None if log_json is None else _deflate(log_json)
        self._db.execute(
            "INSERT INTO exports(run_id, log_name, log_json, permissions) VALUES(?,?,?,?)",
            (run_id, log_name, packed, int(permissions)),
        )

    def pending_exports(self) -> list[tuple[str, str | None, str | bytes | None, bool]]:
        """(run id, log name, the stored log for `log_chunks`, whether .permissions.json is due)."""
        return [
            (row[0], row[1], row[2], bool(row[3]))
            for row in self._db.execute(
                "SELECT run_id, log_name, log_json, permissions FROM exports WHERE done = 0 "
                "ORDER BY rowid"
            )
        ]

    @staticmethod
    def log_chunks(stored: str | bytes, chunk: int = 1 << 20) -> Iterator[bytes]:
        """A queued change log's UTF-8 JSON, a piece at a time (text: queued by 0.4 builds)."""
        if isinstance(stored, str):
            for start in range(0, len(stored), chunk):
                yield stored[start : start + chunk].encode("utf-8")
            return
        inflater = zlib.decompressobj()
        data = stored
        while data:
            yield inflater.decompress(data, chunk)
            data = inflater.unconsumed_tail
        yield inflater.flush()

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

    def last_run(self) -> tuple[str, float, float | None, str, str | None] | None:
        row = self._db.execute(
            "SELECT run_id, started, finished, status, summary FROM runs "
            "ORDER BY started DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3], row[4])


def _copy_into(path: Path, memory: sqlite3.Connection) -> None:
    """Load the database at `path` (with its write-ahead log) into `memory`, read only."""
    with tempfile.TemporaryDirectory(prefix="ms365sync-dry-") as scratch:
        copy = Path(scratch) / DB_NAME
        for suffix in ("", "-wal"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                shutil.copyfile(source, Path(f"{copy}{suffix}"))
        source_db = sqlite3.connect(copy)
        try:
            source_db.backup(memory)
        finally:
            source_db.close()


def _deflate(pieces: Iterable[bytes]) -> bytes:
    packer = zlib.compressobj(1)
    packed = [packer.compress(piece) for piece in pieces]
    packed.append(packer.flush())
    return b"".join(packed)


def _mirror_file(row: tuple[Any, ...]) -> MirrorFile:
    return MirrorFile(
        item_id=row[0],
        path=row[1],
        local_path=row[2],
        size=row[3],
        ctag=row[4],
        quick_xor_hash=row[5],
        etag=row[6],
        modified=row[7],
        mtime_ns=row[8],
        permissions=decode_permissions(row[9], row[10]),
    )
