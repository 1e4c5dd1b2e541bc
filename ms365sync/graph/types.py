"""Pydantic models of the Graph JSON that ms365sync reads; camelCase aliases live only here.

Every model ignores unknown fields and annotations (Graph adds `@odata.*` freely) and
tolerates the variants seen in real captures as well as in the docs: no eTag on the root,
no name on deleted items, upper- or lower-case GUIDs, `sharedChanged` as `true` or `"True"`,
ids given as numbers, `inheritedFrom: {}` (see docs/graph-facts.md §2-§6, §10).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue, field_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "BatchResponse",
    "BatchSubResponse",
    "CollectionPage",
    "ContentTypeInfo",
    "Deleted",
    "DeltaPage",
    "Drive",
    "DriveItem",
    "ErrorDetail",
    "ErrorEnvelope",
    "File",
    "FileSystemInfo",
    "Folder",
    "GraphModel",
    "Hashes",
    "Identity",
    "IdentitySet",
    "InnerError",
    "ItemReference",
    "JsonObject",
    "ListDeltaPage",
    "ListItem",
    "Package",
    "Permission",
    "PermissionPage",
    "Quota",
    "Root",
    "SharePointIds",
    "Shared",
    "SharingInvitation",
    "SharingLink",
    "Site",
    "SiteCollection",
]

JsonObject = dict[str, JsonValue]


class GraphModel(BaseModel):
    """Base of every Graph wire model: camelCase aliases, unknown fields ignored, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        coerce_numbers_to_str=True,
    )


# --- identities -------------------------------------------------------------------------------


class Identity(GraphModel):
    """identity / sharePointIdentity / sharePointGroupIdentity: whichever fields were sent."""

    id: str | None = None
    display_name: str | None = None
    email: str | None = None
    login_name: str | None = None
    principal_id: str | None = None
    title: str | None = None


class IdentitySet(GraphModel):
    """identitySet / sharePointIdentitySet (the v2 form adds the SharePoint principals)."""

    user: Identity | None = None
    group: Identity | None = None
    application: Identity | None = None
    device: Identity | None = None
    site_user: Identity | None = None
    site_group: Identity | None = None
    share_point_group: Identity | None = None


# --- sites and drives -------------------------------------------------------------------------


class SharePointIds(GraphModel):
    """sharepointIds: the SharePoint REST identifiers, returned only when selected."""

    list_id: str | None = None
    list_item_id: str | None = None
    list_item_unique_id: str | None = None
    site_id: str | None = None
    site_url: str | None = None
    tenant_id: str | None = None
    web_id: str | None = None


class Root(GraphModel):
    """The `root: {}` facet: present only on the drive root or a site collection's root web."""


class SiteCollection(GraphModel):
    """siteCollection: present only on a site collection's root web."""

    hostname: str | None = None
    data_location_code: str | None = None
    root: Root | None = None


class Site(GraphModel):
    """A SharePoint site; `id` is the opaque composite "host,collection-guid,web-guid"."""

    id: str
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    web_url: str | None = None
    created_date_time: datetime | None = None
    last_modified_date_time: datetime | None = None
    root: Root | None = None
    site_collection: SiteCollection | None = None
    sharepoint_ids: SharePointIds | None = None


class Quota(GraphModel):
    """A drive's storage quota in bytes."""

    total: int | None = None
    used: int | None = None
    remaining: int | None = None
    deleted: int | None = None
    state: str | None = None


class Drive(GraphModel):
    """A document library; `name` is its renameable, localised title (there is no displayName)."""

    id: str
    name: str | None = None
    description: str | None = None
    drive_type: str | None = None
    web_url: str | None = None
    created_date_time: datetime | None = None
    last_modified_date_time: datetime | None = None
    created_by: IdentitySet | None = None
    last_modified_by: IdentitySet | None = None
    owner: IdentitySet | None = None
    quota: Quota | None = None
    sharepoint_ids: SharePointIds | None = None


# --- drive items ------------------------------------------------------------------------------


class ItemReference(GraphModel):
    """parentReference / inheritedFrom. `path` is absent in delta; `siteId` may be a bare GUID."""

    drive_id: str | None = None
    drive_type: str | None = None
    id: str | None = None
    name: str | None = None
    path: str | None = None
    site_id: str | None = None


