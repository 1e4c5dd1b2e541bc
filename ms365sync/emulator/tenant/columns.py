"""A library's typed columns and a file's sensitivity label (graph-facts §18): the column
definitions, and the check that turns a value given for a column into the form the tenant
keeps (which msgraph/columns.py renders in the shape Graph's `fields` gives it).

Stored forms, per kind: text and choice a string, a multi-choice a list of strings, a number
an int or float, a date an ISO 8601 UTC string ending in "Z", a boolean a bool, a person the
user's object id (a list of them when multiple), a lookup `{"LookupId": int, "LookupValue":
str}` (a list when multiple), a managed metadata term `{"Label": str, "TermGuid": str,
"WssId": int}` (a list when multiple).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class ColumnKind(str, enum.Enum):
    """A column's type, named after the columnDefinition facet Graph describes it with
    (managed metadata: `term`, which the real service no longer reports, §18.4)."""

    TEXT = "text"
    CHOICE = "choice"
    NUMBER = "number"
    DATE_TIME = "dateTime"
    BOOLEAN = "boolean"
    PERSON = "personOrGroup"
    LOOKUP = "lookup"
    TERM = "term"

    @property
    def is_lookup(self) -> bool:
        """Person and lookup columns join another list: SharePoint's list view threshold
        counts them (graph-facts §18.4)."""
        return self in (ColumnKind.PERSON, ColumnKind.LOOKUP)


MULTI_KINDS = frozenset({ColumnKind.CHOICE, ColumnKind.PERSON, ColumnKind.LOOKUP, ColumnKind.TERM})

# The columns every document library has (msgraph/listitems.py renders them), and the two
# hidden columns that carry a file's sensitivity label: no custom column may take their names.
LABEL_ID_COLUMN = "_IpLabelId"
LABEL_NAME_COLUMN = "_DisplayName"
RESERVED_COLUMNS = frozenset(
    name.casefold()
    for name in (
        "FileLeafRef",
        "ContentType",
        "Created",
        "Modified",
        "_UIVersionString",
        "FileSizeDisplay",
        "ItemChildCount",
        "FolderChildCount",
        "Title",
        LABEL_ID_COLUMN,
        LABEL_NAME_COLUMN,
    )
)


@dataclass(frozen=True)
class ColumnDef:
    """One custom column of a library: its internal name (the key in `fields`), kind, the
    name users see, whether it holds several values, and the choices of a choice column."""

    name: str
    kind: ColumnKind
    id: uuid.UUID
    display_name: str
    multiple: bool = False
    choices: tuple[str, ...] = ()
    lookup_list: uuid.UUID | None = None  # the list a lookup column reads from

    @property
    def shape(self) -> str:
        """What a value of this column must be, for error messages."""
        one = _SHAPES.get(self.kind) or f"one of {', '.join(repr(c) for c in self.choices)}"
        return f"a list of {one}" if self.multiple else one


_SHAPES = {
    ColumnKind.TEXT: "a string",
    ColumnKind.NUMBER: "a number",
    ColumnKind.DATE_TIME: "an ISO 8601 date and time string",
    ColumnKind.BOOLEAN: "true or false",
    ColumnKind.PERSON: "a user (email or object id)",
    ColumnKind.LOOKUP: 'a lookup id or {"LookupId": N, "LookupValue": "..."}',
    ColumnKind.TERM: 'a term label or {"Label": "...", "TermGuid": "GUID", "WssId": N}',
}


@dataclass(frozen=True)
class SensitivityLabel:
    """A file's sensitivity label: its id (a GUID), its name, and whether it encrypts."""

    id: str
    name: str | None = None
    encrypted: bool = False


class ColumnValueError(ValueError):
    """A value that does not fit its column; the tenant reports it as a MutationError."""


@dataclass
class TermIds:
    """Managed metadata terms numbered as a site's hidden taxonomy list numbers them (WssId;
    kept per library here, a simplification)."""

    ids: dict[str, int] = field(default_factory=dict)

    def wss_id(self, term_guid: str) -> int:
        return self.ids.setdefault(term_guid, len(self.ids) + 1)


