"""driveItem, drive and site JSON in SharePoint's shape, and `$select` exactly as Graph applies it.

Field facts (graph-facts §2.6, §3): eTag `"{GUID},N"` and cTag `"c:{GUID},N"` with the quotes in the
value, no cTag on folders, no eTag observed on the root, `parentReference.path` with raw
spaces and never in delta, `siteId` as a bare GUID (2024 capture), quickXorHash the only
hash, Office documents' webUrl in the Doc.aspx form, `@odata.etag` added when `$select` is
used, `content.downloadUrl` selecting `@microsoft.graph.downloadUrl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ms365sync.emulator.msgraph.exceptions import InvalidRequest
from ms365sync.emulator.tenant.model import Drive, Hashes, Item, Site, Tombstone
from ms365sync.emulator.tenant.permissions import shared_facet
from ms365sync.emulator.tenant.tenant import Tenant

JSON = dict[str, Any]

ZERO_HASH = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
DOWNLOAD_URL = "@microsoft.graph.downloadUrl"
SHARED_CHANGED = "@microsoft.graph.sharedChanged"

DRIVE_ITEM_PROPERTIES = frozenset(
    {
        "audio", "bundle", "cTag", "content", "createdBy", "createdByUser", "createdDateTime",
        "deleted", "description", "eTag", "file", "fileSystemInfo", "folder", "id", "image",
        "lastModifiedBy", "lastModifiedByUser", "lastModifiedDateTime", "location", "malware",
        "name", "package", "parentReference", "photo", "publication", "remoteItem", "root",
        "searchResult", "shared", "sharepointIds", "size", "specialFolder", "video", "webDavUrl",
        "webUrl", "children", "listItem", "permissions", "thumbnails", "versions",
        "analytics", "activities", "retentionLabel", "subscriptions",
    }
)  # fmt: skip
DRIVE_PROPERTIES = frozenset(
    {
        "id", "name", "description", "driveType", "webUrl", "createdDateTime",
        "lastModifiedDateTime", "createdBy", "lastModifiedBy", "owner", "quota",
        "sharepointIds", "system", "root", "items", "list", "special", "following",
    }
)  # fmt: skip
SITE_PROPERTIES = frozenset(
    {
        "id", "name", "displayName", "description", "webUrl", "createdDateTime",
        "lastModifiedDateTime", "eTag", "root", "siteCollection", "sharepointIds", "drive",
        "drives", "lists", "sites", "isPersonalSite",
    }
)  # fmt: skip
_OFFICE = (".docx", ".xlsx", ".pptx", ".doc", ".xls", ".ppt")


def iso(epoch: float) -> str:
    """Graph's timestamp form: whole seconds, UTC, `Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def etag(item: Item | Tombstone, version: int | None = None) -> str:
    return f'"{{{str(item.guid).upper()}}},{version if version is not None else item.etag_v}"'


def ctag(item: Item) -> str:
    return f'"c:{{{str(item.guid).upper()}}},{item.ctag_v}"'


@dataclass
class ItemView:
    """How an item is being rendered: in delta or not, with which Prefer behaviour."""

    in_delta: bool = False
    hierarchical: bool = False
    shared_changed: bool = False
    download_url: Callable[[Item], str] | None = None
    sharepoint_ids: bool = False  # only rendered when `$select` names sharepointIds
    selected: set[str] | None = None  # the `$select` set, None when absent

    def wants(self, name: str) -> bool:
        """Whether a property is asked for: always without `$select`."""
        return self.selected is None or "*" in self.selected or name in self.selected


def parse_select(raw: str | None, allowed: frozenset[str], type_name: str) -> set[str] | None:
    """The `$select` property set, or None when absent; unknown names answer 400 like Graph."""
    if raw is None:
        return None
    chosen = {part.strip() for part in raw.split(",") if part.strip()}
    for name in chosen:
        base = name.split(".", 1)[0]
        if name != "*" and base not in allowed:
            raise InvalidRequest(
                f"Could not find a property named '{base}' on type 'microsoft.graph.{type_name}'.",
            )
    return chosen


