"""The id-keyed permissions file (`.permissions.grants.json`): its model and its text.

`.permissions.grants.json` holds every mirrored file's item id and grants keyed by stable
ids (Entra object ids, site-qualified site group ids, sharing link ids with their scope,
audience and recipients), each of a kind that says whom it reaches (a person, a group's
members or owners, every member of the tenant, everyone, a link's audience, or nobody for
what is not recognised) and marked own or inherited from the committed tree's permission
source. It
is rendered from the committed state only, after the commit and again after a crash
(`sync.publish`), and written atomically: a reader sees the old file or the new.
The models here (and `changelog.ChangeLog`) are the published formats (`ms365sync.outputs.schemas`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ms365sync.models import Grant, PrincipalKind
from ms365sync.outputs.changelog import TargetInfo
from ms365sync.outputs.jsonstream import Raw, object_chunks, render

__all__ = [
    "GRANTS_VERSION",
    "GrantEntry",
    "GrantSource",
    "GrantsFile",
    "GrantsFileEntry",
    "PermissionsFile",
    "document",
    "grant_entry",
]

# Version 2: the kinds guest, group_owners, site_user, all_members and everyone, and a link's
# audience. A version-1 reader validating strictly would refuse the new kinds, and one that
# did not would misread them: hence a new version (docs/rag.md, "Versions of the grants file").
GRANTS_VERSION: Literal[2] = 2
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_LOGIN = re.compile(r"^[ic]:0", re.IGNORECASE)  # a SharePoint claim (graph-facts §6.7)
_ENTRA_KINDS = (
    PrincipalKind.USER,
    PrincipalKind.GUEST,
    PrincipalKind.GROUP,
    PrincipalKind.GROUP_OWNERS,
    PrincipalKind.APPLICATION,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PrincipalKindName = Literal[
    "user",
    "guest",
    "group",
    "group_owners",
    "site_group",
    "site_user",
    "all_members",
    "everyone",
    "link",
    "application",
    "unknown",
]
LinkAudienceName = Literal["public", "organization", "recipients", "existing_access", "unknown"]


class GrantEntry(_Model):
    """One grant of a file's permissions, keyed by a stable id (display names are not unique)."""

    kind: PrincipalKindName = Field(
        description="Whom the grant reaches. user: one member of the tenant (Entra object "
        "id). guest: one external user invited into the tenant (Entra object id). group: the "
        "members of an Entra group. group_owners: the owners, not the members, of a Microsoft "
        "365 group (a group-connected site's owners). site_group: a SharePoint group of the "
        "site. site_user: one account the site knows without an Entra object id. "
        "all_members: every member of the tenant, no guest ('Everyone except external "
        "users'). everyone: every account signed in to the tenant ('Everyone'; guests only "
        "where the tenant allows it). link: a sharing link, reaching its audience. "
        "application: an app. unknown: not recognised; reaches nobody."
    )
    id: str = Field(
        description="Stable id: the Entra object id of a user, guest or application; the "
        "Entra group id for group and group_owners; '<site id>/sitegroups/<n>' for a site "
        "group; '<site id>/siteusers/<n>' (or its login name) for a site_user, and for "
        "anything known only by its site-local id; the SharePoint claim for all_members, "
        "everyone and a recognised but unknown claim; the permission id for a sharing link."
    )
    display_name: str = Field(description="For people to read; never filter on it.")
    role: str = Field(description="Graph role: owner, write or read.")
    inherited: bool = Field(
        description="True when the file takes this grant from a folder or the library (its "
        "permission source is another item); false when the file is its own permission root."
    )
    email: str | None = None
    login_name: str | None = Field(default=None, description="SharePoint's login name (claim).")
    link_type: str | None = Field(default=None, description="Links: view, edit ...")
    link_scope: str | None = Field(
        default=None,
        description="Links: SharePoint's scope as sent: anonymous, organization, users or "
        "existingAccess. Filter on audience instead.",
    )
    audience: LinkAudienceName | None = Field(
        default=None,
        description="Links: whom the link reaches. public: anyone who has the URL, without "
        "signing in. organization: members of the tenant who have the URL, not guests, not "
        "the public. recipients: only the people in recipients. existing_access: nobody "
        "who has no access already. unknown: scope missing or not recognised; nobody beyond "
        "recipients.",
    )
    recipients: list[str] | None = Field(
        default=None, description="Links: the user ids the link was granted to ('users' links)."
    )


Label = Annotated[str, Field(pattern=":::", description='"Display Name:::Level"')]


class PermissionsFile(RootModel[dict[str, list[Label]]]):
    """`.permissions.json`: each mirrored file's "Display Name:::Level" labels, by path."""


class GrantsFileEntry(_Model):
    """One mirrored file in `.permissions.grants.json`."""

    item_id: str
    inherited_from: str | None = Field(
        default=None,
        description="The item (folder or library root) whose permissions the file takes; "
        "absent when the file is its own permission root.",
    )
    grants: list[GrantEntry]


