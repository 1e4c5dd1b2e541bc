"""Sensitivity labels (graph-facts §18.5): a file's label in the hidden `_IpLabelId` and
`_DisplayName` columns (only when selected), a label change as the service makes it (the
eTag changes, the cTag too when encryption comes or goes, delta reports the file), and the
423 an encrypted file's download answers on `/content` and on its download URL."""

from __future__ import annotations

import json

import pytest

from ms365sync.emulator.tenant.base import MutationError
from support.emulator_graph_world import World, make_world, walk_delta

PATH = "Reports/Q1 summary.txt"
DATA = b"Revenue grew in the first quarter."
CONFIDENTIAL = "9fbde396-1a24-4c79-8edf-9254a0f35055"
GENERAL = "0b9d3c4a-1c2e-4f5a-8b6c-7d8e9f0a1b2c"
SELECT_LABEL = "$expand=fields($select=_IpLabelId,_DisplayName,FileLeafRef)"


@pytest.fixture
def world() -> World:
    return make_world()


def _fields(world: World, query: str, path: str = PATH) -> dict[str, object]:
    fields: dict[str, object] = world.json(world.item_path(path, f"/listItem?{query}"))["fields"]
    return fields


def _tags(world: World) -> tuple[str, str]:
    item = world.json(world.item_path(PATH, "?$select=eTag,cTag"))
    return item["eTag"], item["cTag"]


def test_a_label_is_in_its_hidden_columns_only_when_they_are_selected(world: World) -> None:
    world.tenant.set_label(world.drive, PATH, CONFIDENTIAL, "Confidential")
    selected = _fields(world, SELECT_LABEL)
    assert selected["_IpLabelId"] == CONFIDENTIAL
    assert selected["_DisplayName"] == "Confidential"
    everything = _fields(world, "$expand=fields")
    assert "_IpLabelId" not in everything and "_DisplayName" not in everything
    unlabelled = _fields(world, SELECT_LABEL, path="Notes/todo.md")
    assert set(unlabelled) == {"@odata.etag", "FileLeafRef"}  # an empty column is left out


def test_the_lists_delta_reports_a_label_change_with_the_selected_columns(world: World) -> None:
    query = "?$expand=fields($select=_IpLabelId,_DisplayName)"
    url = f"/sites/{world.site.id}/lists/{world.drive.list_guid}/items/delta{query}"
    first = walk_delta(world.get, url)
    drive_round = world.delta()
    world.tenant.set_label(world.drive, PATH, GENERAL, "General")
    rows = walk_delta(world.get, first.delta_link).by_id()
    row_id = str(world.item(PATH).list_item_id)
    assert set(rows) == {row_id}
    assert rows[row_id]["fields"]["_IpLabelId"] == GENERAL
    assert rows[row_id]["fields"]["_DisplayName"] == "General"
    assert world.item(PATH).id in world.delta(drive_round.delta_link).by_id()


def test_a_label_without_encryption_changes_the_etag_only(world: World) -> None:
    etag, ctag = _tags(world)
    world.tenant.set_label(world.drive, PATH, GENERAL, "General")
    labelled = _tags(world)
    assert labelled[0] != etag and labelled[1] == ctag
    world.tenant.set_label(world.drive, PATH, GENERAL, "General")  # the same label: no change
    assert _tags(world) == labelled
    world.tenant.set_label(world.drive, PATH, None)
    cleared = _tags(world)
    assert cleared[0] != labelled[0] and cleared[1] == ctag
    assert "_IpLabelId" not in _fields(world, SELECT_LABEL)


def test_turning_encryption_on_or_off_changes_the_ctag_too(world: World) -> None:
    etag, ctag = _tags(world)
    world.tenant.set_label(world.drive, PATH, CONFIDENTIAL, "Confidential", encrypted=True)
    encrypted = _tags(world)
    assert encrypted[0] != etag and encrypted[1] != ctag
    world.tenant.set_label(world.drive, PATH, GENERAL, "General")
    decrypted = _tags(world)
    assert decrypted[0] != encrypted[0] and decrypted[1] != encrypted[1]


def test_an_encrypted_files_download_answers_423_on_content_and_on_its_url(world: World) -> None:
    content = world.get(world.item_path(PATH, "/content"))
    url = content.headers["Location"]
    world.tenant.set_label(world.drive, PATH, CONFIDENTIAL, "Confidential", encrypted=True)
    refused = world.get(world.item_path(PATH, "/content"))
    assert refused.status_code == 423
    error = refused.json()["error"]
    assert error["code"] == "notAllowed"
    assert "sensitivity label" in error["message"]
    assert set(error["innerError"]) >= {"date", "request-id"}
    download = world.emulator.session().get(url)
    assert download.status_code == 423
    assert json.loads(download.content)["error"]["code"] == "notAllowed"
    world.tenant.set_label(world.drive, PATH, CONFIDENTIAL, "Confidential")  # decrypted
    assert world.emulator.session().get(url).content == DATA


@pytest.mark.parametrize(
    ("label_id", "name", "problem"),
    [
        ("Confidential", None, "a sensitivity label id must be a GUID, not 'Confidential'"),
        (CONFIDENTIAL, "", "a sensitivity label name must be a non-empty string, not ''"),
    ],
)
def test_a_label_must_be_a_guid_with_a_name(
    world: World, label_id: str, name: str | None, problem: str
) -> None:
    with pytest.raises(MutationError, match=problem):
        world.tenant.set_label(world.drive, PATH, label_id, name)


def test_labels_go_on_files_and_their_columns_are_not_set_directly(world: World) -> None:
    with pytest.raises(MutationError, match="is a folder, not a file"):
        world.tenant.set_label(world.drive, "Reports", CONFIDENTIAL, "Confidential")
    with pytest.raises(MutationError, match="_IpLabelId holds the sensitivity label"):
        world.tenant.set_columns(world.drive, PATH, {"_IpLabelId": CONFIDENTIAL})
