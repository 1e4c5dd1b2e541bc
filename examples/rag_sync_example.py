#!/usr/bin/env python3
"""Keep a permission-aware full-text index in step with ms365sync's mirrors.

A complete consumer of ms365sync's change logs, meant to be copied and adapted: it applies
the change logs of one or more targets, in order, to a SQLite database with an FTS5
full-text index, and answers searches with only the documents the searching person may see.

    python rag_sync_example.py ingest --config sites.toml [--only SITE[/LIBRARY]]...
    python rag_sync_example.py ingest --log-dir ms365_data/marketing/Documents ...
    python rag_sync_example.py search "spring budget" --user ENTRA-USER-ID-OR-EMAIL
        [--principals DATA_ROOT/.principals.json] [--config sites.toml]
    python rag_sync_example.py search "spring budget" --user ENTRA-USER-ID [--group ID]...
        [--group-owner ID]... [--site-group SITE-ID/sitegroups/N]... [--guest]
    python rag_sync_example.py search "spring budget" --user ID \
        --where "Department == 'Finance' and Status != 'Draft'" --exclude-label "Confidential"
    python rag_sync_example.py status

How it stays correct (see docs/rag.md):

* Each change log is applied in one SQLite transaction together with its acknowledgement
  (`ms365sync.LogConsumer` with a `SQLiteCheckpointStore` in this database), so a log takes
  effect exactly once even when the ingester is killed part-way: a killed transaction rolls
  back and the log is still pending. Logs are applied in the order they were written.
* A log is applied as the original ms365sync README says: added -> ingest with its
  permissions; modified -> re-ingest if content_changed, update permissions if
  permissions_changed; permission_only_changes -> update permissions only; deleted -> remove.
  A file the index does not know yet (an index started after it was added) is ingested.
* Permissions are stored by stable ids from the target's `.permissions.grants.json`, never
  by display names (two people can share one). That file is written before each log, so it
  is at least as recent as any log the ingester sees; after the logs, every document's
  grants are brought in line with it (which also catches a permission change that did not
  change any display label). A file missing from it gets no grants: found by nobody.

Who may see a document (`search`): anyone the grants reach (their `kind`, docs/rag.md).
With `[principals] expand = true`, ms365sync keeps `<data_root>/.principals.json`, and
`search --user ID-or-EMAIL` needs nothing else: the person is expanded into the tokens that
reach them from that snapshot (`reach`; the documents keep the grants' compact ids). The
options below are the fallback without a snapshot (and win when given):

* a user or guest grant with the searcher's id (`--user`, the Entra object id);
* a group grant for one of `--group` (resolve the user's transitive groups yourself, e.g.
  Graph `/users/{id}/transitiveMemberOf`); a group_owners grant for one of `--group-owner`
  (the Microsoft 365 groups the user owns: Graph `/users/{id}/ownedObjects`);
* a SharePoint site group grant for one of `--site-group`, or of the groups that
  `--site-groups-file` maps the user to. Graph does not expose site group members: read them
  from SharePoint (`/_api/web/sitegroups/getbyid(N)/users`) and write the mapping file
  `{"<user id>": ["<site id>/sitegroups/<N>", ...]}` on a schedule;
* an all_members grant ("Everyone except external users") for every member, never for a
  `--guest`; an everyone grant ("Everyone") for every member too, and not for a guest either:
  since 2018 guests get the Everyone claim only where an administrator allowed it, which the
  grants cannot tell (fail closed);
* a sharing link by its audience: "recipients" links for the people they list; with
  `--links all` (the default) "organization" links for every member (not for `--guest`) and
  "public" links for every searcher, since anyone holding the URL may open them. `--links
  named` ignores both: only people a grant names see the document (SharePoint's own search
  behaves like that: a link grants access only to people who opened it);
* site_user, application and unknown grants let in nobody who searches (an unknown principal
  is never taken for a wider one).

Document metadata: for a target that reads it (`metadata = [...]` in sites.toml), each
document keeps its metadata values (its columns, content_type, created_by, modified_by,
sensitivity_label) from the added and modified entries, updated by `metadata_only_changes`
(and a permission entry's `metadata_changes`). `search --where EXPR` keeps the documents
whose values match (ms365sync's own filter language, docs/rag.md "Filtering on metadata";
no code is run) and `--exclude-label NAME` drops documents with that sensitivity label.
To keep labelled files out of the index altogether, set `exclude_labels` in sites.toml:
they are then never mirrored.

Text-like files (txt, md, csv, json, html) are indexed in full; other types are kept as
metadata (found by their path) until you plug an extractor into `extract_other`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ms365sync import (
    ChangeLog,
    ConsumerError,
    GrantEntry,
    GrantsFile,
    LogConsumer,
    LogSource,
    PendingLog,
    SQLiteCheckpointStore,
)
from ms365sync.config import load_config
from ms365sync.outputs.changelog import (
    AddedEntry,
    MetadataOnlyEntry,
    ModifiedEntry,
    PermissionOnlyEntry,
)
from ms365sync.outputs.principals import PrincipalsFile
from ms365sync.where import Where, WhereError
from ms365sync.where import parse as parse_where

Entry = AddedEntry | ModifiedEntry | PermissionOnlyEntry | MetadataOnlyEntry
DEFAULT_DB = Path("rag_index.db")
CONSUMER = "rag-example"
GRANTS_FILE = ".permissions.grants.json"
PRINCIPALS_FILE = ".principals.json"
MAX_TEXT_BYTES = 20 * 1024 * 1024  # larger files are kept as metadata only
TEXT_SUFFIXES = {".txt", ".md", ".csv", ".json"}
HTML_SUFFIXES = {".html", ".htm"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, log_dir TEXT NOT NULL, grants_stamp TEXT
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,         -- the target (LogSource key: its local root)
    path TEXT NOT NULL,           -- library-relative path: the change log's key
    item_id TEXT NOT NULL,
    file_path TEXT NOT NULL,
    size INTEGER NOT NULL,
    last_modified TEXT,
    content TEXT NOT NULL,        -- 'text' (body indexed), 'metadata' or 'missing'
    labels TEXT NOT NULL,         -- the "Display Name:::Level" labels, for display only
    grants_digest TEXT NOT NULL,
    metadata TEXT,                -- its metadata values as JSON (NULL: none published)
    sensitivity_label TEXT,       -- its sensitivity label's name (NULL: none known)
    UNIQUE (source, path)
);
CREATE VIRTUAL TABLE IF NOT EXISTS document_text USING fts5(
    path, body, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS grants (
    doc_id INTEGER NOT NULL, kind TEXT NOT NULL, principal_id TEXT NOT NULL, role TEXT NOT NULL,
    display_name TEXT NOT NULL, link_scope TEXT, inherited INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_doc ON grants(doc_id);
CREATE TABLE IF NOT EXISTS access (
    doc_id INTEGER NOT NULL, token TEXT NOT NULL, PRIMARY KEY (token, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS access_doc ON access(doc_id);
CREATE TABLE IF NOT EXISTS applied_logs (
    log_id TEXT PRIMARY KEY,      -- a second application of a log fails here, loudly
    source TEXT NOT NULL, log_name TEXT NOT NULL, run_id TEXT NOT NULL,
    added INTEGER NOT NULL, modified INTEGER NOT NULL, permission_only INTEGER NOT NULL,
    deleted INTEGER NOT NULL, applied_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


# ---------------------------------------------------------------------- database


def open_db(path: Path) -> sqlite3.Connection:
    """The index database (created on first use); transactions are explicit."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    try:
        db.executescript(SCHEMA)
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc):
            raise SystemExit(f"this Python's SQLite has no FTS5 full-text search ({exc})") from exc
        raise
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    for column in ("metadata", "sensitivity_label"):  # an index made before metadata
        if column not in columns:
            db.execute(f"ALTER TABLE documents ADD COLUMN {column} TEXT")
    return db