def normalize(
    column: ColumnDef, value: Any, *, user_id: Callable[[str], str], terms: TermIds
) -> Any:
    """`value` in the form the tenant keeps for `column`; `user_id` resolves a user reference
    (raising for an unknown one). Raises ColumnValueError naming the column and the shape
    it expects."""
    if column.multiple:
        if not isinstance(value, list | tuple):
            raise _wrong(column, value)
        return [_one(column, element, user_id, terms) for element in value]
    return _one(column, value, user_id, terms)


def _one(column: ColumnDef, value: Any, user_id: Callable[[str], str], terms: TermIds) -> Any:
    kind = column.kind
    if kind is ColumnKind.DATE_TIME and isinstance(value, str | datetime):
        return _utc(column, value)
    if kind is ColumnKind.PERSON and isinstance(value, str):
        return user_id(value)
    if kind is ColumnKind.LOOKUP:
        return _lookup(column, value)
    if kind is ColumnKind.TERM:
        return _term(column, value, terms)
    accepts = _ACCEPTS.get(kind)
    if accepts is None or not accepts(column, value):
        raise _wrong(column, value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ACCEPTS: dict[ColumnKind, Callable[[ColumnDef, Any], bool]] = {
    ColumnKind.TEXT: lambda column, value: isinstance(value, str),
    ColumnKind.CHOICE: lambda column, value: isinstance(value, str) and value in column.choices,
    ColumnKind.NUMBER: lambda column, value: _is_number(value),
    ColumnKind.BOOLEAN: lambda column, value: isinstance(value, bool),
}


def _utc(column: ColumnDef, value: str | datetime) -> str:
    try:
        # Python 3.10's fromisoformat takes no "Z"
        text = value[:-1] + "+00:00" if isinstance(value, str) and value.endswith("Z") else value
        moment = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    except ValueError:
        raise _wrong(column, value) from None
    if moment.tzinfo is None:  # a date or time without a zone is taken as UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lookup(column: ColumnDef, value: Any) -> dict[str, Any]:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return {"LookupId": value, "LookupValue": ""}
    if isinstance(value, dict) and set(value) <= {"LookupId", "LookupValue"}:
        number, text = value.get("LookupId"), value.get("LookupValue", "")
        valid_id = isinstance(number, int) and not isinstance(number, bool) and number > 0
        if valid_id and isinstance(text, str):
            return {"LookupId": number, "LookupValue": text}
    raise _wrong(column, value)


def _term(column: ColumnDef, value: Any, terms: TermIds) -> dict[str, Any]:
    if isinstance(value, str) and value:
        value = {"Label": value, "TermGuid": str(term_guid(value))}
    if isinstance(value, dict) and set(value) <= {"Label", "TermGuid", "WssId"}:
        label, guid = value.get("Label"), value.get("TermGuid")
        if isinstance(label, str) and label and isinstance(guid, str) and _is_guid(guid):
            wss = value["WssId"] if "WssId" in value else terms.wss_id(guid.lower())
            if isinstance(wss, int) and not isinstance(wss, bool):
                return {"Label": label, "TermGuid": guid.lower(), "WssId": wss}
    raise _wrong(column, value)


def term_guid(label: str) -> uuid.UUID:
    """A reproducible term id for a label given without one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"term:{label}")


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def label_of(label_id: str | None, name: str | None, encrypted: bool) -> SensitivityLabel | None:
    """The label `set_label` was given (None clears); raises ColumnValueError for an id that
    is not a GUID or a name that is not text."""
    if label_id is None:
        return None
    if not isinstance(label_id, str) or not _is_guid(label_id):
        raise ColumnValueError(f"a sensitivity label id must be a GUID, not {label_id!r}")
    if name is not None and (not isinstance(name, str) or not name):
        raise ColumnValueError(f"a sensitivity label name must be a non-empty string, not {name!r}")
    return SensitivityLabel(str(uuid.UUID(label_id)), name, bool(encrypted))


def column_id(list_guid: uuid.UUID, name: str) -> uuid.UUID:
    """A column's id, reproducible from its library and name."""
    return uuid.uuid5(list_guid, name)


def _wrong(column: ColumnDef, value: Any) -> ColumnValueError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    kind = column.kind.value
    return ColumnValueError(f"column {column.name!r} ({kind}) expects {column.shape}, not {shown}")
