"""The scenario changes and tenant-file keys that put troublesome items (graph-facts §17) into
a library: a file's quirks, OneNote packages, malware flags, check-outs, locks, the way
downloads and hashes are served, and files that vanish at their download.

The runners are registered with the other changes' in ops.py; like them, each resolves what
it names under the key that named it before it mutates.
"""

from __future__ import annotations

from collections.abc import Callable

from ms365sync.emulator.scenarios.changespec import (
    AddPackage,
    CheckIn,
    CheckOut,
    ClearMalware,
    FlagMalware,
    ItemChange,
    Lock,
    SetHashes,
    SetServed,
    SetVanishes,
    Unlock,
)
from ms365sync.emulator.scenarios.filespec import FileQuirks, ItemAddress, PackageSpec
from ms365sync.emulator.scenarios.target import Context, describe
from ms365sync.emulator.tenant.model import Drive

# ----------------------------------------------------------------------------- building blocks


def apply_file_quirks(ctx: Context, drive: Drive, address: ItemAddress, quirks: FileQuirks) -> None:
    """Give a just-created file the quirks its entry names (nothing for a well-behaved one)."""
    tenant, path = ctx.target, address.target
    if quirks.served != "as-listed":
        tenant.set_served(drive, path, quirks.served)
    if quirks.hashes != "listed":
        tenant.set_hashes(drive, path, quirks.hashes)
    if quirks.malware is not None:
        tenant.flag_malware(drive, path, quirks.malware)
    if quirks.checked_out_by is not None:
        with ctx.at("checked_out_by"):
            tenant.check_out(drive, path, quirks.checked_out_by)
    if quirks.locked:
        tenant.lock_file(drive, path)
    if quirks.vanishes:
        tenant.set_vanishes(drive, path, True)


def add_package(ctx: Context, drive: Drive, spec: PackageSpec) -> str:
    with ctx.at(spec.address_key):
        ctx.target.add_package(
            drive, spec.target, package_type=spec.type, sections=tuple(spec.sections)
        )
    count = len(spec.sections)
    return describe(drive, f"added {spec.type} package {spec.shown!r} ({count} sections)")


# ----------------------------------------------------------------------------- scenario changes


def _on_file(
    ctx: Context, change: ItemChange, key: str, mutate: Callable[[Drive], object]
) -> Drive:
    """Resolve the change's library and item, then mutate, blaming `key` for what fails."""
    drive = ctx.drive(change)
    ctx.item(drive, change)
    with ctx.at(key):
        mutate(drive)
    return drive


def _add_package(change: AddPackage, ctx: Context) -> str:
    return add_package(ctx, ctx.drive(change), change)


def _flag_malware(change: FlagMalware, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.flag_malware(drive, change.target, change.description)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"flagged {change.shown!r} as malware ({change.description})")


def _clear_malware(change: ClearMalware, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.clear_malware(drive, change.target)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"cleared the malware flag of {change.shown!r}")


def _check_out(change: CheckOut, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.item(drive, change)
    with ctx.at("user"):
        ctx.target.user(change.user)
    with ctx.at(change.address_key):
        ctx.target.check_out(drive, change.target, change.user)
    return describe(drive, f"checked {change.shown!r} out to {change.user}")


def _check_in(change: CheckIn, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.check_in(drive, change.target)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"checked {change.shown!r} in")


def _lock(change: Lock, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.lock_file(drive, change.target)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"locked {change.shown!r}")


def _unlock(change: Unlock, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.unlock_file(drive, change.target)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"unlocked {change.shown!r}")


def _set_served(change: SetServed, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.set_served(drive, change.target, change.served)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"downloads of {change.shown!r} are served {change.served}")


def _set_hashes(change: SetHashes, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.set_hashes(drive, change.target, change.hashes)

    drive = _on_file(ctx, change, change.address_key, mutate)
    return describe(drive, f"hashes of {change.shown!r} are listed {change.hashes}")


def _set_vanishes(change: SetVanishes, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.set_vanishes(drive, change.target, change.vanishes)

    drive = _on_file(ctx, change, change.address_key, mutate)
    when = "vanishes at" if change.vanishes else "no longer vanishes at"
    return describe(drive, f"{change.shown!r} {when} its first download")


RUNNERS: tuple[Callable[..., str], ...] = (
    _add_package,
    _flag_malware,
    _clear_malware,
    _check_out,
    _check_in,
    _lock,
    _unlock,
    _set_served,
    _set_hashes,
    _set_vanishes,
)
"""The runners of this module's changes, each typed by its change class (ops.py registers them)."""