# ---------------------------------------------------------------------- metadata


def metadata_values(document: Mapping[str, Any]) -> dict[str, Any]:
    """A change log's `metadata` document as the values a filter sees: its fields, and
    content_type, created_by, modified_by and sensitivity_label (the label's name, else id)
    beside them, as ms365sync names them in `metadata_only_changes`."""
    found = dict(document.get("fields") or {})
    for name in ("content_type", "created_by", "modified_by"):
        found[name] = document.get(name)
    label = document.get("sensitivity_label") or {}
    found["sensitivity_label"] = label.get("name") or label.get("id")
    return {name: value for name, value in found.items() if value is not None}


# ---------------------------------------------------------------------- text extraction


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def extract_other(path: Path) -> str | None:
    """The hook for binary formats: return the text of `path`, or None to keep it as
    metadata only. For example, with packages of your choice:

        if path.suffix == ".pdf":  # pypdf
            return "\\n".join(p.extract_text() or "" for p in pypdf.PdfReader(path).pages)
        if path.suffix == ".docx":  # python-docx
            return "\\n".join(p.text for p in docx.Document(path).paragraphs)
        if path.suffix == ".xlsx":  # openpyxl
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            return "\\n".join(str(c) for s in book for row in s.iter_rows(values_only=True)
                             for c in row if c is not None)
    """
    return None


