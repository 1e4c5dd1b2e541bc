"""The scenario changes of a library's document metadata (graph-facts §18): typed columns,
the values files and folders hold in them, and files' sensitivity labels.

The runners are registered with the other changes' in ops.py; like them, each resolves what
it names under the key that named it before it mutates.
"""

from __future__ import annotations

from collections.abc import Callable

from ms365sync.emulator.scenarios.changespec import ColumnSpec, DefineColumn, SetColumns, SetLabel
from ms365sync.emulator.scenarios.filespec import FileMetadata, ItemAddress
from ms365sync.emulator.scenarios.target import Context, describe
from ms365sync.emulator.tenant.model import Drive

# ----------------------------------------------------------------------------- building blocks


def define_column(ctx: Context, drive: Drive, spec: ColumnSpec) -> str:
    with ctx.at("name"):
        ctx.target.define_column(
            drive,
            spec.name,
            spec.kind,
            display_name=spec.display_name,
            multiple=spec.multiple,
            choices=spec.choices,
            lookup_list=spec.lookup_list,
        )
    many = "multi-valued " if spec.multiple else ""
    return describe(drive, f"defined {many}{spec.kind} column {spec.name!r}")


def apply_file_metadata(
    ctx: Context, drive: Drive, address: ItemAddress, meta: FileMetadata
) -> None:
    """Give a just-created file the column values and label its entry names."""
    if meta.columns:
        with ctx.at("columns"):
            ctx.target.set_columns(drive, address.target, meta.columns)
    if meta.label is not None:
        with ctx.at("label"):
            label = meta.label
            ctx.target.set_label(
                drive, address.target, label.id, label.name, encrypted=label.encrypted
            )


# ----------------------------------------------------------------------------- scenario changes


def _define_column(change: DefineColumn, ctx: Context) -> str:
    return define_column(ctx, ctx.drive(change), change)


def _set_columns(change: SetColumns, ctx: Context) -> str:
    values: dict[str, object] = {**change.columns, **dict.fromkeys(change.clear)}
    drive = ctx.drive(change)
    ctx.item(drive, change)
    with ctx.at("columns"):
        ctx.target.set_columns(drive, change.target, values)
    return describe(drive, f"set {', '.join(values)} of {change.shown!r}")


def _set_label(change: SetLabel, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.item(drive, change)
    with ctx.at("id" if change.id is not None else change.address_key):
        ctx.target.set_label(
            drive, change.target, change.id, change.label, encrypted=change.encrypted
        )
    if change.clear:
        return describe(drive, f"removed the sensitivity label of {change.shown!r}")
    encrypted = ", encrypted" if change.encrypted else ""
    shown = change.label or change.id
    return describe(drive, f"labelled {change.shown!r} {shown}{encrypted}")


RUNNERS: tuple[Callable[..., str], ...] = (_define_column, _set_columns, _set_label)
"""The runners of this module's changes, each typed by its change class (ops.py registers them)."""
