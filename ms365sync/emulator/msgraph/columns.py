"""A library's custom columns as Graph gives them (graph-facts §18.4, §18.5): each value in
`fields` in the shape of its column's kind, a file's sensitivity label in the hidden
`_IpLabelId` and `_DisplayName` columns, and the columns' definitions
(`GET /sites/{site}/lists/{list}/columns`) as columnDefinition resources."""

from __future__ import annotations

import uuid
from typing import Any

from ms365sync.emulator.tenant.columns import (
    LABEL_ID_COLUMN,
    LABEL_NAME_COLUMN,
    ColumnDef,
    ColumnKind,
)
from ms365sync.emulator.tenant.model import Drive, Item
from ms365sync.emulator.tenant.tenant import Tenant

JSON = dict[str, Any]

# A list view, and so a read of a list's items as a collection, joins at most 12 lookup-type
# columns: the rest are left out of every item, even when selected (graph-facts §18.4).
LOOKUP_LIMIT = 12


def custom_fields(tenant: Tenant, drive: Drive, item: Item, *, collection: bool = False) -> JSON:
    """`item`'s custom column values under the keys `fields` uses; in a `collection` (the
    list's delta) without the lookup-type columns past the first LOOKUP_LIMIT the library
    defines."""
    skipped = _over_limit(drive) if collection else set()
    out: JSON = {}
    for name, value in item.columns.items():
        column = drive.columns.get(name)
        if column is None:
            out[name] = value  # an untyped column: the value as it was set
        elif name not in skipped:
            out.update(_field(tenant, column, value))
    return out


def label_fields(item: Item) -> JSON:
    """The hidden columns holding a file's sensitivity label (PnP PowerShell reads the id
    from `_IpLabelId`; the Sensitivity column's internal name is `_DisplayName`); empty for
    an unlabelled item, as Graph leaves out an empty column (graph-facts §18.5)."""
    if item.label is None:
        return {}
    out: JSON = {LABEL_ID_COLUMN: item.label.id}
    if item.label.name is not None:
        out[LABEL_NAME_COLUMN] = item.label.name
    return out


HIDDEN_FIELDS = frozenset({LABEL_ID_COLUMN.casefold(), LABEL_NAME_COLUMN.casefold()})


def lookup_key_names(drive: Drive) -> dict[str, str]:
    """`<Name>LookupId` (casefolded) -> Name for the single-valued lookup-type columns, so
    that `$select` may name either the column or the key it appears under [INFER]."""
    return {
        f"{column.name}LookupId".casefold(): column.name
        for column in drive.columns.values()
        if column.kind.is_lookup and not column.multiple
    }


def _over_limit(drive: Drive) -> set[str]:
    lookups = [column.name for column in drive.columns.values() if column.kind.is_lookup]
    return set(lookups[LOOKUP_LIMIT:])


def _field(tenant: Tenant, column: ColumnDef, value: Any) -> JSON:
    """One column's value as `fields` gives it: a single person or lookup as
    `<Name>LookupId` (the id as a string); several as objects with `LookupId` (a number),
    `LookupValue` and, for people, `Email` (corso #5108); anything else under its name."""
    if column.kind is ColumnKind.PERSON:
        if not column.multiple:
            return {f"{column.name}LookupId": str(tenant.site_principal_id(value))}
        return {column.name: [_person(tenant, user_id) for user_id in value]}
    if column.kind is ColumnKind.LOOKUP:
        if not column.multiple:
            return {f"{column.name}LookupId": str(value["LookupId"])}
        return {column.name: [dict(entry) for entry in value]}
    if isinstance(value, list):
        return {column.name: [dict(v) if isinstance(v, dict) else v for v in value]}
    return {column.name: dict(value) if isinstance(value, dict) else value}


def _person(tenant: Tenant, user_id: str) -> JSON:
    user = tenant.users.get(user_id)
    return {
        "LookupId": tenant.site_principal_id(user_id),
        "LookupValue": user.display_name if user else "",
        "Email": user.email if user else "",
    }


# ---------------------------------------------------------------------- definitions


# The built-in columns `fields` shows of every file or folder (listitems.columns_json), as
# the library lists them: read-only, in SharePoint's "Base Columns" group [INFER: a real
# library lists many more built-in columns, hidden ones among them].
BUILT_IN_COLUMNS = (
    ("FileLeafRef", "Name"),
    ("ContentType", "Content Type"),
    ("Created", "Created"),
    ("Modified", "Modified"),
    ("_UIVersionString", "Version"),
    ("FileSizeDisplay", "File Size"),
    ("ItemChildCount", "Item Child Count"),
    ("FolderChildCount", "Folder Child Count"),
)