def extract(path: Path) -> tuple[str, str]:
    """(content kind, text) of a mirrored file: 'text', 'metadata' or 'missing'."""
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            return "metadata", ""
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            return "text", path.read_text(encoding="utf-8", errors="replace")
        if suffix in HTML_SUFFIXES:
            return "text", html_text(path.read_text(encoding="utf-8", errors="replace"))
        text = extract_other(path)
    except FileNotFoundError:
        # Gone since the log was written (a later log deletes or changes it).
        return "missing", ""
    return ("metadata", "") if text is None else ("text", text)


# ---------------------------------------------------------------------- permissions


# A guest is a person like a user: both are matched by their Entra object id.
PRINCIPAL_TOKENS = {
    "user": "user",
    "guest": "user",
    "group": "group",
    "group_owners": "groupowners",
    "site_group": "sitegroup",
}
TENANT_WIDE_TOKENS = {"all_members": "members", "everyone": "everyone"}
LINK_TOKENS = {"organization": "link:organization", "public": "link:public"}


def access_tokens(grant: GrantEntry) -> list[str]:
    """Who a grant lets in, as tokens a searcher's principals are matched against.

    Site users, applications and unknown principals let in nobody who searches; a link lets
    in the people it lists, plus, by audience, members or anyone (existing_access and
    unknown add nobody).
    """
    if grant.kind in PRINCIPAL_TOKENS:
        return [f"{PRINCIPAL_TOKENS[grant.kind]}:{grant.id}"]
    if grant.kind in TENANT_WIDE_TOKENS:
        return [TENANT_WIDE_TOKENS[grant.kind]]
    if grant.kind != "link":
        return []
    people = [f"user:{r}" for r in grant.recipients or ()]
    wider = LINK_TOKENS.get(grant.audience or "")
    return people + ([wider] if wider else [])


@dataclass
class Snapshot:
    """A target's `.permissions.grants.json` (empty when the file is missing)."""

    files: dict[str, tuple[str, list[GrantEntry]]]
    stamp: str | None

    @classmethod
    def load(cls, target_root: Path) -> Snapshot:
        path = target_root / GRANTS_FILE
        try:
            stat = path.stat()
            document = GrantsFile.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            print(f"warning: no {path}: its documents get no grants", file=sys.stderr)
            return cls({}, None)
        except ValidationError as exc:  # never guess permissions: stop until it is rewritten
            raise ConsumerError(
                f"{path}: not a grants file ({exc.error_count()} problems)"
            ) from exc
        files = {p: (e.item_id, list(e.grants)) for p, e in document.files.items()}
        return cls(files, f"{stat.st_size}:{stat.st_mtime_ns}")

    def grants(self, path: str, item_id: str) -> list[GrantEntry]:
        """The file's grants; none when the path now holds another item (fail closed)."""
        found = self.files.get(path)
        return found[1] if found is not None and found[0] == item_id else []


