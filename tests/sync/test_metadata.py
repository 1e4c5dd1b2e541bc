"""Document metadata (issue 21) end to end on the in-process emulator: the list's delta read
beside the drive's, the sidecar, fields on added entries, metadata-only changes, and the
label filter."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ms365sync.emulator import BytesContent, Role
from ms365sync.target import METADATA_FILE, MetadataSpec
from ms365sync.where import parse
from support.harness import World

COLUMNS = MetadataSpec(columns=("Department", "Status"))


def _sidecar(world: World) -> dict[str, Any]:
    found = json.loads((world.spec().local_root / METADATA_FILE).read_text("utf-8"))
    assert isinstance(found, dict)
    return found


def _raw_log(world: World) -> dict[str, Any]:
    found = json.loads(world.logs()[-1].read_text("utf-8"))
    assert isinstance(found, dict)
    return found


def test_metadata_reaches_the_sidecar_and_added_entries(world: World) -> None:
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Department": "Finance"})
    result = world.ok(metadata=COLUMNS)
    log = result.log
    assert log is not None
    added = log.changes.added["Finance/q1.txt"]
    assert added.metadata is not None
    assert added.metadata["fields"] == {"Department": "Finance"}
    assert added.metadata["content_type"] == "Document"
    sidecar = _sidecar(world)
    assert set(sidecar) == set(world.permissions_json())
    assert sidecar["Finance/q1.txt"]["fields"] == {"Department": "Finance"}
    assert sidecar["Finance/q1.txt"]["item_id"] == added.item_id
    assert log.metadata_only_changes == {}
    assert log.summary.metadata_only_changes_count == 0


def test_a_column_edit_is_a_metadata_only_change_reported_once(world: World) -> None:
    world.ok(metadata=COLUMNS)
    world.recorder.reset()
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Status": "Final"})
    log = world.ok(metadata=COLUMNS).log
    assert log is not None
    assert not log.changes.added and not log.changes.modified
    assert not log.changes.permission_only_changes
    assert log.metadata_only_changes is not None
    entry = log.metadata_only_changes["Finance/q1.txt"]
    assert entry.changes == {"Status": {"old": None, "new": "Final"}}
    assert world.recorder.downloads() == []
    raw = _raw_log(world)
    assert raw["metadata_only_changes"]["Finance/q1.txt"]["changes"]["Status"]["old"] is None
    assert _sidecar(world)["Finance/q1.txt"]["fields"] == {"Status": "Final"}
    again = world.ok(metadata=COLUMNS).log
    assert again is not None and not again.has_changes


def test_without_metadata_the_log_keeps_its_original_shape(world: World) -> None:
    world.ok()
    raw = _raw_log(world)
    assert "metadata_only_changes" not in raw
    assert "metadata_only_changes_count" not in raw["summary"]
    assert all("metadata" not in e for e in raw["changes"]["added"].values())
    assert not (world.spec().local_root / METADATA_FILE).exists()


def test_a_content_edit_carries_the_metadata_on_the_modified_entry(world: World) -> None:
    world.ok(metadata=COLUMNS)
    world.tenant.edit_file(world.drive, "Finance/q1.txt", BytesContent(b"new"))
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Department": "HR"})
    log = world.ok(metadata=COLUMNS).log
    assert log is not None and log.metadata_only_changes == {}
    modified = log.changes.modified["Finance/q1.txt"]
    assert modified.metadata is not None
    assert modified.metadata["fields"] == {"Department": "HR"}


def test_excluded_labels_leave_and_enter_like_path_filters(world: World) -> None:
    spec = MetadataSpec(columns=("Department",), exclude_labels=("Highly Confidential",))
    world.ok(metadata=spec)
    label = "6f2a0d6e-1c3b-4b7e-9b8a-2b4c1c9e0d11"
    world.tenant.set_label(world.drive, "Finance/q1.txt", label, "Highly Confidential")
    log = world.ok(metadata=spec).log
    assert log is not None
    assert log.changes.deleted["Finance/q1.txt"].reason == "excluded"
    assert "Finance/q1.txt" not in world.data()
    world.tenant.set_label(world.drive, "Finance/q1.txt", None)
    back = world.ok(metadata=spec).log
    assert back is not None
    assert set(back.changes.added) == {"Finance/q1.txt"}


LABEL_ID = "6f2a0d6e-1c3b-4b7e-9b8a-2b4c1c9e0d11"


def test_turning_metadata_on_reports_every_file_once_without_downloading(world: World) -> None:
    """An existing mirror that starts reading metadata lists the drive again (for the list
    item ids), downloads nothing, and reports each file's metadata once, as new values."""
    world.tenant.set_columns(world.drive, "readme.md", {"Department": "IT"})
    world.ok()
    world.recorder.reset()
    log = world.ok(metadata=COLUMNS).log
    assert log is not None and log.metadata_only_changes is not None
    assert set(log.metadata_only_changes) == set(world.permissions_json())
    assert log.metadata_only_changes["readme.md"].changes["Department"] == {
        "old": None,
        "new": "IT",
    }
    assert world.recorder.downloads() == []
    assert not log.changes.added and not log.changes.modified and not log.changes.deleted
    again = world.ok(metadata=COLUMNS).log
    assert again is not None and not again.has_changes


