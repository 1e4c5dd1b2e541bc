"""The principals snapshot (`.principals.json`) and its change logs, as published.

A search index filters each document by the ids in its grants (`.permissions.grants.json`);
to answer for a person it must know which of those ids stand for them. The snapshot, one
per tenant at the data root, holds every principal that appears in a grant of a synced
target: each user and guest, each Entra group's transitive user members (and a Microsoft 365
group's owners where a grant names them), each SharePoint site group's members (users,
Entra groups, and the claims "every member" and "everyone"). A refresh that finds a member
added or removed writes `sync_logs/principal_changes_<timestamp>.json` beside it: one event
per member and group, each published once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "PRINCIPALS_VERSION",
    "ClaimName",
    "GroupEntry",
    "MemberKindName",
    "MembershipEvent",
    "PrincipalChanges",
    "PrincipalsFile",
    "SiteGroupEntry",
    "UserEntry",
]

PRINCIPALS_VERSION: Literal[1] = 1

ClaimName = Literal["all_members", "everyone"]
MemberKindName = Literal["user", "group", "group_owners", "claim", "site_user"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserEntry(_Model):
    """One person (a member of the tenant or a guest) by Entra object id."""

    display_name: str = Field(description="For people to read; never match on it.")
    email: str | None = None
    user_principal_name: str | None = None
    guest: bool = Field(
        description="An external user invited into the tenant: not reached by all_members "
        "grants nor by organization links."
    )


class GroupEntry(_Model):
    """An Entra group: its user members through every nested group, and, for a Microsoft 365
    group a grant names by its owners, its owners."""

    display_name: str
    members: list[str] | None = Field(
        description="Entra object ids of its users, nested groups expanded (sorted); null "
        "when they could not be read (see `unexpanded`)."
    )
    owners: list[str] | None = Field(
        default=None,
        description="Entra object ids of its owners, when a group_owners grant names it.",
    )


class SiteGroupEntry(_Model):
    """A SharePoint site group's direct members, by kind."""

    display_name: str
    users: list[str] = Field(description="Entra object ids of the users in it (sorted).")
    groups: list[str] = Field(
        description="Entra object ids of the Entra groups in it: their members are in it "
        "too (see `groups`). A Microsoft 365 group's owners claim is listed in group_owners."
    )
    group_owners: list[str] = Field(
        default_factory=list,
        description="Entra object ids of the Microsoft 365 groups whose owners are in it.",
    )
    claims: list[ClaimName] = Field(
        description="all_members: every member of the tenant (no guest); everyone: every "
        "account signed in to the tenant."
    )
    site_users: list[str] = Field(
        default_factory=list,
        description="Login names of accounts the site knows without an Entra object id.",
    )


class PrincipalsFile(_Model):
    """`.principals.json`: who stands behind the ids of the grants of every synced target."""

    version: Literal[1] = Field(description="The format's version; this is version 1.")
    tenant_id: str
    refreshed: str = Field(description="When the members were read (UTC, ISO 8601).")
    users: dict[str, UserEntry] = Field(description="By Entra object id.")
    groups: dict[str, GroupEntry] = Field(description="Entra groups, by object id.")
    site_groups: dict[str, SiteGroupEntry] = Field(
        description="By '<site id>/sitegroups/<n>', the id the grants file gives them."
    )
    unexpanded: dict[str, str] = Field(
        description="'<kind>:<id>' of each group or site group whose members could not be "
        "read, with why (a missing permission, a secret where SharePoint needs a "
        "certificate): an index must not take its members from here."
    )


class MembershipEvent(_Model):
    """One member added to or removed from one group or site group."""

    change: Literal["added", "removed"]
    principal_kind: Literal["group", "group_owners", "site_group"]
    principal_id: str
    member_kind: MemberKindName
    member_id: str = Field(
        description="An Entra object id (user, group, group_owners: the owners of that "
        "Microsoft 365 group), a claim name (all_members, everyone) or a site user's login name."
    )


class PrincipalChanges(_Model):
    """`sync_logs/principal_changes_<timestamp>.json`: what one refresh found changed."""

    version: Literal[1] = 1
    timestamp: str
    tenant_id: str
    events: list[MembershipEvent]