class Hashes(GraphModel):
    """file.hashes; quickXorHash is the only hash SharePoint guarantees."""

    quick_xor_hash: str | None = None
    sha1_hash: str | None = None
    sha256_hash: str | None = None
    crc32_hash: str | None = None


class File(GraphModel):
    """The file facet."""

    mime_type: str | None = None
    hashes: Hashes | None = None


class Folder(GraphModel):
    """The folder facet; childCount counts immediate children."""

    child_count: int | None = None


class Package(GraphModel):
    """The package facet (e.g. a OneNote notebook): neither file nor folder."""

    type: str | None = None


class Malware(GraphModel):
    """The malware facet: present when SharePoint detected malware in the file."""

    description: str | None = None


class Deleted(GraphModel):
    """The deleted facet, `{}` or `{"state": "deleted"}`; only delta returns it."""

    state: str | None = None


class Shared(GraphModel):
    """The shared facet; an empty `{}` marks unique permissions under hierarchicalsharing."""

    scope: str | None = None
    owner: IdentitySet | None = None
    shared_by: IdentitySet | None = None
    shared_date_time: datetime | None = None


class FileSystemInfo(GraphModel):
    """Client-side timestamps as the uploading client reported them."""

    created_date_time: datetime | None = None
    last_modified_date_time: datetime | None = None


_TRUE_WORDS = frozenset({"true", "1", "yes"})


class DriveItem(GraphModel):
    """A file, folder, package or the root of a drive, as children, item or delta return it."""

    id: str
    name: str | None = None
    size: int | None = None
    e_tag: str | None = None
    c_tag: str | None = None
    created_date_time: datetime | None = None
    last_modified_date_time: datetime | None = None
    created_by: IdentitySet | None = None
    last_modified_by: IdentitySet | None = None
    parent_reference: ItemReference | None = None
    file: File | None = None
    folder: Folder | None = None
    package: Package | None = None
    malware: Malware | None = None
    root: Root | None = None
    deleted: Deleted | None = None
    shared: Shared | None = None
    file_system_info: FileSystemInfo | None = None
    sharepoint_ids: SharePointIds | None = None
    web_url: str | None = None
    # A signed, pre-authenticated URL valid about an hour (graph-facts §8.3): a credential, so it is
    # left out of the repr. Absent on folders, on deleted items and when not selected.
    download_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("@microsoft.graph.downloadUrl", "download_url"),
        repr=False,
    )
    # Documented as the string "True", observed as the JSON boolean true (graph-docs #15242);
    # the direct SharePoint API spells the annotation @oneDrive.sharedChanged.
    shared_changed: bool = Field(
        default=False,
        validation_alias=AliasChoices(
            "@microsoft.graph.sharedChanged", "@oneDrive.sharedChanged", "shared_changed"
        ),
    )

    @field_validator("shared_changed", mode="before")
    @classmethod
    def _lenient_bool(cls, value: Any) -> bool:
        if isinstance(value, str):
            return value.strip().lower() in _TRUE_WORDS
        return bool(value)

    @property
    def is_deleted(self) -> bool:
        """Whether delta reported this item as removed (the `deleted` facet, never `@removed`)."""
        return self.deleted is not None

    @property
    def is_root(self) -> bool:
        """Whether this is the root folder of its drive."""
        return self.root is not None

    @property
    def quick_xor_hash(self) -> str | None:
        """The quickXorHash of a file's content, or None when Graph did not report one."""
        if self.file is None or self.file.hashes is None:
            return None
        return self.file.hashes.quick_xor_hash


# --- permissions ------------------------------------------------------------------------------


class SharingLink(GraphModel):
    """permission.link: a sharing link's type, scope and URL."""

    type: str | None = None
    scope: str | None = None
    web_url: str | None = None
    web_html: str | None = None
    prevents_download: bool | None = None
    application: Identity | None = None


class SharingInvitation(GraphModel):
    """permission.invitation: who was invited and whether sign-in is required."""

    email: str | None = None
    sign_in_required: bool | None = None
    invited_by: IdentitySet | None = None


