"""A document's list item: the library's columns beside the driveItem (graph-facts §18).

Every file and folder below a library's root is also a list item whose integer id is the
driveItem's `sharepointIds.listItemId`. Its JSON carries the listItem's own properties
(eTag as the driveItem's, the same times and people) and, when `fields` is expanded, the
columns: the built-in ones rendered from the item, the custom ones as set on it
(`Tenant.set_columns`) in their columns' shapes, and the sensitivity label's hidden columns
when selected (columns.py; graph-facts §18).
"""

from __future__ import annotations

import re
from typing import Any

from ms365sync.emulator.msgraph import columns, render
from ms365sync.emulator.msgraph.exceptions import InvalidRequest
from ms365sync.emulator.tenant.model import Drive, Item
from ms365sync.emulator.tenant.tenant import Tenant

JSON = dict[str, Any]

# "fields" or "fields($select=A,B)" (also without the `$`), as the only expansion.
_FIELDS = re.compile(r"^\s*fields\s*(?:\(\s*\$?select\s*=\s*([^)]*)\))?\s*$", re.IGNORECASE)
_DOCUMENT_CT = "0x0101"  # the Document content type; a folder's is 0x0120
_FOLDER_CT = "0x0120"


def expanded_fields(expand: str | None) -> tuple[bool, set[str] | None]:
    """(whether `fields` is expanded, the columns selected within it or None for all) from a
    listItem's `$expand`. Raises InvalidRequest for another expansion."""
    if not expand:
        return False, None
    match = _FIELDS.match(expand)
    if match is None:
        problem = f"Parsing OData Select and Expand failed: {expand!r} is not expandable."
        raise InvalidRequest(problem)
    if match.group(1) is None:
        return True, None
    return True, {name.strip() for name in match.group(1).split(",") if name.strip()}


def list_json(drive: Drive) -> JSON:
    """The document library as a list (`GET /drives/{drive-id}/list`, DOC list.md): its id is
    the drive's `sharepointIds.listId`, its `name` the URL segment."""
    return {
        "createdDateTime": render.iso(drive.created),
        "description": drive.description,
        "eTag": f'"{drive.list_guid},1"',
        "id": str(drive.list_guid),
        "lastModifiedDateTime": render.iso(drive.modified),
        "name": drive.url_segment,
        "webUrl": drive.web_url,
        "displayName": drive.title,
        "createdBy": {"user": {"displayName": "System Account"}},
        "parentReference": {"siteId": drive.site.id},
        "list": {"contentTypesEnabled": False, "hidden": False, "template": "documentLibrary"},
    }


def expanded_list_item(expand: str | None) -> tuple[bool, bool, set[str] | None]:
    """From a driveItem's `$expand` ("children,listItem($expand=fields($select=A))"): whether
    `listItem` is expanded, whether its `fields` are, and the columns selected in them."""
    for part in _top_level(expand or ""):
        name, _, inner = part.partition("(")
        if name.strip().casefold() != "listitem":
            continue
        inner = inner.removesuffix(")").strip()
        if not inner:
            return True, False, None
        option, _, value = inner.partition("=")
        if option.strip().lstrip("$").casefold() != "expand":
            raise InvalidRequest(f"Parsing OData Select and Expand failed: {part!r}.")
        fields, selected = expanded_fields(value)
        return True, fields, selected
    return False, False, None


def _top_level(expand: str) -> list[str]:
    """`expand` split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(expand):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(expand[start:index].strip())
            start = index + 1
    parts.append(expand[start:].strip())
    return [part for part in parts if part]


def content_type(drive: Drive, item: Item) -> JSON:
    """The item's content type: Document for files, Folder for folders; ids per list."""
    base, name = (_FOLDER_CT, "Folder") if item.is_folder else (_DOCUMENT_CT, "Document")
    return {"id": f"{base}00{drive.list_guid.hex.upper()}", "name": name}


def list_item_json(
    tenant: Tenant,
    drive: Drive,
    item: Item,
    *,
    base_url: str,
    fields: bool,
    selected: set[str] | None = None,
    collection: bool = False,
) -> JSON:
    """`item`'s list item; with `fields`, its columns (only `selected` ones when given; as
    one of a `collection`, with the lookup limit of graph-facts §18.4)."""
    tag = render.etag(item)
    data: JSON = {
        "@odata.etag": tag,
        "createdDateTime": render.iso(item.created),
        "eTag": tag,
        "id": str(item.list_item_id),
        "lastModifiedDateTime": render.iso(item.modified),
        "webUrl": render.item_web_url(drive, item),
        "createdBy": render.user_identity(tenant, item.created_by),
        "lastModifiedBy": render.user_identity(tenant, item.modified_by),
        "parentReference": {"id": str(drive.list_guid), "siteId": drive.site.id},
        "contentType": content_type(drive, item),
    }
    if fields:
        context = (
            f"{base_url}/v1.0/$metadata#sites('{drive.site.id}')/lists('{drive.list_guid}')"
            f"/items('{item.list_item_id}')/fields/$entity"
        )
        data["fields@odata.context"] = context
        data["fields"] = columns_json(tenant, drive, item, selected, collection=collection)
    return data


def columns_json(
    tenant: Tenant, drive: Drive, item: Item, selected: set[str] | None, *, collection: bool
) -> JSON:
    """The `fields` of `item`: built-in columns, then the custom ones set on it in their
    columns' shapes (msgraph/columns.py); the hidden label columns only when `selected`
    names them (graph-facts §18.5). A `collection` leaves out lookup-type columns past the
    12th (graph-facts §18.4)."""
    fields: JSON = {
        "FileLeafRef": item.name,
        "ContentType": content_type(drive, item)["name"],
        "Created": render.iso(item.created),
        "Modified": render.iso(item.modified),
        "_UIVersionString": f"{item.etag_v}.0",
    }
    if item.is_folder:
        fields["ItemChildCount"] = str(sum(not c.is_folder for c in item.children.values()))
        fields["FolderChildCount"] = str(sum(c.is_folder for c in item.children.values()))
    else:
        fields["FileSizeDisplay"] = str(item.size)
    fields.update(columns.custom_fields(tenant, drive, item, collection=collection))
    if selected is None:
        return {"@odata.etag": render.etag(item), **fields}
    wanted = {name.casefold() for name in selected}
    keys = columns.lookup_key_names(drive)
    wanted |= {key for key, name in keys.items() if name.casefold() in wanted}
    fields.update(columns.label_fields(item))
    chosen = {k: v for k, v in fields.items() if k.casefold() in wanted}
    return {"@odata.etag": render.etag(item), **chosen}