def apply_select(payload: JSON, selected: set[str] | None) -> JSON:
    """Keep only the selected properties; annotations stay; `@odata.etag` is added."""
    if selected is None or "*" in selected:
        return payload
    result: JSON = {}
    for key, value in payload.items():
        keep = key in selected or key.startswith(("@odata.type", "@microsoft.graph.shared"))
        if key == DOWNLOAD_URL:
            keep = "content.downloadUrl" in selected
        if keep:
            result[key] = value
    if "eTag" in payload:
        result = {"@odata.etag": payload["eTag"], **result}
    return result


def user_identity(tenant: Tenant, user_id: str) -> JSON:
    user = tenant.users.get(user_id) or tenant.system_user
    return {"user": {"email": user.email, "id": user.id, "displayName": user.display_name}}


def item_web_url(drive: Drive, item: Item) -> str:
    if item.is_root:
        return drive.web_url
    if item.name.lower().endswith(_OFFICE):
        return (
            f"{drive.site.web_url}/_layouts/15/Doc.aspx?sourcedoc=%7B{str(item.guid).upper()}%7D"
            f"&file={quote(item.name)}&action=default&mobileredirect=true"
        )
    return f"{drive.web_url}/{quote(item.path)}"


def _parent_reference(drive: Drive, item: Item, *, in_delta: bool) -> JSON:
    ref: JSON = {"driveType": "documentLibrary", "driveId": drive.id}
    parent = item.parent
    if parent is not None:
        ref["id"] = parent.id
        if not in_delta:
            ref["name"] = drive.url_segment if parent.is_root else parent.name
            suffix = f"/{parent.path}" if parent.path else ""
            ref["path"] = f"/drives/{drive.id}/root:{suffix}"
    ref["siteId"] = str(drive.site.collection)
    return ref


def item_json(tenant: Tenant, drive: Drive, item: Item, view: ItemView) -> JSON:
    """A driveItem with every field SharePoint returns when nothing is selected."""
    data: JSON = {"@odata.type": "#microsoft.graph.driveItem"} if view.in_delta else {}
    if view.shared_changed and not item.is_folder:
        data[SHARED_CHANGED] = "True" if tenant.shared_changed_as_string else True
    if view.download_url is not None and not item.is_folder:
        data[DOWNLOAD_URL] = view.download_url(item)
    data["createdBy"] = user_identity(tenant, item.created_by)
    data["createdDateTime"] = iso(item.created)
    if not item.is_root:
        data["eTag"] = etag(item)
    data["id"] = item.id
    data["lastModifiedBy"] = user_identity(tenant, item.modified_by)
    data["lastModifiedDateTime"] = iso(item.modified)
    data["name"] = item.name
    data["parentReference"] = _parent_reference(drive, item, in_delta=view.in_delta)
    data["webUrl"] = item_web_url(drive, item)
    if item.is_folder:
        data["fileSystemInfo"] = {
            "createdDateTime": iso(item.created),
            "lastModifiedDateTime": iso(item.modified),
        }
        if item.package_type is not None:
            # graph-facts §17.4: a package has neither folder nor file facet, and no cTag.
            data["package"] = {"type": item.package_type}
        else:
            data["folder"] = {"childCount": len(item.children)}
    else:
        data["cTag"] = ctag(item)
        if view.wants("file"):  # hashing a large file costs seconds; skip it when unselected
            data["file"] = _file_facet(item)
        data["fileSystemInfo"] = {
            "createdDateTime": iso(item.created),
            "lastModifiedDateTime": iso(item.modified),
        }
        _quirk_facets(tenant, item, view, data)
    if item.is_root:
        data["root"] = {}
    shared = shared_facet(
        tenant, drive, item, hierarchical=view.hierarchical, in_delta=view.in_delta
    )
    if shared is not None:
        data["shared"] = shared
    if view.sharepoint_ids:
        data["sharepointIds"] = _item_sharepoint_ids(tenant, drive, item)
    data["size"] = item.size
    return data


def _file_facet(item: Item) -> JSON:
    """The file facet; `hashes` as the item is set to list it (graph-facts §17.2)."""
    assert item.content is not None
    facet: JSON = {}
    if item.hashes is Hashes.LISTED:
        facet["hashes"] = {"quickXorHash": item.content.quick_xor_hash}
    elif item.hashes is Hashes.EMPTY:
        facet["hashes"] = {}
    facet["mimeType"] = item.mime_type
    return facet


