"""What changed between two principals snapshots: one event per member added or removed.

Only a group or site group whose members both snapshots know is compared: one that could
not be read in either (`unexpanded`) says nothing about its members, and one that appears
or leaves because a grant started or stopped naming it is not a membership change (the
grants file reports the grant).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

from ms365sync.outputs.principals import (
    MemberKindName,
    MembershipEvent,
    PrincipalsFile,
    SiteGroupEntry,
)

__all__ = ["membership_events"]

PrincipalKindName = Literal["group", "group_owners", "site_group"]
Change = Literal["added", "removed"]


def membership_events(old: PrincipalsFile, new: PrincipalsFile) -> list[MembershipEvent]:
    """Every member added to or removed from a group or site group, sorted."""
    events = [*_group_events(old, new), *_site_group_events(old, new)]
    return sorted(
        events,
        key=lambda e: (e.principal_kind, e.principal_id, e.change, e.member_kind, e.member_id),
    )


def _group_events(old: PrincipalsFile, new: PrincipalsFile) -> Iterator[MembershipEvent]:
    for group_id, now in new.groups.items():
        before = old.groups.get(group_id)
        if before is None:
            continue
        if before.members is not None and now.members is not None:
            yield from _events("group", group_id, "user", before.members, now.members)
        if before.owners is not None and now.owners is not None:
            yield from _events("group_owners", group_id, "user", before.owners, now.owners)


def _site_group_events(old: PrincipalsFile, new: PrincipalsFile) -> Iterator[MembershipEvent]:
    for key, now in new.site_groups.items():
        before = old.site_groups.get(key)
        unread = f"site_group:{key}"
        if before is None or unread in old.unexpanded or unread in new.unexpanded:
            continue
        for member_kind, was, is_ in _site_group_parts(before, now):
            yield from _events("site_group", key, member_kind, was, is_)


def _site_group_parts(
    before: SiteGroupEntry, now: SiteGroupEntry
) -> Iterator[tuple[MemberKindName, Sequence[str], Sequence[str]]]:
    yield "user", before.users, now.users
    yield "group", before.groups, now.groups
    yield "group_owners", before.group_owners, now.group_owners
    yield "claim", before.claims, now.claims
    yield "site_user", before.site_users, now.site_users


def _events(
    kind: PrincipalKindName,
    principal_id: str,
    member_kind: MemberKindName,
    was: Sequence[str],
    is_: Sequence[str],
) -> Iterator[MembershipEvent]:
    before, after = set(was), set(is_)
    changes: tuple[tuple[Change, set[str]], ...] = (
        ("added", after - before),
        ("removed", before - after),
    )
    for change, ids in changes:
        for member in sorted(ids):
            yield MembershipEvent(
                change=change,
                principal_kind=kind,
                principal_id=principal_id,
                member_kind=member_kind,
                member_id=member,
            )