def test_turning_metadata_off_removes_the_sidecar_and_reports_nothing(world: World) -> None:
    world.ok(metadata=COLUMNS)
    sidecar = world.spec().local_root / METADATA_FILE
    assert sidecar.exists()
    log = world.ok().log
    assert log is not None and not log.has_changes
    assert not sidecar.exists()
    assert log.metadata_only_changes is None


def test_a_label_change_is_reported_with_the_label(world: World) -> None:
    world.ok(metadata=COLUMNS)
    world.tenant.set_label(world.drive, "readme.md", LABEL_ID, "Confidential")
    log = world.ok(metadata=COLUMNS).log
    assert log is not None and log.metadata_only_changes is not None
    entry = log.metadata_only_changes["readme.md"]
    assert entry.sensitivity_label == "Confidential"
    assert entry.changes == {"sensitivity_label": {"old": None, "new": "Confidential"}}
    document = _sidecar(world)["readme.md"]
    assert document["sensitivity_label"] == {"id": LABEL_ID, "name": "Confidential"}
    assert "_IpLabelId" not in document["fields"]  # not asked for by name


def test_metadata_that_changes_with_the_permissions_rides_on_that_entry(world: World) -> None:
    world.ok(metadata=COLUMNS)
    world.tenant.grant(world.drive, "readme.md", "user:alice@contoso.onmicrosoft.com", Role.READ)
    world.tenant.set_columns(world.drive, "readme.md", {"Status": "Draft"})
    log = world.ok(metadata=COLUMNS).log
    assert log is not None
    entry = log.changes.permission_only_changes["readme.md"]
    assert entry.metadata_changes == {"Status": {"old": None, "new": "Draft"}}
    assert log.metadata_only_changes == {}


def test_the_lists_delta_starting_over_reports_only_what_changed(world: World) -> None:
    world.ok(metadata=COLUMNS)
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Department": "Finance"})
    world.faults("resync=1.0,scope=list_delta")
    log = world.ok(metadata=COLUMNS).log
    world.faults("")
    assert log is not None and log.metadata_only_changes is not None
    assert set(log.metadata_only_changes) == {"Finance/q1.txt"}
    assert any("/items/delta" in c.path and "token" not in c.url for c in world.recorder.calls)


def test_other_columns_list_the_list_again(world: World) -> None:
    world.tenant.set_columns(world.drive, "readme.md", {"Department": "IT", "Owner": "Ann"})
    world.ok(metadata=COLUMNS)
    log = world.ok(metadata=MetadataSpec(columns=("Department", "Owner"))).log
    assert log is not None and log.metadata_only_changes is not None
    assert set(log.metadata_only_changes) == {"readme.md"}
    assert log.metadata_only_changes["readme.md"].changes == {"Owner": {"old": None, "new": "Ann"}}


def test_all_columns_with_the_label_and_a_column_added_later(world: World) -> None:
    """ "all" reads the library's visible columns (the hidden label columns are named as
    well); a column added later is read from then on, and only the files that have a value
    for it are reported."""
    every = MetadataSpec(columns=None)
    world.tenant.set_columns(world.drive, "readme.md", {"Department": "IT"})
    world.tenant.set_label(world.drive, "readme.md", LABEL_ID, "Confidential")
    world.ok(metadata=every)
    document = _sidecar(world)["readme.md"]
    assert document["fields"]["Department"] == "IT"
    assert document["fields"]["FileLeafRef"] == "readme.md"
    assert "_IpLabelId" not in document["fields"]
    assert document["sensitivity_label"] == {"id": LABEL_ID, "name": "Confidential"}
    world.tenant.define_column(world.drive, "Pages", "number")
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Pages": 12})
    log = world.ok(metadata=every).log
    assert log is not None and log.metadata_only_changes is not None
    assert set(log.metadata_only_changes) == {"Finance/q1.txt"}
    assert log.metadata_only_changes["Finance/q1.txt"].changes["Pages"] == {"old": None, "new": 12}