def _labels(labels: list[str]) -> str:
    return json.dumps(labels, ensure_ascii=False)


def _digest(grants: Iterable[GrantEntry]) -> str:
    rows = sorted(g.model_dump_json() for g in grants)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def set_grants(db: sqlite3.Connection, doc_id: int, grants: list[GrantEntry]) -> None:
    db.execute("DELETE FROM grants WHERE doc_id = ?", (doc_id,))
    db.execute("DELETE FROM access WHERE doc_id = ?", (doc_id,))
    db.executemany(
        "INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (doc_id, g.kind, g.id, g.role, g.display_name, g.link_scope, int(g.inherited))
            for g in grants
        ],
    )
    tokens = {token for g in grants for token in access_tokens(g)}
    db.executemany("INSERT INTO access VALUES (?, ?)", [(doc_id, t) for t in sorted(tokens)])
    db.execute("UPDATE documents SET grants_digest = ? WHERE id = ?", (_digest(grants), doc_id))


# ---------------------------------------------------------------------- applying a log


@dataclass
class Applier:
    """Applies change logs to the index (inside the caller's transaction)."""

    db: sqlite3.Connection
    snapshots: dict[str, Snapshot]

    def snapshot(self, source: LogSource) -> Snapshot:
        # Loaded after pending() listed the logs: the file is at least as recent as they are.
        if source.key not in self.snapshots:
            self.snapshots[source.key] = Snapshot.load(source.target_root)
        return self.snapshots[source.key]

    def doc_id(self, source: LogSource, path: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM documents WHERE source = ? AND path = ?", (source.key, path)
        ).fetchone()
        return None if row is None else int(row[0])

    def remove(self, source: LogSource, path: str) -> None:
        doc_id = self.doc_id(source, path)
        if doc_id is not None:
            for table in ("grants", "access"):
                self.db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
            self.db.execute("DELETE FROM document_text WHERE rowid = ?", (doc_id,))
            self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def ingest(self, source: LogSource, path: str, entry: Entry, labels: list[str]) -> int:
        """(Re-)index a file's content and metadata; returns its document id."""
        local = locate(source, path, entry.file_path)
        kind, body = extract(local)
        size, modified = 0, None  # a permission-only or metadata-only entry carries neither
        if isinstance(entry, AddedEntry | ModifiedEntry):
            size, modified = entry.size, entry.last_modified
        self.db.execute(
            "INSERT INTO documents(source, path, item_id, file_path, size, last_modified, "
            "content, labels, grants_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '') "
            "ON CONFLICT(source, path) DO UPDATE SET item_id = excluded.item_id, "
            "file_path = excluded.file_path, size = excluded.size, "
            "last_modified = excluded.last_modified, content = excluded.content, "
            "labels = excluded.labels",
            (source.key, path, entry.item_id, str(local), size, modified, kind, _labels(labels)),
        )  # fmt: skip
        doc_id = self.doc_id(source, path)
        assert doc_id is not None
        self.db.execute("DELETE FROM document_text WHERE rowid = ?", (doc_id,))
        self.db.execute(
            "INSERT INTO document_text(rowid, path, body) VALUES (?, ?, ?)", (doc_id, path, body)
        )
        if isinstance(entry, AddedEntry | ModifiedEntry) and entry.metadata is not None:
            self.set_metadata(doc_id, metadata_values(entry.metadata))
        return doc_id

    def set_metadata(self, doc_id: int, values: Mapping[str, Any]) -> None:
        self.db.execute(
            "UPDATE documents SET metadata = ?, sensitivity_label = ? WHERE id = ?",
            (json.dumps(values, sort_keys=True), values.get("sensitivity_label"), doc_id),
        )

    def change_metadata(self, source: LogSource, path: str, changes: Mapping[str, Any]) -> None:
        """Apply `metadata_only_changes`-style changes (name -> {old, new}) to a document."""
        doc_id = self.doc_id(source, path)
        if doc_id is None:
            return
        (stored,) = self.db.execute("SELECT metadata FROM documents WHERE id = ?", (doc_id,))
        values = json.loads(stored[0]) if stored[0] else {}
        for name, change in changes.items():
            if change.get("new") is None:
                values.pop(name, None)
            else:
                values[name] = change["new"]
        self.set_metadata(doc_id, values)

    def permissions(self, source: LogSource, path: str, item_id: str, labels: list[str]) -> None:
        doc_id = self.doc_id(source, path)
        if doc_id is None:
            return
        self.db.execute("UPDATE documents SET labels = ? WHERE id = ?", (_labels(labels), doc_id))
        set_grants(self.db, doc_id, self.snapshot(source).grants(path, item_id))

    def apply(self, log: PendingLog, changes: ChangeLog) -> None:
        """Apply one change log: deletions first (a path can be freed and reused in one run)."""
        source, c = log.source, changes.changes
        for path in c.deleted:
            self.remove(source, path)
        for path, added in c.added.items():
            self.ingest(source, path, added, added.permissions)
            self.permissions(source, path, added.item_id, added.permissions)
        for path, modified in c.modified.items():
            known = self.doc_id(source, path) is not None
            labels = modified.permission_changes.current
            if modified.content_changed or not known:
                self.ingest(source, path, modified, labels)
            if modified.permissions_changed or not known:
                self.permissions(source, path, modified.item_id, labels)
        for path, only in c.permission_only_changes.items():
            labels = only.permission_changes.current
            if self.doc_id(source, path) is None:
                self.ingest(source, path, only, labels)
            self.permissions(source, path, only.item_id, labels)
            if only.metadata_changes:
                self.change_metadata(source, path, only.metadata_changes)
        for path, meta in (changes.metadata_only_changes or {}).items():
            if self.doc_id(source, path) is None:  # unknown yet: index it, with its grants
                self.ingest(source, path, meta, [])
                self.permissions(source, path, meta.item_id, [])
            self.change_metadata(source, path, meta.changes)
        self.db.execute(
            "INSERT INTO applied_logs(log_id, source, log_name, run_id, added, modified, "
            "permission_only, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (log.id, source.key, log.path.name, changes.run_id, len(c.added), len(c.modified),
             len(c.permission_only_changes), len(c.deleted)),
        )  # fmt: skip

    def refresh_grants(self, source: LogSource) -> int:
        """Bring every document's grants in line with the target's grants file; returns how
        many changed. Skipped while the file is unchanged since the last refresh."""
        snapshot = Snapshot.load(source.target_root)
        row = self.db.execute("SELECT grants_stamp FROM sources WHERE key = ?", (source.key,))
        if snapshot.stamp is None or (row.fetchone() or (None,))[0] == snapshot.stamp:
            return 0
        changed = 0
        docs = self.db.execute(
            "SELECT id, path, item_id, grants_digest FROM documents WHERE source = ?",
            (source.key,),
        ).fetchall()
        for doc_id, path, item_id, digest in docs:
            wanted = snapshot.grants(path, item_id)
            if _digest(wanted) != digest:
                set_grants(self.db, doc_id, wanted)
                changed += 1
        self.db.execute(
            "UPDATE sources SET grants_stamp = ? WHERE key = ?", (snapshot.stamp, source.key)
        )
        return changed


