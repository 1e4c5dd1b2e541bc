"""Membership events between two principals snapshots."""

from __future__ import annotations

from typing import Any

from ms365sync.outputs.principals import PrincipalsFile
from ms365sync.principals.diff import membership_events

SITE_GROUP = "site-1/sitegroups/4"


def snapshot(**parts: Any) -> PrincipalsFile:
    document: dict[str, Any] = {
        "version": 1,
        "tenant_id": "t",
        "refreshed": "2026-12-02T00:00:00Z",
        "users": {},
        "groups": {},
        "site_groups": {},
        "unexpanded": {},
    }
    document.update(parts)
    return PrincipalsFile.model_validate(document)


def site_group(**parts: Any) -> dict[str, Any]:
    return {"display_name": "Marketing Members", "users": [], "groups": [], "claims": []} | parts


def test_members_added_and_removed_are_one_event_each() -> None:
    old = snapshot(
        groups={"g": {"display_name": "G", "members": ["a", "b"], "owners": ["o1"]}},
        site_groups={SITE_GROUP: site_group(users=["a"], groups=["g"])},
    )
    new = snapshot(
        groups={"g": {"display_name": "G", "members": ["b", "c"], "owners": ["o2"]}},
        site_groups={SITE_GROUP: site_group(users=["a", "d"], claims=["all_members"])},
    )
    found = [
        (e.change, e.principal_kind, e.principal_id, e.member_kind, e.member_id)
        for e in membership_events(old, new)
    ]
    assert found == [
        ("added", "group", "g", "user", "c"),
        ("removed", "group", "g", "user", "a"),
        ("added", "group_owners", "g", "user", "o2"),
        ("removed", "group_owners", "g", "user", "o1"),
        ("added", "site_group", SITE_GROUP, "claim", "all_members"),
        ("added", "site_group", SITE_GROUP, "user", "d"),
        ("removed", "site_group", SITE_GROUP, "group", "g"),
    ]
    assert membership_events(new, new) == []


def test_what_could_not_be_read_or_just_appeared_is_no_event() -> None:
    old = snapshot(
        groups={"g": {"display_name": "G", "members": None}},
        site_groups={SITE_GROUP: site_group(users=["a"])},
        unexpanded={f"site_group:{SITE_GROUP}": "a certificate is needed"},
    )
    new = snapshot(
        groups={
            "g": {"display_name": "G", "members": ["a"]},
            "h": {"display_name": "H", "members": ["b"]},
        },
        site_groups={SITE_GROUP: site_group(users=["b"])},
    )
    assert membership_events(old, new) == []
    assert membership_events(new, old) == []