def _quirk_facets(tenant: Tenant, item: Item, view: ItemView, data: JSON) -> None:
    """The malware facet (graph-facts §17.5) when flagged; the publication facet (§17.6) when
    checked out, or when `$select` names it (then "published")."""
    if item.malware is not None:
        data["malware"] = {"description": item.malware}
    version = f"{item.ctag_v}.0"
    if item.checked_out_by is not None:
        data["publication"] = {
            "level": "checkout",
            "versionId": version,
            "checkedOutBy": user_identity(tenant, item.checked_out_by),
        }
    elif view.selected is not None and "publication" in view.selected:
        data["publication"] = {"level": "published", "versionId": version}


def _site_ids(tenant: Tenant, site: Site) -> JSON:
    return {
        "siteId": str(site.collection),
        "siteUrl": site.web_url,
        "tenantId": tenant.tenant_id,
        "webId": str(site.web),
    }


def _item_sharepoint_ids(tenant: Tenant, drive: Drive, item: Item) -> JSON:
    """listId, listItemId (not on the root folder), listItemUniqueId (the eTag GUID), site ids."""
    ids: JSON = {"listId": str(drive.list_guid)}
    if not item.is_root:
        ids["listItemId"] = str(item.list_item_id)
    ids["listItemUniqueId"] = str(item.guid)
    return {**ids, **_site_ids(tenant, drive.site)}


def tombstone_json(drive: Drive, stone: Tombstone) -> JSON:
    """A deleted item as SharePoint delta sends it: no name, no cTag, size 0, zero hash."""
    data: JSON = {
        "@odata.type": "#microsoft.graph.driveItem",
        "eTag": etag(stone, stone.etag_v),
        "id": stone.id,
        "lastModifiedDateTime": iso(stone.deleted),
        "parentReference": {
            "driveType": "documentLibrary",
            "driveId": drive.id,
            "id": stone.parent_id,
            "siteId": str(drive.site.collection),
        },
        "deleted": {"state": "deleted"},
        "size": 0,
    }
    if stone.is_folder:
        data["folder"] = {"childCount": 0}
    else:
        data["file"] = {"hashes": {"quickXorHash": ZERO_HASH}}
    return data


def drive_json(
    tenant: Tenant, drive: Drive, *, with_ids: bool = False, with_system: bool = False
) -> JSON:
    """A drive; `sharepointIds` and the `system` facet only when selected (graph-facts §2.4)."""
    owners = drive.site.groups
    owner_title = next((g.title for g in owners.values() if g.role.value == "owner"), "")
    data: JSON = {
        "createdDateTime": iso(drive.created),
        "description": drive.description,
        "id": drive.id,
        "lastModifiedDateTime": iso(drive.modified),
        "name": drive.title,
        "webUrl": drive.web_url,
        "driveType": "documentLibrary",
        "createdBy": {"user": {"displayName": "System Account"}},
        "lastModifiedBy": {"user": {"displayName": "System Account"}},
        "owner": {"group": {"displayName": owner_title}},
        "quota": {
            "deleted": 0,
            "remaining": 27_487_790_694_400 - drive.root.size,
            "state": "normal",
            "total": 27_487_790_694_400,
            "used": drive.root.size,
        },
    }
    if with_ids:
        data["sharepointIds"] = {"listId": str(drive.list_guid), **_site_ids(tenant, drive.site)}
    if with_system and drive.system:
        data["system"] = {}
    return data


def site_json(tenant: Tenant, site: Site, *, with_ids: bool = False) -> JSON:
    data: JSON = {
        "createdDateTime": iso(site.created),
        "description": site.description,
        "id": site.id,
        "lastModifiedDateTime": iso(site.modified),
        "name": site.name,
        "webUrl": site.web_url,
        "displayName": site.display_name,
        "root": {},
        "siteCollection": {"hostname": site.hostname},
    }
    if with_ids:
        data["sharepointIds"] = _site_ids(tenant, site)
    return data