class GrantsFile(_Model):
    """`.permissions.grants.json`: every mirrored file's grants by stable ids, by path."""

    version: Literal[2] = Field(
        description="The format's version: 2 since the kinds guest, group_owners, site_user, "
        "all_members and everyone and a link's audience (version 1 had user, group, "
        "site_group, link, application and unknown)."
    )
    target: TargetInfo
    files: dict[str, GrantsFileEntry] = Field(
        description="Library-relative path (as in .permissions.json and the change logs) -> "
        "the file's item id and grants."
    )


def stable_id(grant: Grant, site_id: str | None) -> str:
    """A grant's principal id, qualified by the site where it is only unique within one.

    Site group ids are small numbers per site (graph-facts §6.4); a site user, or a user or
    group known only by its site principal id (no Entra object id), is qualified the same way.
    A principal known by its login name alone keeps it (a login name is the tenant's).
    """
    principal_id, kind = grant.principal_id, grant.kind
    if site_id is None or _LOGIN.match(principal_id):  # a login name is the tenant's
        return principal_id
    if kind is PrincipalKind.SITE_GROUP:
        return f"{site_id}/sitegroups/{principal_id.removeprefix('sitegroup:')}"
    site_local = kind in _ENTRA_KINDS and not _GUID.match(principal_id)
    if site_local or kind is PrincipalKind.SITE_USER:
        return f"{site_id}/siteusers/{principal_id}"
    return principal_id


def grant_entry(grant: Grant, *, site_id: str | None, inherited: bool) -> GrantEntry:
    """The exported form of one grant."""
    link = grant.kind is PrincipalKind.LINK
    audience = grant.audience
    return GrantEntry(
        kind=grant.kind.value,
        id=stable_id(grant, site_id),
        display_name=grant.display_name,
        role=grant.role,
        inherited=inherited,
        email=grant.email,
        login_name=grant.login_name,
        link_type=grant.link_type,
        link_scope=grant.link_scope,
        audience=audience.value if audience is not None else None,
        recipients=list(grant.recipients) if link else None,
    )


class GrantSource(Protocol):
    """One mirrored file's grants as the state store keeps them (`state.mirror.GrantRow`)."""

    @property
    def path(self) -> str: ...
    @property
    def item_id(self) -> str: ...
    @property
    def stored_grants(self) -> str: ...  # equal grants are equal text
    @property
    def perm_src(self) -> str | None: ...  # the item whose permissions apply
    @property
    def grants(self) -> tuple[Grant, ...]: ...


def _entry(row: GrantSource, site_id: str | None) -> GrantsFileEntry:
    """One file's entry as a model (the published shape; `_members` writes the same text)."""
    inherited = row.perm_src is not None and row.perm_src != row.item_id
    return GrantsFileEntry(
        item_id=row.item_id,
        inherited_from=row.perm_src if inherited else None,
        grants=[grant_entry(g, site_id=site_id, inherited=inherited) for g in row.grants],
    )


_SHARED_GRANTS = 10_000  # rendered grant lists kept for reuse (files share a few)


def _members(rows: Iterable[GrantSource], site_id: str | None) -> Iterator[tuple[str, Raw]]:
    """(path, rendered entry) of every file of `rows`, in their order.

    Rendered as text, not built as models: files inherit their grants from a handful of
    permission sources, so each distinct grant list is rendered once and reused.
    """
    rendered: dict[tuple[str, bool], str] = {}
    for row in rows:
        inherited = row.perm_src is not None and row.perm_src != row.item_id
        grants = rendered.get((row.stored_grants, inherited))
        if grants is None:
            if len(rendered) >= _SHARED_GRANTS:
                rendered.clear()
            listed = [g.model_dump(exclude_none=True) for g in _entry(row, site_id).grants]
            rendered[(row.stored_grants, inherited)] = render(listed).replace("\n", "\n  ")
            grants = rendered[(row.stored_grants, inherited)]
        origin = f',\n  "inherited_from": {json.dumps(row.perm_src)}' if inherited else ""
        text = f'{{\n  "item_id": {json.dumps(row.item_id)}{origin},\n  "grants": {grants}\n}}'
        yield row.path, Raw(text)


def document(target: TargetInfo, rows: Iterable[GrantSource]) -> Iterator[bytes]:
    """The grants file's text, piece by piece, for `rows` sorted by path: what dumping a
    `GrantsFile` with `exclude_none` and an indent of 2 gives."""
    header = render(target.model_dump(exclude_none=True)).replace("\n", "\n  ")
    yield f'{{\n  "version": {GRANTS_VERSION},\n  "target": {header},\n  "files": '.encode()
    yield from object_chunks(_members(rows, target.site_id), depth=1)
    yield b"\n}\n"
