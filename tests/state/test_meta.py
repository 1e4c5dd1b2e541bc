"""The state's metadata is a typed record owned by the state package, stored as before."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import ms365sync
from ms365sync.models import MirrorFile, PermissionSet, RemoteItem
from ms365sync.state import schema
from ms365sync.state.meta import Meta, MetaKey
from ms365sync.state.schema import ITEM_FIELDS, MIRROR_FIELDS, SCHEMA_VERSION
from ms365sync.state.store import IssueRow, StateStore


def _stored(state: StateStore) -> dict[str, str]:
    db: sqlite3.Connection = state._db
    return dict(db.execute("SELECT key, value FROM meta WHERE key != 'schema_version'"))


def test_the_setters_store_the_keys_and_texts_earlier_versions_wrote(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state")
    try:
        state.set_listing(
            delta_link="https://g/delta?token=1",
            site_id="s1",
            drive_id="b!d",
            target='["h", "/sites/x", null, "Docs"]',
            prefer_sharing=False,
        )
        state.set_last_sweep(1700000000.25)
        state.set_hierarchical(True)
        state.set_permission_retry({"b", "a"})
        state.set_converged('["0.4", "f", "data"]')
        state.set_grants_file('[1, "t", "10:20"]')
        state.set_permissions_file_stamp("10:20")
        assert _stored(state) == {
            "delta_link": "https://g/delta?token=1",
            "site_id": "s1",
            "drive_id": "b!d",
            "target": '["h", "/sites/x", null, "Docs"]',
            "prefer_sharing": "0",
            "last_sweep": "1700000000.25",
            "hierarchical": "1",
            "permission_retry": '["a", "b"]',
            "converged": '["0.4", "f", "data"]',
            "grants_file": '[1, "t", "10:20"]',
            "permissions_file_stamp": "10:20",
        }
        assert state.meta == Meta(
            schema_version=SCHEMA_VERSION,
            site_id="s1",
            drive_id="b!d",
            target='["h", "/sites/x", null, "Docs"]',
            delta_link="https://g/delta?token=1",
            prefer_sharing=False,
            hierarchical=True,
            last_sweep=1700000000.25,
            permission_retry=("a", "b"),
            converged='["0.4", "f", "data"]',
            grants_file='[1, "t", "10:20"]',
            permissions_file_stamp="10:20",
        )
        state.set_converged(None)
        state.set_permissions_file_stamp(None)
        assert state.meta.converged is None and state.meta.permissions_file_stamp is None
        assert "converged" not in _stored(state)
    finally:
        state.close()


def test_a_new_store_has_only_its_schema_version(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state")
    try:
        assert state.meta == Meta(schema_version=SCHEMA_VERSION)
        assert state.meta.permission_retry == ()
    finally:
        state.close()


def test_no_module_outside_the_state_package_spells_a_meta_key() -> None:
    # Names that are everyday words or fields elsewhere (a target, a change log's ids) aside.
    keys = {key.value for key in MetaKey} - {"target", "site_id", "drive_id"}
    package = Path(ms365sync.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        inside = path.relative_to(package).parts[0]
        if inside in ("state", "emulator"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in keys:
                found.append(f"{path.relative_to(package)}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.Attribute) and node.attr in ("get_meta", "set_meta"):
                found.append(f"{path.relative_to(package)}:{node.lineno} {node.attr}")
    assert not found


def test_a_store_of_schema_1_gains_the_inode_column_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    """A store written before the mirror kept inode numbers: the column is added once
    (its records say "not known"), the version raised, and opening it again changes nothing."""
    state = StateStore(tmp_path / "state")
    state.put_mirror(
        MirrorFile("i1", "a.txt", "a.txt", 1, "c", "q", "e", "m", 5, PermissionSet(()), ino=7)
    )
    path = state.path
    state.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE mirror DROP COLUMN ino")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    for _ in range(2):
        state = StateStore(tmp_path / "state")
        try:
            assert state.meta.schema_version == SCHEMA_VERSION == 5
            [record] = state.mirror_files()
            assert record.path == "a.txt" and record.mtime_ns == 5 and record.ino is None
            assert record.local_size is None
        finally:
            state.close()


def test_a_store_of_schema_2_forgets_its_permission_sets_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    """Permission sets read before the principal kinds of graph-facts §6.12 are read again:
    the perms table is emptied once (every source then counts as never read); the mirror's
    records stay, to be compared with what the next read finds."""
    state = StateStore(tmp_path / "state")
    perms = PermissionSet(("Everyone except external users:::View",))
    state.store_permissions("root", perms, 1.0)
    state.put_mirror(MirrorFile("i1", "a.txt", "a.txt", 1, "c", "q", "e", "m", 5, perms, ino=7))
    path = state.path
    state.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    state = StateStore(tmp_path / "state")
    try:
        assert state.meta.schema_version == SCHEMA_VERSION
        assert state.permissions() == {}
        [record] = state.mirror_files()
        assert record.permissions == perms and record.ino == 7
        state.store_permissions("root", perms, 2.0)
    finally:
        state.close()
    state = StateStore(tmp_path / "state")  # migrated once: what was read since stays
    try:
        assert state.permissions() == {"root": perms}
    finally:
        state.close()


def test_a_store_of_schema_3_gains_the_columns_of_files_not_mirrored_as_listed(
    tmp_path: Path,
) -> None:
    """Schema 4 adds a file's malware flag, the placed copy's own size and the classes of
    per-file errors; the triggers that forget a converged run watch the new columns too, and
    the errors recorded before are transient ones."""
    state = StateStore(tmp_path / "state")
    state.put_mirror(
        MirrorFile("i1", "a.txt", "a.txt", 1, "c", "q", "e", "m", 5, PermissionSet(()))
    )
    state.record_issues({"i9": IssueRow("b.txt", "refused", "transient")}, set(), 1.0)
    path = state.path
    state.close()
    db = sqlite3.connect(path)
    for table in ("items", "mirror"):
        for event in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER converged_{table}_{event}")
    for table, column in (
        ("items", "malware"),
        ("stage", "malware"),
        ("mirror", "local_size"),
        ("errors", "kind"),
        ("errors", "cause"),
        ("errors", "ctag"),
        ("errors", "retry_at"),
    ):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    old_items = ITEM_FIELDS.replace(", malware", "")
    for statement in schema._forgetting("converged", "items", old_items).splitlines():
        db.execute(statement)
    for statement in schema._forgetting("converged", "mirror", MIRROR_FIELDS).splitlines():
        db.execute(statement)
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    state = StateStore(tmp_path / "state")
    try:
        assert state.meta.schema_version == SCHEMA_VERSION == 5
        [record] = state.mirror_files()
        assert record.local_size is None and record.disk_size == 1
        [error] = state.errors()
        assert (error.item_id, error.kind, error.cause) == ("i9", "transient", None)
        state.stage_page([RemoteItem("f1", None, "x", False, is_root=True)])
        state.apply_stage(full=True)
        state.set_converged("key")
        state._db.execute("UPDATE items SET malware = 'Trojan' WHERE item_id = 'f1'")
        assert state.meta.converged is None  # the new column is watched
    finally:
        state.close()


def test_a_store_of_schema_4_gains_the_document_metadata_columns(tmp_path: Path) -> None:
    """Schema 5 adds the items' list item ids, the fields tables and the mirror's reported
    metadata; records written before keep theirs, with no metadata."""
    state = StateStore(tmp_path / "state")
    state.put_mirror(
        MirrorFile("i1", "a.txt", "a.txt", 1, "c", "q", "e", "m", 5, PermissionSet(()))
    )
    path = state.path
    state.close()
    db = sqlite3.connect(path)
    db.execute("DROP INDEX items_list_item")
    for table in ("items", "mirror"):
        for event in ("insert", "delete", "update"):
            db.execute(f"DROP TRIGGER converged_{table}_{event}")
    for table, column in (
        ("items", "list_item_id"),
        ("stage", "list_item_id"),
        ("mirror", "metadata"),
    ):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute("DROP TABLE fields")
    db.execute("DROP TABLE fields_stage")
    db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    state = StateStore(tmp_path / "state")
    try:
        assert state.meta.schema_version == SCHEMA_VERSION == 5
        [record] = state.mirror_files()
        assert record.path == "a.txt" and record.metadata is None
        state.stage_fields([("7", '{"fields":{}}')])
        with state.run():
            assert state.apply_fields(full=True) == 1
        assert [r.list_item_id for r in state.tree_files()] == []
    finally:
        state.close()