def column_definitions(drive: Drive, *, with_hidden: bool) -> list[JSON]:
    """The library's columns as columnDefinition resources (DOC columndefinition.md): the
    built-in ones `fields` shows, the custom ones, a column set on items without a
    definition as a text column [INFER: the emulator was not told its type], then, when
    `with_hidden`, the hidden label columns (hidden columns are listed only when `$select`
    names `hidden`, DOC columndefinition.md)."""
    out = [_built_in(drive, name, title) for name, title in BUILT_IN_COLUMNS]
    out += [_definition(drive, column) for column in drive.columns.values()]
    undefined = sorted(
        {name for item in drive.items.values() for name in item.columns} - set(drive.columns)
    )
    out += [_undefined(drive, name) for name in undefined]
    if with_hidden:
        out += [
            _label_definition(drive, LABEL_ID_COLUMN, "Sensitivity label id"),
            _label_definition(drive, LABEL_NAME_COLUMN, "Sensitivity"),
        ]
    return out


def _definition(drive: Drive, column: ColumnDef) -> JSON:
    data: JSON = {
        "columnGroup": "Custom Columns",
        "description": "",
        "displayName": column.display_name,
        "enforceUniqueValues": False,
        "hidden": False,
        "id": str(column.id),
        "indexed": False,
        "name": column.name,
        "readOnly": False,
        "required": False,
    }
    facet = _facet(drive, column)
    if facet is not None:
        data[column.kind.value] = facet
    return data


_TEXT_FACET: JSON = {
    "allowMultipleLines": False,
    "appendChangesToExistingText": False,
    "linesForEditing": 0,
    "maxLength": 255,
}
_FIXED_FACETS: dict[ColumnKind, JSON] = {
    ColumnKind.TEXT: _TEXT_FACET,
    ColumnKind.NUMBER: {"decimalPlaces": "automatic", "displayAs": "number"},
    ColumnKind.DATE_TIME: {"displayAs": "default", "format": "dateTime"},
    ColumnKind.BOOLEAN: {},
}


def _facet(drive: Drive, column: ColumnDef) -> JSON | None:
    """The type facet of a columnDefinition (DOC choicecolumn.md, personorgroupcolumn.md,
    lookupcolumn.md ...); None for managed metadata, which the service describes with no
    facet (graph-docs #20202, 2023; corso #5084, 2024)."""
    kind = column.kind
    if kind in _FIXED_FACETS:
        return dict(_FIXED_FACETS[kind])
    if kind is ColumnKind.CHOICE:  # a multi-choice column says so nowhere (corso #5108)
        choices = list(column.choices)
        return {"allowTextEntry": False, "choices": choices, "displayAs": "dropDownMenu"}
    if kind is ColumnKind.PERSON:
        return {
            "allowMultipleSelection": column.multiple,
            "chooseFromType": "peopleOnly",
            "displayAs": "nameWithPresence",
        }
    if kind is ColumnKind.LOOKUP:
        source = column.lookup_list or uuid.uuid5(drive.list_guid, f"lookup:{column.name}")
        return {
            "allowMultipleValues": column.multiple,
            "allowUnlimitedLength": False,
            "columnName": "Title",
            "listId": str(source),
        }
    return None


def _built_in(drive: Drive, name: str, display_name: str) -> JSON:
    return {
        **_undefined(drive, name),
        "columnGroup": "Base Columns",
        "displayName": display_name,
        "readOnly": True,
    }


def _undefined(drive: Drive, name: str) -> JSON:
    return {
        "columnGroup": "Custom Columns",
        "description": "",
        "displayName": name,
        "enforceUniqueValues": False,
        "hidden": False,
        "id": str(uuid.uuid5(drive.list_guid, name)),
        "indexed": False,
        "name": name,
        "readOnly": False,
        "required": False,
        "text": dict(_TEXT_FACET),
    }


def _label_definition(drive: Drive, name: str, display_name: str) -> JSON:
    return {
        "columnGroup": "_Hidden",
        "description": "",
        "displayName": display_name,
        "enforceUniqueValues": False,
        "hidden": True,
        "id": str(uuid.uuid5(drive.list_guid, name)),
        "indexed": False,
        "name": name,
        "readOnly": True,
        "required": False,
        "text": dict(_TEXT_FACET),
    }