def locate(source: LogSource, path: str, file_path: str) -> Path:
    """The mirrored file: the log's absolute file_path, else under the target's data/."""
    given = Path(file_path)
    if given.is_absolute() and given.exists():
        return given
    fallback = source.target_root / "data" / path
    return fallback if fallback.exists() else given


def ingest(
    db: sqlite3.Connection,
    sources: Sequence[LogSource],
    *,
    consumer: str = CONSUMER,
    on_log_committed: Callable[[PendingLog], None] | None = None,
) -> int:
    """Apply every pending log of `sources` in order, each exactly once; then refresh the
    grants from the grants files. Returns how many logs were applied."""
    for source in sources:
        db.execute(
            "INSERT INTO sources(key, name, log_dir) VALUES (?, ?, ?) ON CONFLICT(key) "
            "DO UPDATE SET name = excluded.name, log_dir = excluded.log_dir",
            (source.key, source.label, str(source.log_dir)),
        )
    store = SQLiteCheckpointStore(db)
    logs = LogConsumer(consumer, sources, store)
    applier = Applier(db, {})
    count = logs.consume(applier.apply, on_acknowledged=on_log_committed)
    for source in sources:
        with store.transaction():
            applier.refresh_grants(source)
    return count


# ---------------------------------------------------------------------- search


