"""A library's document metadata (graph-facts §18): its typed columns, the values files and
folders hold in them, and files' sensitivity labels; each change of a value or a label is
stamped in the journal, so delta (the drive's and the list's) reports the item again."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ms365sync.emulator.tenant.base import MutationError, PathLike
from ms365sync.emulator.tenant.columns import (
    LABEL_ID_COLUMN,
    LABEL_NAME_COLUMN,
    MULTI_KINDS,
    RESERVED_COLUMNS,
    ColumnDef,
    ColumnKind,
    ColumnValueError,
    column_id,
    label_of,
    normalize,
)
from ms365sync.emulator.tenant.items import ItemMutations
from ms365sync.emulator.tenant.model import Drive, Item


class MetadataMutations(ItemMutations):
    """Defining a library's columns, setting their values, labelling files."""

    def define_column(
        self,
        drive: Drive,
        name: str,
        kind: ColumnKind | str,
        *,
        display_name: str | None = None,
        multiple: bool = False,
        choices: Iterable[str] = (),
        lookup_list: uuid.UUID | str | None = None,
    ) -> ColumnDef:
        """Add a typed custom column to a library (`kind`: text, choice, number, dateTime,
        boolean, personOrGroup, lookup or term; `multiple` for the last four and choice).
        Values already set under `name` must fit it. Not stamped: the library's schema
        changes, no item does. Raises MutationError naming what is wrong."""
        with self.lock:
            column = self._column(
                drive, name, kind, display_name=display_name, multiple=multiple,
                choices=tuple(choices),
            )  # fmt: skip
            if lookup_list is not None:
                column = _with_list(column, lookup_list)
            holders = [item for item in drive.items.values() if name in item.columns]
            fitted = [(item, self._fit(drive, column, item.columns[name])) for item in holders]
            for item, value in fitted:
                item.columns[name] = value
            drive.columns[name] = column
            return column

    def _column(
        self,
        drive: Drive,
        name: str,
        kind: ColumnKind | str,
        *,
        display_name: str | None,
        multiple: bool,
        choices: tuple[str, ...],
    ) -> ColumnDef:
        if not isinstance(name, str) or not name.strip():
            raise MutationError(f"a column needs a name, not {name!r}")
        if name.casefold() in RESERVED_COLUMNS:
            raise MutationError(f"{drive.title}: {name!r} is a built-in column")
        if any(name.casefold() == known.casefold() for known in drive.columns):
            raise MutationError(f"{drive.title}: column {name!r} is already defined")
        try:
            column_kind = ColumnKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in ColumnKind)
            problem = f"column {name!r}: kind must be one of {known}, not {kind!r}"
            raise MutationError(problem) from None
        if multiple and column_kind not in MULTI_KINDS:
            raise MutationError(f"column {name!r}: a {column_kind.value} column holds one value")
        if (column_kind is ColumnKind.CHOICE) != bool(choices):
            wanted = "needs its choices" if choices == () else "takes no choices"
            raise MutationError(f"column {name!r}: a {column_kind.value} column {wanted}")
        if any(not isinstance(choice, str) or not choice for choice in choices):
            raise MutationError(f"column {name!r}: choices must be non-empty strings")
        return ColumnDef(
            name,
            column_kind,
            column_id(drive.list_guid, name),
            display_name or name,
            multiple=multiple,
            choices=choices,
        )

    def _fit(self, drive: Drive, column: ColumnDef, value: Any) -> Any:
        try:
            return normalize(
                column, value, user_id=lambda ref: self.user(ref).id, terms=drive.terms
            )
        except ColumnValueError as wrong:
            raise MutationError(f"{drive.title}: {wrong}") from None

    def set_columns(self, drive: Drive, path: PathLike, values: Mapping[str, Any]) -> Item:
        """Set (or, with None, clear) custom column values of a file or folder: a
        metadata-only change, eTag changes, cTag does not, delta reports the item again
        (graph-facts §18). A defined column's value must fit its kind (see `define_column`)
        and is kept in its stored form; any other column keeps the value as given, in the
        shape Graph's `fields` gives it. Raises MutationError naming the column."""
        with self.lock:
            item = self._non_root(drive, path)
            changes: dict[str, Any] = {}
            for name, value in values.items():
                if not name or not isinstance(name, str):
                    raise MutationError(f"a column needs a name, not {name!r}")
                if name in (LABEL_ID_COLUMN, LABEL_NAME_COLUMN):
                    raise MutationError(f"{name} holds the sensitivity label; use set_label")
                column = drive.columns.get(name)
                if value is None or column is None:
                    changes[name] = copy.deepcopy(value)
                else:
                    changes[name] = self._fit(drive, column, value)
            for name, value in changes.items():
                if value is None:
                    item.columns.pop(name, None)
                else:
                    item.columns[name] = value
            self._touch(item)
            self._stamp(drive, item)
            return item

    def set_label(
        self,
        drive: Drive,
        path: PathLike,
        label_id: str | None,
        name: str | None = None,
        *,
        encrypted: bool = False,
    ) -> Item:
        """Apply a sensitivity label to a file (`label_id` a GUID, `name` what the Sensitivity
        column shows, `encrypted` whether it encrypts: downloads then answer 423), or remove
        it (`label_id` None). Stamped: the eTag changes; the cTag too when encryption is
        turned on or off (the content is rewritten; graph-facts §18.5 [INFER]). Setting the
        label a file has changes nothing. Raises MutationError."""
        try:
            label = label_of(label_id, name, encrypted)
        except ColumnValueError as wrong:
            raise MutationError(str(wrong)) from None
        with self.lock:
            item = self._file(drive, path)
            if label == item.label:
                return item
            was_encrypted = item.label is not None and item.label.encrypted
            if was_encrypted != (label is not None and label.encrypted):
                item.ctag_v += 1
            item.label = label
            self._touch(item)
            self._stamp(drive, item)
            return item


def _with_list(column: ColumnDef, lookup_list: uuid.UUID | str) -> ColumnDef:
    if column.kind is not ColumnKind.LOOKUP:
        raise MutationError(f"column {column.name!r}: only a lookup column reads from a list")
    try:
        source = lookup_list if isinstance(lookup_list, uuid.UUID) else uuid.UUID(lookup_list)
    except ValueError:
        raise MutationError(f"column {column.name!r}: lookup_list must be a GUID") from None
    return dataclasses.replace(column, lookup_list=source)
