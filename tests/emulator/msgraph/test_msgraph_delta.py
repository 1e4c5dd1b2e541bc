"""`/root/delta` (graph-facts §5): rounds and pages, token states, incremental rounds with their
ancestors, deleted items, `$select`, changes during a round, and every way to a 410."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ms365sync.emulator.control.settings import EmulatorConfig, FaultConfig
from ms365sync.emulator.tenant.content import BytesContent
from support.emulator_fakes import sample
from support.emulator_graph_world import (
    FILES,
    ZERO_HASH,
    DeltaRound,
    World,
    build_tenant,
    make_world,
)

RESYNC = sample("04-delta-410-resyncRequired.real-2022.json")["error"]
DOWNLOAD_URL = "@microsoft.graph.downloadUrl"


@pytest.fixture
def world() -> World:
    return make_world()


def all_ids(world: World) -> set[str]:
    return set(world.drive.items)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def assert_resync(response: Any) -> None:
    assert response.status_code == 410, response.text
    error = response.json()["error"]
    assert error["code"] == RESYNC["code"] == "resyncRequired"
    assert error["message"] == RESYNC["message"]
    assert set(RESYNC["innerError"]) <= set(error["innerError"])


def apply_round(state: dict[str, dict[str, Any]], round_: DeltaRound) -> None:
    """What a client does at the end of a round: last entry wins, deleted ones go."""
    for entry in round_.values:
        if "deleted" in entry:
            state.pop(entry["id"], None)
        else:
            state[entry["id"]] = entry


def tenant_view(world: World) -> dict[str, str | None]:
    return {item.id: world.json(f"/drives/{world.drive.id}/items/{item.id}").get("eTag")
            for item in world.drive.items.values()}  # fmt: skip


# ---------------------------------------------------------------------- full enumeration


def test_full_enumeration_across_pages(world: World) -> None:
    round_ = world.delta(f"/drives/{world.drive.id}/root/delta?$top=2")
    # root, 3 folders and 5 files: 9 items, 2 per page
    assert [len(page["value"]) for page in round_.pages] == [2, 2, 2, 2, 1]
    ids = [entry["id"] for entry in round_.values]
    assert len(ids) == len(set(ids)) and set(ids) == all_ids(world)
    for page in round_.pages[:-1]:
        link = urlsplit(page["@odata.nextLink"])
        assert link.path == f"/v1.0/drives/{world.drive.id}/root/delta"
        assert parse_qs(link.query)["$top"] == ["2"]
    for entry in round_.values:
        assert entry["@odata.type"] == "#microsoft.graph.driveItem"
        assert "path" not in entry["parentReference"]  # never in delta (graph-facts §3.3)
        assert "deleted" not in entry


def test_the_initial_round_reports_no_deletions(world: World) -> None:
    world.tenant.add_file(world.drive, "short-lived.txt", BytesContent(b"x"))
    world.tenant.delete(world.drive, "short-lived.txt")
    round_ = world.delta()
    assert all("deleted" not in entry for entry in round_.values)
    assert {entry["id"] for entry in round_.values} == all_ids(world)


def test_delta_and_next_links_keep_select(world: World) -> None:
    url = f"/drives/{world.drive.id}/root/delta?$select=id,name,deleted&$top=4"
    round_ = world.delta(url)
    for link in [page["@odata.nextLink"] for page in round_.pages[:-1]] + [round_.delta_link]:
        query = parse_qs(urlsplit(link).query)
        assert query["$select"] == ["id,name,deleted"]
        assert query["$top"] == ["4"]
    assert all(set(e) <= {"@odata.type", "@odata.etag", "id", "name"} for e in round_.values)


def test_function_form_of_the_token(world: World) -> None:
    link = world.delta().delta_link
    world.tenant.touch(world.drive, "empty.txt")
    body = world.json(f"/drives/{world.drive.id}/root/delta(token='{token_of(link)}')")
    assert "empty.txt" in [entry.get("name") for entry in body["value"]]


def test_resource_units(world: World) -> None:
    fresh = world.get(f"/drives/{world.drive.id}/root/delta")
    assert fresh.headers["x-ms-resource-unit"] == "2"
    again = world.get(fresh.json()["@odata.deltaLink"])
    assert again.headers["x-ms-resource-unit"] == "1"


# ---------------------------------------------------------------------- token states


def test_token_latest(world: World) -> None:
    world.tenant.touch(world.drive, "Notes/todo.md")  # before: never reported
    body = world.json(f"/drives/{world.drive.id}/root/delta?token=latest")
    assert body["value"] == []
    assert "@odata.nextLink" not in body
    world.tenant.touch(world.drive, "empty.txt")
    names = world.delta(body["@odata.deltaLink"]).names()
    assert names == ["empty.txt", "root"]


def test_token_as_a_timestamp(world: World) -> None:
    clock = world.emulator.clock
    clock.advance(60)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now()))
    clock.advance(60)
    world.tenant.edit_file(world.drive, "Reports/2025/plan.txt", BytesContent(b"v2"))
    round_ = world.delta(f"/drives/{world.drive.id}/root/delta?token={since}")
    assert round_.names() == ["plan.txt", "2025", "Reports", "root"]
    # A moment before the library existed: everything.
    old = world.delta(f"/drives/{world.drive.id}/root/delta?token=2001-01-01T00:00:00Z")
    assert {entry["id"] for entry in old.values} == all_ids(world)


def test_malformed_token_is_400_and_another_librarys_is_410(world: World) -> None:
    bad = world.get(f"/drives/{world.drive.id}/root/delta?token=not-a-token")
    assert bad.status_code == 400
    other = world.tenant.library("marketing", "Brand Assets")
    link = world.delta(f"/drives/{other.id}/root/delta").delta_link
    assert_resync(world.get(f"/drives/{world.drive.id}/root/delta?token={token_of(link)}"))


def test_delta_only_on_the_root(world: World) -> None:
    response = world.get(world.item_path("Reports", "/delta"))
    assert response.status_code == 400
    reference = sample("04-delta-nonroot-odb-notSupported.real-2018.json")["error"]
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (reference["code"], reference["message"])
    assert world.get(f"/drives/{world.drive.id}/items/root/delta").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "$expand=listItem",
        "$select=id,name,listItem&$expand=listItem",
        "$expand=listItem($expand=fields($select=Title,Department))",
        "$select=id,listitem",
    ],
)
def test_delta_refuses_list_items_that_children_serve(world: World, query: str) -> None:
    # graph-facts §18.1: the drive's delta cannot carry the library's columns.
    response = world.get(f"/drives/{world.drive.id}/root/delta?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "badArgument",
        "One of the provided arguments is not acceptable.",
    )
    assert world.get(world.item_path("Reports", "/children?$expand=listItem")).status_code == 200


def test_expanding_permissions_on_delta(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root/delta?$expand=permissions")
    reference = sample("04-delta-expand-permissions-notSupported.real.json")["error"]
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (reference["code"], reference["message"])


# ---------------------------------------------------------------------- incremental rounds


def test_incremental_round_sends_ancestors_after_the_child(world: World) -> None:
    link = world.delta().delta_link
    world.tenant.edit_file(world.drive, "Reports/2025/plan.txt", BytesContent(b"v2"))
    round_ = world.delta(link)
    # The changed item first, then each ancestor up to the root (onedrive-api-docs #295).
    assert round_.names() == ["plan.txt", "2025", "Reports", "root"]
    plan = round_.values[0]
    assert plan["size"] == 2
    assert plan["cTag"].endswith(',2"')


def test_no_change_no_entries(world: World) -> None:
    link = world.delta().delta_link
    round_ = world.delta(link)
    assert round_.values == []
    assert world.delta(round_.delta_link).values == []


def test_every_entry_can_be_resolved_within_its_round(world: World) -> None:
    link = world.delta().delta_link
    for path in ("Reports/2025/plan.txt", "Notes/todo.md", "Reports/deck.docx"):
        world.tenant.touch(world.drive, path)
    world.tenant.add_file(world.drive, "Reports/2025/Deep/new.txt", BytesContent(b"n"))
    round_ = world.delta(link)
    ids = [entry["id"] for entry in round_.values]
    assert {"plan.txt", "todo.md", "deck.docx", "Deep", "new.txt"} <= set(round_.names())
    for item_id in ids:
        for ancestor in world.drive.items[item_id].ancestors():
            assert ancestor.id in ids  # every parent chain is in the round
    first = world.drive.items[ids[0]]
    assert first.name == "plan.txt"
    for ancestor in first.ancestors():  # and the first change precedes its whole chain
        assert ids.index(ancestor.id) > 0


def test_deleted_items_carry_no_name_no_ctag_size_zero_zero_hash(world: World) -> None:
    link = world.delta().delta_link
    doomed = world.item("Notes/todo.md")
    folder = world.item("Notes")
    world.tenant.delete(world.drive, "Notes")
    round_ = world.delta(link)
    entries = round_.by_id()
    for item_id in (doomed.id, folder.id):
        entry = entries[item_id]
        assert "deleted" in entry
        assert entry["deleted"] in ({}, {"state": "deleted"})
        assert "name" not in entry and "cTag" not in entry
        assert entry["size"] == 0
        assert "@microsoft.graph.downloadUrl" not in entry
        assert "path" not in entry["parentReference"]
    assert entries[doomed.id]["file"]["hashes"]["quickXorHash"] == ZERO_HASH
    assert entries[doomed.id]["parentReference"]["id"] == folder.id
    assert "@removed" not in str(round_.values)
    assert world.drive.root.id in entries


def test_select_without_deleted_hides_the_facet(world: World) -> None:
    link = world.delta(f"/drives/{world.drive.id}/root/delta?$select=id,name").delta_link
    gone = world.item("empty.txt").id
    world.tenant.delete(world.drive, "empty.txt")
    entry = world.delta(link).by_id()[gone]
    # graph-facts §3.7, §5.5: without `deleted` in $select the removal is invisible.
    assert "deleted" not in entry and "name" not in entry
    link2 = world.delta(f"/drives/{world.drive.id}/root/delta?$select=id,name,deleted").delta_link
    world.tenant.delete(world.drive, "Notes/todo.md")
    entries = world.delta(link2).values
    assert [e["deleted"] for e in entries if "deleted" in e] == [{"state": "deleted"}]


def test_changes_during_a_round_land_in_the_next_one(world: World) -> None:
    tenant, drive = world.tenant, world.drive
    first = world.json(f"/drives/{drive.id}/root/delta?$top=3")
    # Journal order: root, Reports, Q1 summary.txt, 2025, plan.txt, deck.docx, Notes, ...
    assert [entry["name"] for entry in first["value"]] == ["root", "Reports", "Q1 summary.txt"]
    tenant.touch(drive, "Reports/Q1 summary.txt")  # already sent in this round
    tenant.edit_file(drive, "Reports/2025/plan.txt", BytesContent(b"changed"))  # not yet sent
    tenant.delete(drive, "Notes/todo.md")  # not yet sent
    tenant.add_file(drive, "Notes/added mid-round.txt", BytesContent(b"new"))
    tenant.rename(drive, "Reports/2025", "2025 (final)")  # not yet sent
    rest = world.delta(first["@odata.nextLink"])
    state: dict[str, dict[str, Any]] = {}
    apply_round(state, DeltaRound([first, *rest.pages]))
    apply_round(state, world.delta(rest.delta_link))
    # After both rounds the client's picture is exactly the library's: nothing was lost.
    view = tenant_view(world)
    assert {item_id: entry.get("eTag") for item_id, entry in state.items()} == view
    assert state[tenant.item(drive, "Reports/2025 (final)").id]["name"] == "2025 (final)"
    plan = tenant.item(drive, "Reports/2025 (final)/plan.txt")
    assert state[plan.id]["size"] == len(b"changed")


# ---------------------------------------------------------------------- 410 resyncRequired


def test_expired_tokens_answer_410_and_a_new_round_works(world: World) -> None:
    round_ = world.delta(f"/drives/{world.drive.id}/root/delta?$top=4")
    next_link = round_.pages[0]["@odata.nextLink"]
    world.tenant.expire_delta_tokens(world.drive)
    assert_resync(world.get(round_.delta_link))
    assert_resync(world.get(next_link))  # an initial round's nextLink dies too
    fresh = world.delta()  # the client's answer to 410: enumerate again
    assert {entry["id"] for entry in fresh.values} == all_ids(world)
    assert world.delta(fresh.delta_link).values == []  # and its deltaLink works at once
    world.tenant.touch(world.drive, "empty.txt")
    assert "empty.txt" in world.delta(fresh.delta_link).names()


def test_tokens_age_out_after_their_lifetime() -> None:
    world = make_world(build_tenant(delta_token_lifetime_s=3600))
    link = world.delta().delta_link
    world.emulator.clock.advance(3000)
    assert world.get(link).status_code == 200
    world.emulator.clock.advance(601)
    world.sign_in_again()  # the access token aged too
    assert_resync(world.get(link))


def test_a_round_from_an_old_timestamp_is_not_born_expired() -> None:
    world = make_world(build_tenant(delta_token_lifetime_s=3600))
    world.emulator.clock.advance(7200)
    world.sign_in_again()
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world.emulator.clock.now() - 5000))
    for path in ("empty.txt", "Notes/todo.md", "Reports/deck.docx"):
        world.tenant.touch(world.drive, path)  # after `old`
    round_ = world.delta(f"/drives/{world.drive.id}/root/delta?token={old}&$top=2")
    assert len(round_.pages) == 2  # the nextLink page was served, not refused as aged
    assert {"empty.txt", "todo.md", "deck.docx"} <= set(round_.names())
    assert world.get(round_.delta_link).status_code == 200


def test_resync_on_demand_hits_the_next_token_bearing_request(world: World) -> None:
    link = world.delta().delta_link
    world.tenant.request_resync(world.drive)
    # A fresh enumeration is never refused, and does not use up the pending 410.
    assert world.get(f"/drives/{world.drive.id}/root/delta").status_code == 200
    assert_resync(world.get(link))
    assert world.get(link).status_code == 200  # once


def test_resync_on_demand_can_hit_a_next_link_page(world: World) -> None:
    first = world.json(f"/drives/{world.drive.id}/root/delta?$top=3")
    world.tenant.request_resync(world.drive)
    assert_resync(world.get(first["@odata.nextLink"]))


def test_resync_fault_on_next_link_pages_with_and_without_location() -> None:
    world = make_world(config=EmulatorConfig(faults=FaultConfig.parse("resync=1")))
    locations = []
    for _ in range(2):
        first = world.json(f"/drives/{world.drive.id}/root/delta?$top=3")  # no token: served
        response = world.get(first["@odata.nextLink"])
        assert_resync(response)
        locations.append(response.headers.get("Location"))
    # One 410 carries a fresh-enumeration Location (docs), the other none (real captures).
    assert locations.count(None) == 1
    location = next(loc for loc in locations if loc)
    assert urlsplit(location).path == f"/v1.0/drives/{world.drive.id}/root/delta"
    assert "token" not in parse_qs(urlsplit(location).query)
    assert world.emulator.app.faults.stats()["resync"] == 2


# ---------------------------------------------------------------------- download URLs


def test_files_carry_a_download_url_when_nothing_is_selected(world: World) -> None:
    round_ = world.delta()
    for entry in round_.values:
        is_file = not world.drive.items[entry["id"]].is_folder
        assert (DOWNLOAD_URL in entry) == is_file, entry["name"]
    entry = round_.by_id()[world.item("Notes/todo.md").id]
    url = urlsplit(entry[DOWNLOAD_URL])
    assert url.path == "/sites/marketing/_layouts/15/download.aspx"
    assert url.netloc != urlsplit(world.url("/")).netloc  # another host (graph-facts §8.1)
    response = world.emulator.session().get(entry[DOWNLOAD_URL])
    assert response.content == FILES["Notes/todo.md"]


def test_content_download_url_selects_it_on_every_page(world: World) -> None:
    selected = "id,name,file,folder,deleted,content.downloadUrl"
    round_ = world.delta(f"/drives/{world.drive.id}/root/delta?$select={selected}&$top=2")
    assert len(round_.pages) > 2
    files = [e for e in round_.values if "file" in e]
    assert len(files) == len(FILES)
    assert all(DOWNLOAD_URL in e for e in files)  # the key stays the annotation (graph-facts §3.7)
    assert all(DOWNLOAD_URL not in e for e in round_.values if "folder" in e)
    assert all("content" not in e for e in round_.values)
    plain = world.delta(f"/drives/{world.drive.id}/root/delta?$select=id,file")
    assert all(DOWNLOAD_URL not in e for e in plain.values)


def test_deleted_items_carry_no_download_url_even_when_selected(world: World) -> None:
    url = f"/drives/{world.drive.id}/root/delta?$select=id,file,deleted,content.downloadUrl"
    link = world.delta(url).delta_link
    world.tenant.delete(world.drive, "Notes")
    world.tenant.edit_file(world.drive, "empty.txt", BytesContent(b"now with bytes"))
    round_ = world.delta(link)
    deleted = [e for e in round_.values if "deleted" in e]
    assert len(deleted) == 2  # Notes and Notes/todo.md
    assert all(DOWNLOAD_URL not in e for e in deleted)
    assert DOWNLOAD_URL in round_.by_id()[world.item("empty.txt").id]


def test_a_listed_download_url_expires_like_the_content_one(world: World) -> None:
    entry = world.delta().by_id()[world.item("Reports/2025/plan.txt").id]
    anonymous = world.emulator.session()
    world.emulator.clock.advance(3598)  # issued at a whole second: 3599-3600 s left
    assert anonymous.get(entry[DOWNLOAD_URL]).content == FILES["Reports/2025/plan.txt"]
    world.emulator.clock.advance(2)
    expired = anonymous.get(entry[DOWNLOAD_URL])
    assert expired.status_code == 401
    assert expired.json()["error"]["innerError"]["code"] == "expiredToken"


def test_a_listed_download_url_of_a_deleted_file_is_404(world: World) -> None:
    entry = world.delta().by_id()[world.item("Notes/todo.md").id]
    world.tenant.delete(world.drive, "Notes/todo.md")
    assert world.emulator.session().get(entry[DOWNLOAD_URL]).status_code == 404