@dataclass(frozen=True)
class Principal:
    """Who is searching: ids only (display names are not unique)."""

    user: str
    groups: tuple[str, ...] = ()
    site_groups: tuple[str, ...] = ()
    guest: bool = False
    links: str = "all"  # "all" or "named"
    owned_groups: tuple[str, ...] = ()  # Microsoft 365 groups the user owns

    def tokens(self) -> list[str]:
        found = [f"user:{self.user}"]
        found += [f"group:{g}" for g in self.groups]
        found += [f"groupowners:{g}" for g in self.owned_groups]
        found += [f"sitegroup:{s}" for s in self.site_groups]
        if not self.guest:
            found += ["members", "everyone"]
        if self.links == "all":
            found.append("link:public")
            if not self.guest:
                found.append("link:organization")
        return found


@dataclass(frozen=True)
class Reach:
    """A searcher already expanded into the tokens that reach them (see `reach`)."""

    values: tuple[str, ...]

    def tokens(self) -> list[str]:
        return list(self.values)


def find_user(snapshot: PrincipalsFile, ref: str) -> str | None:
    """The Entra object id `ref` names: an id, an email or a user principal name (any case)."""
    if ref in snapshot.users:
        return ref
    lowered = ref.lower()
    for user_id, entry in snapshot.users.items():
        if lowered in ((entry.email or "").lower(), (entry.user_principal_name or "").lower()):
            return user_id
    return None


def reach(snapshot: PrincipalsFile, ref: str) -> Reach:
    """The tokens that reach the person `ref` names, from the principals snapshot.

    Fail closed: an entry listed under `unexpanded` gives no membership, a person the
    snapshot does not know gets public links only, and a guest gets neither the tenant-wide
    claims nor organization links (whether the tenant lets guests have "Everyone" is not
    visible to the grants nor the snapshot)."""
    user = find_user(snapshot, ref)
    if user is None:
        return Reach(("link:public",))
    blocked = set(snapshot.unexpanded)
    groups = {
        g for g, e in snapshot.groups.items()
        if f"group:{g}" not in blocked and user in (e.members or ())
    }  # fmt: skip
    owned = {
        g for g, e in snapshot.groups.items()
        if f"group_owners:{g}" not in blocked and user in (e.owners or ())
    }  # fmt: skip
    guest = snapshot.users[user].guest
    claims = set() if guest else {"all_members", "everyone"}
    site_groups = {
        s for s, e in snapshot.site_groups.items()
        if f"site_group:{s}" not in blocked
        and (user in e.users or groups & set(e.groups) or owned & set(e.group_owners)
             or claims & set(e.claims))
    }  # fmt: skip
    who = Principal(user, tuple(sorted(groups)), tuple(sorted(site_groups)), guest,
                    owned_groups=tuple(sorted(owned)))  # fmt: skip
    return Reach(tuple(who.tokens()))


def load_principals(path: Path) -> PrincipalsFile | None:
    """The principals snapshot at `path`; None when there is none. A damaged one stops the
    search (never guess who is in a group)."""
    try:
        return PrincipalsFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValidationError as exc:
        raise ConsumerError(
            f"{path}: not a principals snapshot ({exc.error_count()} problems)"
        ) from exc


