"""The principals snapshot end to end, over real HTTPS on loopback: who is behind every
group and site group the grants name, read through Graph and SharePoint REST, and each
membership change published once as an event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ms365sync.emulator.tenant.membership import site_group_user_ids, transitive_member_ids
from ms365sync.principals.sharepoint import SECRET_REFUSED
from support.principals import Served, serve
from support.schemas_plugin import problems


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, certificate=True)


@pytest.fixture
def served_with_a_secret(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path, certificate=False)


def test_the_snapshot_names_who_is_behind_every_group_and_site_group(served: Served) -> None:
    report = served.run()
    assert report.principals is not None and report.principals.published is not None
    snapshot = served.snapshot()
    tenant = served.emulator.tenant
    assert snapshot["unexpanded"] == {}
    groups = snapshot["groups"]
    assert isinstance(groups, dict) and groups
    for group_id, entry in groups.items():
        truth = transitive_member_ids(tenant, tenant.groups[group_id])
        assert entry["members"] == sorted(truth), entry["display_name"]
    site_groups = snapshot["site_groups"]
    assert isinstance(site_groups, dict) and site_groups
    users = snapshot["users"]
    assert isinstance(users, dict)
    for key, entry in site_groups.items():
        site_id, _, number = key.rpartition("/sitegroups/")
        site = tenant.sites[site_id]
        group = next(g for g in site.groups.values() if g.id == int(number))
        reached = set(entry["users"])
        for group_id in entry["groups"]:
            reached.update(groups[group_id]["members"])
        for group_id in entry["group_owners"]:
            reached.update(groups[group_id]["owners"])
        if "all_members" in entry["claims"] or "everyone" in entry["claims"]:
            continue  # the claim stands for the tenant: the index expands it, not the snapshot
        assert reached == site_group_user_ids(tenant, group), group.title
    guests = {user_id for user_id, entry in users.items() if entry["guest"]}
    assert guests == {u.id for u in tenant.users.values() if u.user_type.value == "Guest"}
    assert served.change_logs() == {}  # the first snapshot is no change
    assert problems("principals", snapshot) == []


def test_a_membership_change_is_one_event_published_once(served: Served) -> None:
    served.run()
    tenant = served.emulator.tenant
    team = next(g for g in tenant.groups.values() if g.display_name == "HR Team")
    newcomer = next(
        u for u in tenant.users.values() if u.id not in transitive_member_ids(tenant, team)
    )
    tenant.add_group_member(team, f"user:{newcomer.id}")
    served.run()
    [(name, log)] = served.change_logs().items()
    assert name.startswith("principal_changes_")
    assert log["events"] == [
        {
            "change": "added",
            "principal_kind": "group",
            "principal_id": team.id,
            "member_kind": "user",
            "member_id": newcomer.id,
        }
    ]
    assert problems("principal_changes", log) == []
    served.run()
    assert list(served.change_logs()) == [name]  # nothing changed since: no second log


def test_with_a_client_secret_site_groups_are_left_unexpanded_and_say_why(
    served_with_a_secret: Served,
) -> None:
    served = served_with_a_secret
    served.run()
    snapshot = served.snapshot()
    unexpanded = snapshot["unexpanded"]
    assert isinstance(unexpanded, dict) and unexpanded
    assert all(key.startswith("site_group:") for key in unexpanded)
    assert set(unexpanded.values()) == {SECRET_REFUSED}
    assert snapshot["groups"]  # Graph takes the secret: groups are still read


def test_without_the_directory_role_groups_say_which_role_is_missing(served: Served) -> None:
    """The documents are synced either way; each group whose members could not be read
    says which permission the app lacks."""
    served.emulator.registration.roles = ["Sites.FullControl.All"]
    report = served.run()  # every target ok: the snapshot never fails them
    assert report.principals is not None and report.principals.unexpanded > 0
    unexpanded = served.snapshot()["unexpanded"]
    assert isinstance(unexpanded, dict)
    refused = {key: why for key, why in unexpanded.items() if key.startswith("group:")}
    assert refused and all("GroupMember.Read.All" in why for why in refused.values())
    groups = served.snapshot()["groups"]
    assert isinstance(groups, dict) and all(g["members"] is None for g in groups.values())


def test_the_snapshot_is_refreshed_only_when_due(served: Served) -> None:
    served.config.write_text(served.config.read_text().replace('refresh = "0s"', 'refresh = "1d"'))
    first = served.run().principals
    assert first is not None and first.published is not None
    again = served.run().principals
    assert again is not None and again.published is None  # younger than a day
