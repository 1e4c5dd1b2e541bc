"""Against the emulator: every kind of principal SharePoint serves (graph-facts §6.7-6.11)
reaches the grants file as its own kind, keyed by a stable id, and a link with its audience;
`.permissions.json` keeps each one's "Display Name:::Level" label; a change involving one is
reported exactly once, as a permission-only change; and a store written before these kinds
is classified again without a change log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ms365sync.emulator import Role
from ms365sync.outputs.grants import GrantsFile
from ms365sync.target import GRANTS_FILE
from support.harness import World, make_world

FORMER = "i:0#.f|membership|former@contoso.onmicrosoft.com"
GUEST = "jordan@brightline.example"


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    t, d = world.tenant, world.drive
    t.add_user("Jordan Blake", GUEST, guest=True)
    t.add_site_user(d.site, "Former Employee", FORMER)
    t.grant(d, "Plans", "everyone_except_external", Role.READ)
    t.grant(d, "Plans/budget.csv", "everyone", Role.READ)
    t.grant(d, "Finance", "groupowners:Finance Team", Role.OWNER)
    t.grant(d, "Finance/q1.txt", f"user:{GUEST}", Role.READ)
    t.grant(d, "readme.md", f"siteuser:{FORMER}", Role.WRITE)
    t.add_link(d, "readme.md", "view", "organization")
    t.add_link(d, "Plans/2026/plan.txt", "view", "anonymous")
    t.add_link(d, "Plans/2026/plan.txt", "edit", "users", ["alice@contoso.onmicrosoft.com"])
    return world


def grants_file(world: World) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((world.root / GRANTS_FILE).read_text("utf-8"))
    GrantsFile.model_validate(document)
    return document


def kinds(world: World, path: str) -> dict[str, tuple[str, str]]:
    """display name -> (kind, id) of a file's grants (links: (audience, id))."""
    found = {}
    for grant in grants_file(world)["files"][path]["grants"]:
        what = grant["audience"] if grant["kind"] == "link" else grant["kind"]
        found[grant["display_name"]] = (what, grant["id"])
    return found


def test_each_principal_becomes_its_own_kind_and_keeps_its_label(world: World) -> None:
    world.ok()
    t, site_id = world.tenant, world.drive.site.id
    finance = t.group("Finance Team").id
    assert grants_file(world)["version"] == 2
    budget = kinds(world, "Plans/budget.csv")
    eeeu = f"c:0-.f|rolemanager|spo-grid-all-users/{t.tenant_id}"
    assert budget["Everyone except external users"] == ("all_members", eeeu)
    assert budget["Everyone"] == ("everyone", "c:0(.s|true")
    assert budget["Marketing Visitors"] == ("site_group", f"{site_id}/sitegroups/4")
    q1 = kinds(world, "Finance/q1.txt")
    assert q1["Finance Team Owners"] == ("group_owners", finance)
    assert q1["Finance Team"] == ("group", finance)
    assert q1["Jordan Blake"] == ("guest", t.user(GUEST).id)
    readme = kinds(world, "readme.md")
    number = t.site_principal_id(FORMER)
    assert readme["Former Employee"] == ("site_user", f"{site_id}/siteusers/{number}")
    assert readme["Sharing Link (view, organization)"][0] == "organization"
    plan = kinds(world, "Plans/2026/plan.txt")
    assert plan["Sharing Link (view, anonymous)"][0] == "public"
    assert plan["Sharing Link (edit, users)"][0] == "recipients"
    assert plan["Everyone except external users"][0] == "all_members"  # inherited from Plans
    # .permissions.json: the original "Display Name:::Level" form, as the tenant says.
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)
    assert "Everyone except external users:::View" in world.permissions_json()["Plans/budget.csv"]
    assert "Finance Team Owners:::Full Control" in world.permissions_json()["Finance/q1.txt"]


def _only_permission_change(world: World, path: str) -> tuple[list[str], list[str]]:
    log = world.ok().log
    assert log is not None
    assert not (log.changes.added or log.changes.modified or log.changes.deleted)
    assert set(log.changes.permission_only_changes) == {path}
    entry = log.changes.permission_only_changes[path].permission_changes
    assert entry.current == world.expected_labels(path)
    again = world.ok().log
    assert again is not None and not again.has_changes  # reported once
    return entry.added, entry.removed


def test_everyone_except_external_users_granted_and_removed_is_reported_once(
    world: World,
) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    label = "Everyone except external users:::View"
    t.grant(d, "readme.md", "everyone_except_external", Role.READ)
    assert _only_permission_change(world, "readme.md") == ([label], [])
    assert kinds(world, "readme.md")["Everyone except external users"][0] == "all_members"
    t.revoke(d, "readme.md", "everyone_except_external")
    assert _only_permission_change(world, "readme.md") == ([], [label])
    assert "Everyone except external users" not in kinds(world, "readme.md")


def test_a_link_whose_scope_changes_is_reported_once_with_its_new_audience(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.remove_link(d, "readme.md", "view/organization")
    t.add_link(d, "readme.md", "view", "anonymous")
    added, removed = _only_permission_change(world, "readme.md")
    assert (added, removed) == (
        ["Sharing Link (view, anonymous):::View"],
        ["Sharing Link (view, organization):::View"],
    )
    assert kinds(world, "readme.md")["Sharing Link (view, anonymous)"][0] == "public"


def test_a_store_of_an_older_version_is_classified_again_without_a_change_log(
    world: World,
) -> None:
    """Before version 3 of the state, Everyone except external users was stored as a user:
    the migration reads every permission source again; no label changes, so no log."""
    world.ok()
    logs = world.logs()
    db = sqlite3.connect(world.root / ".ms365sync" / "state.db")
    with db:
        for table in ("perms", "mirror"):
            db.execute(f"UPDATE {table} SET grants = replace(grants, 'all_members', 'user')")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    world.recorder.reset()
    result = world.ok()
    assert result.log is not None and not result.log.has_changes
    assert world.logs() == logs
    assert world.recorder.permission_reads()  # read again
    assert kinds(world, "Plans/budget.csv")["Everyone except external users"][0] == "all_members"