@dataclass(frozen=True)
class Hit:
    target: str
    path: str
    content: str
    snippet: str


def fts_query(text: str) -> str:
    """Every word of `text` as a quoted FTS5 term (all must match; no query syntax)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def search(
    db: sqlite3.Connection,
    text: str,
    who: Principal | Reach,
    limit: int = 10,
    *,
    where: Where | None = None,
    exclude_labels: Sequence[str] = (),
) -> list[Hit]:
    """The documents matching `text` that `who` may see, best first; with `where`, only
    those whose metadata values match it; never those labelled one of `exclude_labels`."""
    if not text.split():
        return []
    tokens = who.tokens()
    marks = ",".join("?" * len(tokens))
    filters, values = "", [fts_query(text), *tokens]
    if where is not None:

        def matches(stored: str | None) -> int:
            return int(where.matches(json.loads(stored) if stored else {}))

        db.create_function("metadata_matches", 1, matches, deterministic=True)
        filters += "AND metadata_matches(d.metadata) "
    if exclude_labels:
        filters += (
            "AND (d.sensitivity_label IS NULL OR lower(d.sensitivity_label) NOT IN "
            f"({','.join('?' * len(exclude_labels))})) "
        )
        values += [label.lower() for label in exclude_labels]
    rows = db.execute(
        "SELECT s.name, d.path, d.content, snippet(document_text, -1, '[', ']', ' ... ', 12) "
        "FROM document_text JOIN documents d ON d.id = document_text.rowid "
        "JOIN sources s ON s.key = d.source "
        "WHERE document_text MATCH ? "
        f"AND d.id IN (SELECT doc_id FROM access WHERE token IN ({marks})) {filters}"
        "ORDER BY bm25(document_text) LIMIT ?",
        (*values, limit),
    )  # fmt: skip
    return [
        Hit(target, path, kind, " ".join(snippet.split())) for target, path, kind, snippet in rows
    ]


# ---------------------------------------------------------------------- command line


def _sources(args: argparse.Namespace) -> list[LogSource]:
    if args.config is not None:
        config = load_config(args.config)
        targets = config.select(args.only) if args.only else config.targets()
        return [LogSource.for_target(t.spec.local_root, name=t.name) for t in targets]
    found = []
    for folder in args.log_dir:
        root = folder.parent if folder.name == "sync_logs" else folder
        found.append(LogSource.for_target(root, name=str(folder)))
    return found


def _principals_path(db: sqlite3.Connection, args: argparse.Namespace) -> Path | None:
    """--principals; else the data root of --config; else the nearest snapshot above an
    ingested target (targets are mirrored under the data root by default)."""
    if args.principals is not None:
        return Path(args.principals)
    if args.config is not None:
        return load_config(args.config).settings.defaults.data_root / PRINCIPALS_FILE
    for (log_dir,) in db.execute("SELECT log_dir FROM sources ORDER BY key"):
        for folder in Path(log_dir).parents:
            if (folder / PRINCIPALS_FILE).is_file():
                return folder / PRINCIPALS_FILE
    return None


def _searcher(db: sqlite3.Connection, args: argparse.Namespace) -> Principal | Reach:
    """The snapshot's answer for --user, unless options say who the user is (or no
    snapshot is found)."""
    manual = (args.group or args.group_owner or args.site_group or args.site_groups_file
              or args.guest or args.links != "all")  # fmt: skip
    path = None if manual else _principals_path(db, args)
    snapshot = None if path is None else load_principals(path)
    if snapshot is None and args.principals is not None and not manual:
        raise ConsumerError(f"{args.principals}: no principals snapshot")
    if snapshot is None:
        return Principal(args.user, tuple(args.group), _site_groups(args), args.guest,
                         args.links, tuple(args.group_owner))  # fmt: skip
    if snapshot.unexpanded:
        print(f"note: {len(snapshot.unexpanded)} entries of {path} could not be read "
              "(unexpanded): nobody is taken to be in them", file=sys.stderr)  # fmt: skip
    if find_user(snapshot, args.user) is None:
        print(f"note: {args.user} is not in {path}: public links only", file=sys.stderr)
    return reach(snapshot, args.user)


def _site_groups(args: argparse.Namespace) -> tuple[str, ...]:
    groups = list(args.site_group)
    if args.site_groups_file is not None:
        mapping = json.loads(args.site_groups_file.read_text(encoding="utf-8"))
        groups += mapping.get(args.user, [])
    return tuple(groups)


def _status(db: sqlite3.Connection, consumer: str) -> None:
    store = SQLiteCheckpointStore(db)
    sources = [
        LogSource(key, Path(log_dir), name)
        for key, name, log_dir in db.execute("SELECT key, name, log_dir FROM sources ORDER BY key")
    ]
    if not sources:
        print("nothing ingested yet")
        return
    progress = LogConsumer(consumer, sources, store).status()
    for source in sources:
        done, pending = progress[source.key]
        counts = dict(
            db.execute(
                "SELECT content, COUNT(*) FROM documents WHERE source = ? GROUP BY content",
                (source.key,),
            ).fetchall()
        )
        print(f"{source.label}: last log {done.name if done else '-'}, {pending} pending, "
              f"{sum(counts.values())} documents ({counts.get('text', 0)} full text)")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    top.add_argument("--db", type=Path, default=DEFAULT_DB, help="the index database")
    top.add_argument("--consumer", default=CONSUMER, help="checkpoint name of this index")
    commands = top.add_subparsers(dest="command", required=True)
    ingest_cmd = commands.add_parser("ingest", help="apply the pending change logs")
    where = ingest_cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="ms365sync's sites.toml: all its targets")
    where.add_argument("--log-dir", type=Path, nargs="+", help="target folders (or sync_logs)")
    ingest_cmd.add_argument("--only", action="append", default=[], help="SITE or SITE/LIBRARY")
    find = commands.add_parser("search", help="full-text search as one person")
    find.add_argument("query")
    find.add_argument(
        "--user", required=True, help="the searcher's Entra object id (or email, with a snapshot)"
    )
    find.add_argument("--principals", type=Path, help="the principals snapshot to expand --user")
    find.add_argument("--config", type=Path, help="sites.toml: the snapshot in its data_root")
    find.add_argument("--group", action="append", default=[], help="an Entra group id")
    find.add_argument(
        "--group-owner", action="append", default=[], help="a Microsoft 365 group the user owns"
    )
    find.add_argument("--site-group", action="append", default=[], help="SITE-ID/sitegroups/N")
    find.add_argument("--site-groups-file", type=Path, help="JSON: user id -> site group ids")
    find.add_argument("--guest", action="store_true", help="an external user")
    find.add_argument("--links", choices=("all", "named"), default="all", help="link policy")
    find.add_argument("--limit", type=int, default=10, help="at most this many results")
    find.add_argument(
        "--where", help="only documents whose metadata matches, e.g. \"Status != 'Draft'\""
    )
    find.add_argument(
        "--exclude-label", action="append", default=[], help="leave out this sensitivity label"
    )
    commands.add_parser("status", help="what was applied, what is pending")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    db = open_db(args.db)
    try:
        if args.command == "ingest":
            count = ingest(db, _sources(args), consumer=args.consumer)
            print(f"applied {count} change logs")
        elif args.command == "search":
            try:
                where = parse_where(args.where) if args.where else None
            except WhereError as exc:
                print(f"error: --where: {exc}", file=sys.stderr)
                return 2
            hits = search(db, args.query, _searcher(db, args), args.limit, where=where,
                          exclude_labels=args.exclude_label)  # fmt: skip
            for hit in hits:
                print(f"{hit.target}: {hit.path}  [{hit.content}]  {hit.snippet}")
        else:
            _status(db, args.consumer)
    except ConsumerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