def test_a_dry_run_shows_the_metadata_only_changes_and_writes_nothing(world: World) -> None:
    world.ok(metadata=COLUMNS)
    before = (world.spec().local_root / METADATA_FILE).read_bytes()
    world.tenant.set_columns(world.drive, "readme.md", {"Status": "Final"})
    preview = world.sync(dry_run=True, metadata=COLUMNS)
    assert preview.ok and preview.log is not None
    assert preview.log.metadata_only_changes is not None
    assert set(preview.log.metadata_only_changes) == {"readme.md"}
    assert (world.spec().local_root / METADATA_FILE).read_bytes() == before
    real = world.ok(metadata=COLUMNS).log
    assert real is not None and real.metadata_only_changes is not None
    assert set(real.metadata_only_changes) == {"readme.md"}


def test_where_keeps_the_matching_files_and_follows_their_changes(world: World) -> None:
    """A file that leaves the filter is deleted (reason "excluded"), one that enters it is
    added; the columns `where` reads are fetched without being named in `metadata`."""
    spec = MetadataSpec(columns=(), where=parse("Department == 'Finance' and Status != 'Draft'"))
    assert spec.request() == ("Department", "Status", "_IpLabelId", "_DisplayName")
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Department": "Finance"})
    world.tenant.set_columns(world.drive, "readme.md", {"Department": "Finance", "Status": "Draft"})
    first = world.ok(metadata=spec).log
    assert first is not None
    assert set(first.changes.added) == {"Finance/q1.txt"}
    assert set(world.data()) == {"Finance/q1.txt"}
    world.tenant.set_columns(world.drive, "readme.md", {"Status": "Final"})
    world.tenant.set_columns(world.drive, "Finance/q1.txt", {"Status": "Draft"})
    second = world.ok(metadata=spec).log
    assert second is not None
    assert set(second.changes.added) == {"readme.md"}
    assert second.changes.deleted["Finance/q1.txt"].reason == "excluded"
    assert set(world.data()) == {"readme.md"}
    assert set(_sidecar(world)) == {"readme.md"}


def test_a_file_whose_list_item_is_not_listed_yet_is_kept_and_reported(world: World) -> None:
    """Without its list item a file's metadata is unknown: the filters cannot judge it, so
    its mirror record is left as it is (never deleted) and it is listed under errors until
    the list's delta reports it."""
    spec = MetadataSpec(columns=("Status",), where=parse("Status != 'Draft'"))
    world.ok(metadata=spec)
    state_db = world.spec().state_dir / "state.db"
    db = sqlite3.connect(state_db)
    (list_item,) = db.execute("SELECT list_item_id FROM items WHERE name = 'readme.md'").fetchone()
    db.execute("DELETE FROM fields WHERE list_item_id = ?", (list_item,))
    db.execute("DELETE FROM meta WHERE key = 'converged'")
    db.commit()
    db.close()
    log = world.ok(metadata=spec).log
    assert log is not None
    assert "readme.md" in log.errors and "not listed yet" in log.errors["readme.md"].reason
    assert not log.changes.deleted
    assert "readme.md" in world.data()


def test_an_encrypted_file_is_reported_once_and_waits_until_it_changes(world: World) -> None:
    """A download refused because the label encrypts the file (423) is an error of cause
    "encrypted", reported by the run that met it; the runs after it do not ask for the file
    until it changes, and the copy mirrored before is kept meanwhile."""
    world.ok()
    world.tenant.set_label(world.drive, "Finance/q1.txt", LABEL_ID, "Secret", encrypted=True)
    world.tenant.edit_file(world.drive, "Finance/q1.txt", BytesContent(b"sealed"))
    world.tenant.add_file(world.drive, "Finance/q2.txt", BytesContent(b"new and sealed"))
    world.tenant.set_label(world.drive, "Finance/q2.txt", LABEL_ID, "Secret", encrypted=True)
    world.recorder.reset()
    log = world.ok().log
    assert log is not None
    assert set(log.errors) == {"Finance/q1.txt", "Finance/q2.txt"}
    assert "Finance/q2.txt" not in world.data() and not log.changes.added
    error = log.errors["Finance/q1.txt"]
    assert (error.cause, error.kind, error.retry) == (
        "encrypted",
        "permanent",
        "when the file changes",
    )
    assert "423" in error.reason
    assert world.data()["Finance/q1.txt"]  # the copy of before is kept
    assert not log.changes.modified
    world.recorder.reset()
    quiet = world.ok().log
    assert quiet is not None and not quiet.errors
    assert world.recorder.downloads(status=None) == []
    world.tenant.set_label(world.drive, "Finance/q1.txt", LABEL_ID, "Secret", encrypted=False)
    back = world.ok().log
    assert back is not None and "Finance/q1.txt" in back.changes.modified
    assert world.data()["Finance/q1.txt"] == b"sealed"
