"""Document metadata (issue 21) end to end on the in-process emulator: the list's delta read
beside the drive's, the sidecar, fields on added entries, metadata-only changes, and the
label filter."""

from __future__ import annotations

import json
from typing import Any

from ms365sync.emulator import BytesContent
from ms365sync.target import METADATA_FILE, MetadataSpec
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
    label = {
        "_IpLabelId": "6f2a0d6e-1c3b-4b7e-9b8a-2b4c1c9e0d11",
        "_DisplayName": "Highly Confidential",
    }
    world.tenant.set_columns(world.drive, "Finance/q1.txt", label)
    log = world.ok(metadata=spec).log
    assert log is not None
    assert log.changes.deleted["Finance/q1.txt"].reason == "excluded"
    assert "Finance/q1.txt" not in world.data()
    world.tenant.set_columns(
        world.drive, "Finance/q1.txt", {"_IpLabelId": None, "_DisplayName": None}
    )
    back = world.ok(metadata=spec).log
    assert back is not None
    assert set(back.changes.added) == {"Finance/q1.txt"}