class Permission(GraphModel):
    """A permission entry on a drive item (principal grant, sharing link or invitation).

    Prefer `grantedToV2` over `grantedTo` and `grantedToIdentitiesV2` over
    `grantedToIdentities`; `inheritedFrom` says nothing reliable about inheritance on
    SharePoint (graph-facts §6.3, §6.6).
    """

    id: str
    roles: tuple[str, ...] = ()
    granted_to_v2: IdentitySet | None = None
    granted_to: IdentitySet | None = None
    granted_to_identities_v2: tuple[IdentitySet, ...] = ()
    granted_to_identities: tuple[IdentitySet, ...] = ()
    link: SharingLink | None = None
    inherited_from: ItemReference | None = None
    expiration_date_time: datetime | None = None
    share_id: str | None = None
    invitation: SharingInvitation | None = None
    has_password: bool | None = None

    @field_validator("granted_to_identities_v2", "granted_to_identities", "roles", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


# --- collections, delta, batch ----------------------------------------------------------------


class ContentTypeInfo(GraphModel):
    """A list item's content type: its id and name ("Document", "Folder", a custom one)."""

    id: str | None = None
    name: str | None = None


class ListItem(GraphModel):
    """A document library's list item (graph-facts §18): its id is the driveItem's
    `sharepointIds.listItemId`; `fields` holds the columns asked for, as the service shapes
    them (left as JSON; its `@odata.etag` is not a column)."""

    id: str
    e_tag: str | None = None
    created_by: IdentitySet | None = None
    last_modified_by: IdentitySet | None = None
    content_type: ContentTypeInfo | None = None
    fields: JsonObject | None = None
    deleted: Deleted | None = None

    @property
    def is_deleted(self) -> bool:
        """Whether the list's delta reported this item as removed."""
        return self.deleted is not None


class ListDeltaPage(GraphModel):
    """One page of a list's delta round (graph-facts §18.1): as `DeltaPage`, of list items."""

    value: tuple[ListItem, ...] = ()
    next_link: str | None = Field(default=None, alias="@odata.nextLink")
    delta_link: str | None = Field(default=None, alias="@odata.deltaLink")


class CollectionPage(GraphModel):
    """One page of any collection, items left as JSON; `next_link` is followed verbatim."""

    value: tuple[JsonObject, ...] = ()
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


class PermissionPage(GraphModel):
    """One page of an item's permissions."""

    value: tuple[Permission, ...] = ()
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


class DeltaPage(GraphModel):
    """One page of a drive delta round: exactly one of `next_link` / `delta_link` is set."""

    value: tuple[DriveItem, ...] = ()
    next_link: str | None = Field(default=None, alias="@odata.nextLink")
    delta_link: str | None = Field(default=None, alias="@odata.deltaLink")

    @property
    def is_last(self) -> bool:
        """Whether this page ends the round (it carries the deltaLink to store)."""
        return self.delta_link is not None


class BatchSubResponse(GraphModel):
    """One entry of a `$batch` response; its headers and body belong to that sub-request."""

    id: str
    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: JsonValue = None


class BatchResponse(GraphModel):
    """A `$batch` envelope; entries arrive in any order and are correlated by id."""

    responses: tuple[BatchSubResponse, ...] = ()


class InnerError(GraphModel):
    """innerError: may carry a more specific code and nest further (graph-facts §10.1)."""

    code: str | None = None
    message: str | None = None
    date: str | None = None  # the docs sample has the literal "date-time", so keep it a string
    request_id: str | None = Field(default=None, alias="request-id")
    client_request_id: str | None = Field(default=None, alias="client-request-id")
    inner_error: InnerError | None = Field(
        default=None, validation_alias=AliasChoices("innerError", "innererror", "inner_error")
    )


class ErrorDetail(GraphModel):
    """The `error` object of Graph's error envelope."""

    code: str | None = None
    message: str | None = None
    inner_error: InnerError | None = Field(
        default=None, validation_alias=AliasChoices("innerError", "innererror", "inner_error")
    )

    def code_chain(self) -> tuple[str, ...]:
        """The error code followed by every non-empty innerError code, outermost first."""
        codes = [self.code] if self.code else []
        inner = self.inner_error
        while inner is not None:
            if inner.code:
                codes.append(inner.code)
            inner = inner.inner_error
        return tuple(codes)

    def request_id(self) -> str | None:
        """The first request-id found walking down the innerError chain."""
        inner = self.inner_error
        while inner is not None:
            if inner.request_id:
                return inner.request_id
            inner = inner.inner_error
        return None


class ErrorEnvelope(GraphModel):
    """`{"error": {"code", "message", "innerError": {...}}}`."""

    error: ErrorDetail
