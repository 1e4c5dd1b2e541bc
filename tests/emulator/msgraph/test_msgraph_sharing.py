"""Sharing in delta (graph-facts §5.7-§5.8): the `shared` facet under
`Prefer: hierarchicalsharing`, the `@microsoft.graph.sharedChanged` marker under
`deltashowsharingchanges` and its companions, who gets to see permission changes at all, and
the realistic-gaps switch."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from ms365sync.emulator.login.directory import SITES_READ_ALL
from ms365sync.emulator.transport.http import Headers, Request
from support.emulator_fakes import sample
from support.emulator_graph_world import PREFER_ALL, World, build_tenant, make_world, share

MARK = "@microsoft.graph.sharedChanged"
AMY = "user:amy@contoso.onmicrosoft.com"
BEN = "ben@contoso.onmicrosoft.com"


def world_with(**settings: Any) -> World:
    return make_world(build_tenant(**settings))


@pytest.fixture
def world() -> World:
    return world_with()


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries if "name" in entry}


def changes_after(world: World, change: Any, prefer: str | None = PREFER_ALL) -> list[Any]:
    """The entries of the round that follows `change()` (rounds read with `prefer`)."""
    link = world.delta(prefer=prefer).delta_link
    change()
    return world.delta(link, prefer=prefer).values


# ---------------------------------------------------------------------- hierarchicalsharing


def test_hierarchical_sharing_marks_only_permission_roots(world: World) -> None:
    share(world, "Reports")
    entries = by_name(world.delta(prefer="hierarchicalsharing").values)
    # The root establishes the initial scope with an empty facet (samples/04-delta-sharing-change).
    assert entries["root"]["shared"] == {}
    assert entries["Reports"]["shared"] == {"scope": "users"}
    for inheriting in ("Q1 summary.txt", "2025", "plan.txt", "Notes", "todo.md"):
        assert "shared" not in entries[inheriting], inheriting


def test_unique_permissions_without_sharing_show_an_empty_facet(world: World) -> None:
    world.tenant.break_inheritance(world.drive, "Notes", copy=True)
    entries = by_name(world.delta(prefer="hierarchicalsharing").values)
    assert entries["Notes"]["shared"] == {}


def test_without_hierarchical_sharing_every_shared_item_carries_its_scope(world: World) -> None:
    share(world, "Reports")
    world.tenant.add_link(world.drive, "Notes/todo.md", "view", "anonymous")
    entries = by_name(world.delta().values)
    assert "shared" not in entries["root"]
    for inheriting in ("Reports", "Q1 summary.txt", "2025", "plan.txt"):
        assert entries[inheriting]["shared"] == {"scope": "users"}, inheriting
    assert entries["todo.md"]["shared"] == {"scope": "anonymous"}
    assert "shared" not in entries["Notes"]


# ---------------------------------------------------------------------- sharedChanged


def test_permission_only_change_of_a_file_is_marked(world: World) -> None:
    entries = changes_after(world, lambda: share(world, "Notes/todo.md"))
    assert [entry["name"] for entry in entries] == ["todo.md", "Notes", "root"]
    todo = entries[0]
    assert todo[MARK] is True  # a JSON boolean, as captured (graph-docs #15242)
    assert todo["shared"] == {"scope": "users"}
    assert all(MARK not in entry for entry in entries[1:])  # ancestors are not marked


def test_folders_are_never_marked(world: World) -> None:
    entries = by_name(changes_after(world, lambda: share(world, "Reports")))
    assert entries["Reports"]["shared"] == {"scope": "users"}
    assert MARK not in entries["Reports"]  # msgraph-sdk-java #2548


def test_never_marked_in_the_initial_round(world: World) -> None:
    share(world, "Notes/todo.md")
    round_ = world.delta(prefer=PREFER_ALL)
    assert all(MARK not in entry for entry in round_.values)  # Corso #2739
    assert by_name(round_.values)["todo.md"]["shared"] == {"scope": "users"}


def test_the_marker_can_be_the_documented_string() -> None:
    world = world_with(shared_changed_as_string=True)
    entries = changes_after(world, lambda: share(world, "Notes/todo.md"))
    assert entries[0][MARK] == "True"


@pytest.mark.parametrize(
    "prefer",
    [
        None,
        "hierarchicalsharing",
        "deltashowsharingchanges",
        "hierarchicalsharing, deltashowsharingchanges, deltashowremovedasdeleted",
        "deltashowsharingchanges, deltatraversepermissiongaps",
    ],
)
def test_permission_changes_need_the_sharing_prefer_tokens(
    world: World, prefer: str | None
) -> None:
    # deltashowsharingchanges needs both companions (driveitem-delta.md note).
    assert changes_after(world, lambda: share(world, "Notes/todo.md"), prefer) == []


def test_tokens_may_come_in_separate_prefer_headers(world: World) -> None:
    link = urlsplit(world.delta(prefer=PREFER_ALL).delta_link)
    share(world, "Notes/todo.md")
    headers = [("Host", link.netloc), ("Authorization", world.session.headers["Authorization"])]
    headers += [("Prefer", part.strip()) for part in PREFER_ALL.split(",")]
    request = Request("GET", link.netloc, link.path, link.query, Headers(headers))
    response = world.emulator.app.handle(request)
    assert response.status == 200
    entries = json.loads(response.body_bytes())["value"]
    assert entries[0]["name"] == "todo.md" and entries[0][MARK] is True


def test_permission_changes_need_sites_fullcontrol(world: World) -> None:
    reader = world.sign_in_as(world.tenant.add_app("reader", roles=[SITES_READ_ALL]))
    link_response = reader.get(
        world.url(f"/drives/{world.drive.id}/root/delta"), headers={"Prefer": PREFER_ALL}
    )
    link = link_response.json()["@odata.deltaLink"]
    share(world, "Notes/todo.md")
    response = reader.get(link, headers={"Prefer": PREFER_ALL})
    assert response.status_code == 200
    assert response.json()["value"] == []  # Microsoft's SharePoint blog, 2020-10-02


def test_content_changes_show_without_any_prefer(world: World) -> None:
    entries = changes_after(world, lambda: world.tenant.touch(world.drive, "empty.txt"), None)
    assert [entry["name"] for entry in entries] == ["empty.txt", "root"]
    assert all(MARK not in entry for entry in entries)


def test_the_real_capture_shape_of_a_sharing_round(world: World) -> None:
    entries = changes_after(world, lambda: share(world, "Notes/todo.md"))
    root = by_name(entries)["root"]
    captured = sample("04-delta-sharing-change.real-2021-fragment.json")["value"]
    assert set(captured[0]) <= set(root)
    assert root["shared"] == captured[0]["shared"] == {}
    assert set(captured[1]) <= set(entries[0])
    assert entries[0][MARK] is captured[1][MARK]


# ---------------------------------------------------------------------- realistic gaps


def test_with_gaps_inheriting_children_get_no_entry(world: World) -> None:
    entries = changes_after(world, lambda: share(world, "Reports"))
    assert [entry["name"] for entry in entries] == ["Reports", "root"]  # #1250, #1670


def test_without_gaps_inheriting_children_are_marked() -> None:
    world = world_with(realistic_gaps=False)
    entries = by_name(changes_after(world, lambda: share(world, "Reports")))
    for name in ("Q1 summary.txt", "plan.txt", "deck.docx"):
        assert entries[name][MARK] is True, name
    assert MARK not in entries["2025"]  # folders are still never marked
    assert "Notes" not in entries


def revoke_amy(world: World) -> None:
    world.tenant.revoke(world.drive, "Notes/todo.md", AMY)


@pytest.mark.parametrize(("gaps", "marked"), [(True, False), (False, True)])
def test_removal_is_marked_only_without_gaps(gaps: bool, marked: bool) -> None:
    world = world_with(realistic_gaps=gaps)
    share(world, "Notes/todo.md")
    entries = by_name(changes_after(world, lambda: revoke_amy(world)))
    todo = entries["todo.md"]  # the item appears either way
    assert (MARK in todo) is marked  # onedrive-api-docs #1248
    assert todo["shared"] == {}  # still unique permissions, no sharing left


@pytest.mark.parametrize(("gaps", "seen"), [(True, False), (False, True)])
def test_adding_a_link_recipient(gaps: bool, seen: bool) -> None:
    world = world_with(realistic_gaps=gaps)
    world.tenant.add_link(world.drive, "Notes/todo.md", "edit", "users", ["Amy Adams"])

    def add_ben() -> None:
        world.tenant.add_link_recipient(world.drive, "Notes/todo.md", "edit/users", BEN)

    entries = changes_after(world, add_ben)
    assert ("todo.md" in by_name(entries)) is seen  # graph-docs #15242
    permissions = world.json(world.item_path("Notes/todo.md", "/permissions"))["value"]
    link = next(entry for entry in permissions if "link" in entry)
    emails = {who["user"]["email"] for who in link["grantedToIdentitiesV2"]}
    assert emails == {"amy@contoso.onmicrosoft.com", BEN}  # granted either way
