"""The id-keyed permissions file (`.permissions.grants.json`): its model and its text.

`.permissions.grants.json` holds every mirrored file's item id and grants keyed by stable
ids (Entra object ids, site-qualified site group ids, sharing link ids with their scope and
recipients), each marked own or inherited from the committed tree's permission source. It
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

GRANTS_VERSION: Literal[1] = 1
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SITE_LOCAL_KINDS = (PrincipalKind.USER, PrincipalKind.GROUP, PrincipalKind.APPLICATION)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PrincipalKindName = Literal["user", "group", "site_group", "link", "application", "unknown"]


class GrantEntry(_Model):
    """One grant of a file's permissions, keyed by a stable id (display names are not unique)."""

    kind: PrincipalKindName = Field(
        description="user, group (Entra group), site_group (SharePoint group), link (sharing "
        "link), application or unknown."
    )
    id: str = Field(
        description="Stable id: the Entra object id of a user, group or application; "
        "'<site id>/sitegroups/<n>' for a site group; the permission id for a sharing link; "
        "'<site id>/siteusers/<n>' for a principal known only by its site-local id."
    )
    display_name: str = Field(description="For people to read; never filter on it.")
    role: str = Field(description="Graph role: owner, write or read.")
    inherited: bool = Field(
        description="True when the file takes this grant from a folder or the library (its "
        "permission source is another item); false when the file is its own permission root."
    )
    email: str | None = None
    login_name: str | None = None
    link_type: str | None = Field(default=None, description="Links: view, edit ...")
    link_scope: str | None = Field(
        default=None, description="Links: anonymous, organization, users or existingAccess."
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

    version: Literal[1] = Field(description="The format's version.")
    target: TargetInfo
    files: dict[str, GrantsFileEntry] = Field(
        description="Library-relative path (as in .permissions.json and the change logs) -> "
        "the file's item id and grants."
    )


def stable_id(grant: Grant, site_id: str | None) -> str:
    """A grant's principal id, qualified by the site where it is only unique within one.

    Site group ids are small numbers per site (graph-facts §6.4); a user or group known only by
    its site principal id (no Entra object id) is qualified the same way.
    """
    if site_id is None:  # only before a run has resolved the site (never in an export)
        return grant.principal_id
    if grant.kind is PrincipalKind.SITE_GROUP:
        return f"{site_id}/sitegroups/{grant.principal_id.removeprefix('sitegroup:')}"
    if grant.kind in _SITE_LOCAL_KINDS and not _GUID.match(grant.principal_id):
        return f"{site_id}/siteusers/{grant.principal_id}"
    return grant.principal_id


def grant_entry(grant: Grant, *, site_id: str | None, inherited: bool) -> GrantEntry:
    """The exported form of one grant."""
    link = grant.kind is PrincipalKind.LINK
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
