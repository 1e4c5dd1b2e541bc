"""The typed schema of scenario changes (the files they create: filespec.py), shared by
scenario and tenant files."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from ms365sync.emulator.scenarios.filespec import (
    ColumnValue,
    ContentSpec,
    FileSpec,
    HashesName,
    ItemAddress,
    PackageSpec,
    ServedName,
)
from ms365sync.emulator.scenarios.inputfile import StrictModel

RoleName = Literal["owner", "write", "read"]
GroupKindName = Literal["security", "microsoft365"]
LinkType = Literal["view", "edit"]
LinkScope = Literal["anonymous", "organization", "users"]


# ----------------------------------------------------------------------------- changes


class SiteChange(StrictModel):
    site: str | None = None


class LibraryChange(SiteChange):
    library: str | None = None


class ItemChange(LibraryChange, ItemAddress):
    pass


class AddFile(LibraryChange, FileSpec):
    op: Literal["add_file"]


class EditFile(ItemChange, ContentSpec):
    op: Literal["edit_file"]
    append: str | None = None

    content_optional: ClassVar[bool] = True

    @model_validator(mode="after")
    def _content_or_append(self) -> EditFile:
        if (self.append is None) == (not self.content_kinds()):
            raise ValueError("give new content or append, not both and not neither")
        return self


class Touch(ItemChange):
    op: Literal["touch"]


ColumnKindName = Literal[
    "text", "choice", "number", "dateTime", "boolean", "personOrGroup", "lookup", "term"
]


class SetColumns(ItemChange):
    """Custom column values of a file or folder (graph-facts §18); an empty string or a
    value of `false` is a value, an absent column is cleared by listing it in `clear`. A
    value of a defined column must fit its kind (`DefineColumn`)."""

    op: Literal["set_columns"]
    columns: dict[str, ColumnValue] = Field(default_factory=dict)
    clear: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> SetColumns:
        if not self.columns and not self.clear:
            raise ValueError("give columns to set or names to clear")
        return self


class ColumnSpec(StrictModel):
    """A typed custom column of a library (graph-facts §18.4)."""

    name: str = Field(min_length=1)
    kind: ColumnKindName
    display_name: str | None = None
    multiple: bool = False
    choices: list[str] = Field(default_factory=list)
    lookup_list: str | None = None


class DefineColumn(LibraryChange, ColumnSpec):
    op: Literal["define_column"]


class SetLabel(ItemChange):
    """A file's sensitivity label (graph-facts §18.5): `id` (a GUID) with the `label` name
    and whether it is `encrypted`, or `clear = true` to remove it."""

    op: Literal["set_label"]
    id: str | None = None
    label: str | None = None
    encrypted: bool = False
    clear: bool = False

    @model_validator(mode="after")
    def _label_or_clear(self) -> SetLabel:
        if self.clear == (self.id is not None):
            raise ValueError("give a label id, or clear = true, not both and not neither")
        if self.clear and (self.label is not None or self.encrypted):
            raise ValueError("clear = true takes no label and no encrypted")
        return self


class AddFolder(ItemChange):
    op: Literal["add_folder"]


class Rename(ItemChange):
    op: Literal["rename"]
    name: str


class Move(ItemChange):
    op: Literal["move"]
    to: str | None = None
    to_segments: list[str] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> Move:
        if (self.to is None) == (self.to_segments is None):
            raise ValueError("give exactly one of to or to_segments (the destination folder)")
        return self

    @property
    def destination(self) -> str | list[str]:
        return self.to_segments if self.to_segments is not None else self.to or ""


class Delete(ItemChange):
    op: Literal["delete"]


class Grant(ItemChange):
    op: Literal["grant"]
    principal: str
    role: RoleName


class Revoke(ItemChange):
    op: Literal["revoke"]
    principal: str


class AddLink(ItemChange):
    op: Literal["add_link"]
    type: LinkType
    scope: LinkScope
    recipients: list[str] = Field(default_factory=list)


class RemoveLink(ItemChange):
    op: Literal["remove_link"]
    link: str


class AddLinkRecipient(ItemChange):
    op: Literal["add_link_recipient"]
    link: str
    user: str


class BreakInheritance(ItemChange):
    op: Literal["break_inheritance"]
    copy_grants: bool = Field(default=True, alias="copy")


class RestoreInheritance(ItemChange):
    op: Literal["restore_inheritance"]


class RenameLibrary(LibraryChange):
    op: Literal["rename_library"]
    name: str


class AddUser(StrictModel):
    op: Literal["add_user"]
    name: str
    email: str
    guest: bool = False  # an external user: its principal name holds #EXT#


class AddSiteUser(SiteChange):
    """An account the site knows without an Entra object (graph-facts §6.3)."""

    op: Literal["add_site_user"]
    name: str
    login: str
    email: str | None = None


class AddGroup(StrictModel):
    op: Literal["add_group"]
    name: str
    email: str
    kind: GroupKindName = "security"


class AddGuest(StrictModel):
    op: Literal["add_guest"]
    name: str
    email: str  # the guest's own address outside the tenant


class GroupMemberChange(StrictModel):
    group: str
    member: str  # user:REF or group:REF


class AddGroupMember(GroupMemberChange):
    op: Literal["add_group_member"]


class RemoveGroupMember(GroupMemberChange):
    op: Literal["remove_group_member"]


class GroupOwnerChange(StrictModel):
    group: str
    user: str


class AddGroupOwner(GroupOwnerChange):
    op: Literal["add_group_owner"]


class RemoveGroupOwner(GroupOwnerChange):
    op: Literal["remove_group_owner"]


class SiteGroupMemberChange(SiteChange):
    site_group: str  # Owners, Members, Visitors or the group's title
    member: str  # user:, group:, groupowners:, everyone or everyone_except_external


class AddSiteGroupMember(SiteGroupMemberChange):
    op: Literal["add_site_group_member"]


class RemoveSiteGroupMember(SiteGroupMemberChange):
    op: Literal["remove_site_group_member"]


class ConnectSite(SiteChange):
    op: Literal["connect_site"]
    group: str  # a Microsoft 365 group


class ExpireDeltaTokens(LibraryChange):
    op: Literal["expire_delta_tokens"]


class RequestResync(LibraryChange):
    op: Literal["request_resync"]


class RevokeSiteAccess(SiteChange):
    op: Literal["revoke_site_access"]
    app: str | None = None


class RestoreSiteAccess(SiteChange):
    op: Literal["restore_site_access"]
    app: str | None = None


class DeleteLibrary(LibraryChange):
    op: Literal["delete_library"]


class AddPackage(LibraryChange, PackageSpec):
    op: Literal["add_package"]


class FlagMalware(ItemChange):
    op: Literal["flag_malware"]
    description: str = Field(default="Malware detected", min_length=1)


class ClearMalware(ItemChange):
    op: Literal["clear_malware"]


class CheckOut(ItemChange):
    op: Literal["check_out"]
    user: str  # email or id


class CheckIn(ItemChange):
    op: Literal["check_in"]


class Lock(ItemChange):
    op: Literal["lock"]


class Unlock(ItemChange):
    op: Literal["unlock"]


class SetServed(ItemChange):
    op: Literal["set_served"]
    served: ServedName


class SetHashes(ItemChange):
    op: Literal["set_hashes"]
    hashes: HashesName


class SetVanishes(ItemChange):
    op: Literal["set_vanishes"]
    vanishes: bool = True


Change = Annotated[
    AddFile
    | EditFile
    | Touch
    | SetColumns
    | DefineColumn
    | SetLabel
    | AddFolder
    | Rename
    | Move
    | Delete
    | Grant
    | Revoke
    | AddLink
    | RemoveLink
    | AddLinkRecipient
    | BreakInheritance
    | RestoreInheritance
    | RenameLibrary
    | AddUser
    | AddSiteUser
    | AddGroup
    | AddGuest
    | AddGroupMember
    | RemoveGroupMember
    | AddGroupOwner
    | RemoveGroupOwner
    | AddSiteGroupMember
    | RemoveSiteGroupMember
    | ConnectSite
    | ExpireDeltaTokens
    | RequestResync
    | RevokeSiteAccess
    | RestoreSiteAccess
    | DeleteLibrary
    | AddPackage
    | FlagMalware
    | ClearMalware
    | CheckOut
    | CheckIn
    | Lock
    | Unlock
    | SetServed
    | SetHashes
    | SetVanishes,
    Field(discriminator="op"),
]
