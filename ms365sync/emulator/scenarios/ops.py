"""The changes scenarios and tenant files make, run against a tenant.

A change first resolves what it names (site, library, item, principal, link), each under
the key that named it, and only then mutates, so an error reads "change[3].principal:
unknown user 'bob'" rather than just "unknown user". A scenario is checked whole by running
these same changes on a copy of the tenant first (scenario.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from ms365sync.emulator.errors import InputError
from ms365sync.emulator.login.directory import AppRegistration, Directory
from ms365sync.emulator.scenarios import metadataops, quirkops
from ms365sync.emulator.scenarios.changespec import (
    AddFile,
    AddFolder,
    AddGroup,
    AddGroupMember,
    AddGroupOwner,
    AddGuest,
    AddLink,
    AddLinkRecipient,
    AddSiteGroupMember,
    AddSiteUser,
    AddUser,
    BreakInheritance,
    Change,
    ConnectSite,
    Delete,
    DeleteLibrary,
    EditFile,
    ExpireDeltaTokens,
    Grant,
    ItemChange,
    Move,
    RemoveGroupMember,
    RemoveGroupOwner,
    RemoveLink,
    RemoveSiteGroupMember,
    Rename,
    RenameLibrary,
    RequestResync,
    RestoreInheritance,
    RestoreSiteAccess,
    Revoke,
    RevokeSiteAccess,
    RoleName,
    Touch,
)
from ms365sync.emulator.scenarios.filespec import FileSpec, ItemAddress
from ms365sync.emulator.scenarios.target import Context, describe
from ms365sync.emulator.tenant.content import BytesContent, Content
from ms365sync.emulator.tenant.model import Drive, GroupKind, Role, Site

_line = describe


# ----------------------------------------------------------------------------- building blocks
# Tenant files call these directly; scenario changes reach them through `run_change`.


def add_folder(ctx: Context, drive: Drive, address: ItemAddress) -> str:
    with ctx.at(address.address_key):
        ctx.target.add_folder(drive, address.target)
    return _line(drive, f"added folder {address.shown!r}")


def add_file(ctx: Context, drive: Drive, spec: FileSpec) -> str:
    with ctx.at(spec.content_kinds()[0]):
        content = spec.build_content(spec.shown)
    with ctx.at(spec.address_key):
        ctx.target.add_file(drive, spec.target, content, mime_type=spec.mime_type)
    quirkops.apply_file_quirks(ctx, drive, spec, spec)
    metadataops.apply_file_metadata(ctx, drive, spec, spec)
    return _line(drive, f"added file {spec.shown!r} ({content.size:,} bytes)")


def break_inheritance(ctx: Context, drive: Drive, address: ItemAddress, *, copy: bool) -> str:
    ctx.item(drive, address)
    with ctx.at(address.address_key):
        ctx.target.break_inheritance(drive, address.target, copy=copy)
    kept = "copying" if copy else "dropping"
    return _line(drive, f"broke inheritance on {address.shown!r} ({kept} inherited grants)")


def grant(ctx: Context, drive: Drive, address: ItemAddress, principal: str, role: RoleName) -> str:
    ctx.item(drive, address)
    with ctx.at("principal"):
        ctx.target.principal(drive.site, principal)
        ctx.target.grant(drive, address.target, principal, Role(role))
    return _line(drive, f"granted {role} on {address.shown!r} to {principal}")


def revoke(ctx: Context, drive: Drive, address: ItemAddress, principal: str) -> str:
    ctx.item(drive, address)
    with ctx.at("principal"):
        ctx.target.principal(drive.site, principal)
        ctx.target.revoke(drive, address.target, principal)
    return _line(drive, f"revoked the grant of {principal} on {address.shown!r}")


def add_link(
    ctx: Context,
    drive: Drive,
    address: ItemAddress,
    link: tuple[str, str],
    recipients: Sequence[str],
) -> str:
    ctx.item(drive, address)
    for index, person in enumerate(recipients):
        with ctx.at(f"recipients[{index}]"):
            ctx.target.user(person)
    link_type, scope = link
    with ctx.at(address.address_key):
        ctx.target.add_link(drive, address.target, link_type, scope, recipients)
    article = "an" if link_type == "edit" else "a"
    return _line(drive, f"added {article} {link_type}/{scope} sharing link to {address.shown!r}")


def add_group_member(ctx: Context, group_ref: str, member: str) -> str:
    with ctx.at("group"):
        group = ctx.target.group(group_ref)
    with ctx.at("member"):
        ctx.target.add_group_member(group, member)
    return f"{group.display_name}: added member {member}"


def add_group_owner(ctx: Context, group_ref: str, user: str) -> str:
    with ctx.at("group"):
        group = ctx.target.group(group_ref)
    with ctx.at("user"):
        ctx.target.add_group_owner(group, user)
    return f"{group.display_name}: added owner {user}"


def add_site_group_member(ctx: Context, site_ref: str | None, site_group: str, member: str) -> str:
    site = ctx.site(site_ref)
    with ctx.at("site_group"):
        group = ctx.target.site_group(site, site_group)
    with ctx.at("member"):
        ctx.target.add_site_group_member(site, site_group, member)
    return f"{site.name}: added {member} to {group.title}"


def connect_site(ctx: Context, site_ref: str | None, group_ref: str) -> str:
    site = ctx.site(site_ref)
    with ctx.at("group"):
        group = ctx.target.group(group_ref)
        ctx.target.connect_site(site, group)
    return f"{site.name}: connected to the Microsoft 365 group {group.display_name}"


def add_site_user(ctx: Context, site: Site, name: str, login: str, email: str | None = None) -> str:
    with ctx.at("login"):
        ctx.target.add_site_user(site, name, login, email)
    return f"{site.name}: added site user {name} ({login})"


# ----------------------------------------------------------------------------- scenario changes


def run_change(change: Change, ctx: Context) -> str:
    """Apply one change to `ctx.target`; one human line describing it.

    Raises ChangeError naming the key at fault.
    """
    return _run(change, ctx)


@functools.singledispatch
def _run(change: object, ctx: Context) -> str:
    raise TypeError(f"no runner for {type(change).__name__}")


for _runner in (*quirkops.RUNNERS, *metadataops.RUNNERS):
    _run.register(_runner)


@_run.register
def _add_file(change: AddFile, ctx: Context) -> str:
    return add_file(ctx, ctx.drive(change), change)


@_run.register
def _add_folder(change: AddFolder, ctx: Context) -> str:
    return add_folder(ctx, ctx.drive(change), change)


@_run.register
def _edit_file(change: EditFile, ctx: Context) -> str:
    drive = ctx.drive(change)
    item = ctx.item(drive, change)
    if change.append is not None:
        old = item.content.read_all() if item.content else b""
        content: Content = BytesContent(old + change.append.encode("utf-8"))
    else:
        with ctx.at(change.content_kinds()[0]):
            content = change.build_content(change.shown)
    with ctx.at(change.address_key):
        ctx.target.edit_file(drive, change.target, content)
    return _line(drive, f"edited {change.shown!r} (now {content.size:,} bytes)")


def _on_item(
    ctx: Context, change: ItemChange, key: str, mutate: Callable[[Drive], object], done: str
) -> str:
    """Resolve the change's library and item, then mutate, blaming `key` for what fails."""
    drive = ctx.drive(change)
    ctx.item(drive, change)
    with ctx.at(key):
        mutate(drive)
    return _line(drive, done)


@_run.register
def _touch(change: Touch, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.touch(drive, change.target)

    return _on_item(ctx, change, change.address_key, mutate, f"touched {change.shown!r}")


@_run.register
def _rename(change: Rename, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.rename(drive, change.target, change.name)

    done = f"renamed {change.shown!r} to {change.name!r}"
    return _on_item(ctx, change, "name", mutate, done)


@_run.register
def _move(change: Move, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.item(drive, change)
    to_key = "to" if change.to is not None else "to_segments"
    with ctx.at(to_key):
        ctx.target.item(drive, change.destination)
    with ctx.at("name" if change.name is not None else to_key):
        ctx.target.move(drive, change.target, change.destination, change.name)
    shown = change.to if change.to is not None else "/".join(change.to_segments or [])
    return _line(drive, f"moved {change.shown!r} to {shown or '/'!r}")


@_run.register
def _delete(change: Delete, ctx: Context) -> str:
    def mutate(drive: Drive) -> None:
        ctx.target.delete(drive, change.target)

    return _on_item(ctx, change, change.address_key, mutate, f"deleted {change.shown!r}")


@_run.register
def _grant(change: Grant, ctx: Context) -> str:
    return grant(ctx, ctx.drive(change), change, change.principal, change.role)


@_run.register
def _revoke(change: Revoke, ctx: Context) -> str:
    return revoke(ctx, ctx.drive(change), change, change.principal)


@_run.register
def _add_link(change: AddLink, ctx: Context) -> str:
    return add_link(ctx, ctx.drive(change), change, (change.type, change.scope), change.recipients)


@_run.register
def _remove_link(change: RemoveLink, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.remove_link(drive, change.target, change.link)

    done = f"removed sharing link {change.link} from {change.shown!r}"
    return _on_item(ctx, change, "link", mutate, done)


@_run.register
def _add_link_recipient(change: AddLinkRecipient, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.item(drive, change)
    with ctx.at("user"):
        ctx.target.user(change.user)
    with ctx.at("link"):
        ctx.target.add_link_recipient(drive, change.target, change.link, change.user)
    return _line(drive, f"added {change.user} to link {change.link} on {change.shown!r}")


@_run.register
def _break_inheritance(change: BreakInheritance, ctx: Context) -> str:
    return break_inheritance(ctx, ctx.drive(change), change, copy=change.copy_grants)


@_run.register
def _restore_inheritance(change: RestoreInheritance, ctx: Context) -> str:
    def mutate(drive: Drive) -> object:
        return ctx.target.restore_inheritance(drive, change.target)

    done = f"restored inheritance on {change.shown!r}"
    return _on_item(ctx, change, change.address_key, mutate, done)


@_run.register
def _rename_library(change: RenameLibrary, ctx: Context) -> str:
    drive = ctx.drive(change)
    with ctx.at("name"):
        ctx.target.rename_library(drive, change.name)
    return _line(drive, f"library renamed to {change.name!r}")


@_run.register
def _add_user(change: AddUser, ctx: Context) -> str:
    with ctx.at("email"):
        _refuse_known(ctx.target.user, change.email, "user")
        ctx.target.add_user(change.name, change.email, guest=change.guest)
    return f"added {'guest' if change.guest else 'user'} {change.name} <{change.email}>"


@_run.register
def _add_site_user(change: AddSiteUser, ctx: Context) -> str:
    return add_site_user(ctx, ctx.site(change.site), change.name, change.login, change.email)


@_run.register
def _add_group(change: AddGroup, ctx: Context) -> str:
    kind = GroupKind(change.kind)
    with ctx.at("email"):
        _refuse_known(ctx.target.group, change.email, "group")
        ctx.target.add_group(change.name, change.email, kind=kind)
    shown = "Microsoft 365 group" if kind is GroupKind.MICROSOFT_365 else "group"
    return f"added {shown} {change.name} <{change.email}>"


@_run.register
def _add_guest(change: AddGuest, ctx: Context) -> str:
    with ctx.at("email"):
        _refuse_known(ctx.target.user, change.email, "user")
        guest = ctx.target.add_guest(change.name, change.email)
    return f"invited guest {change.name} <{change.email}> as {guest.user_principal_name}"


@_run.register
def _add_group_member(change: AddGroupMember, ctx: Context) -> str:
    return add_group_member(ctx, change.group, change.member)


@_run.register
def _remove_group_member(change: RemoveGroupMember, ctx: Context) -> str:
    with ctx.at("group"):
        group = ctx.target.group(change.group)
    with ctx.at("member"):
        ctx.target.remove_group_member(group, change.member)
    return f"{group.display_name}: removed member {change.member}"


@_run.register
def _add_group_owner(change: AddGroupOwner, ctx: Context) -> str:
    return add_group_owner(ctx, change.group, change.user)


@_run.register
def _remove_group_owner(change: RemoveGroupOwner, ctx: Context) -> str:
    with ctx.at("group"):
        group = ctx.target.group(change.group)
    with ctx.at("user"):
        ctx.target.remove_group_owner(group, change.user)
    return f"{group.display_name}: removed owner {change.user}"


@_run.register
def _add_site_group_member(change: AddSiteGroupMember, ctx: Context) -> str:
    return add_site_group_member(ctx, change.site, change.site_group, change.member)


@_run.register
def _remove_site_group_member(change: RemoveSiteGroupMember, ctx: Context) -> str:
    site = ctx.site(change.site)
    with ctx.at("site_group"):
        group = ctx.target.site_group(site, change.site_group)
    with ctx.at("member"):
        ctx.target.remove_site_group_member(site, change.site_group, change.member)
    return f"{site.name}: removed {change.member} from {group.title}"


@_run.register
def _connect_site(change: ConnectSite, ctx: Context) -> str:
    return connect_site(ctx, change.site, change.group)


def _refuse_known(lookup: Callable[[str], object], email: str, kind: str) -> None:
    try:
        lookup(email)
    except InputError:
        return
    raise InputError(f"a {kind} with email {email!r} already exists")


@_run.register
def _expire(change: ExpireDeltaTokens, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.target.expire_delta_tokens(drive)
    return _line(drive, "expired every delta token issued so far")


@_run.register
def _resync(change: RequestResync, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.target.request_resync(drive)
    return _line(drive, "the next delta request answers 410 resyncRequired")


@_run.register
def _revoke_access(change: RevokeSiteAccess, ctx: Context) -> str:
    return _site_access(ctx, change.site, change.app, allowed=False)


@_run.register
def _restore_access(change: RestoreSiteAccess, ctx: Context) -> str:
    return _site_access(ctx, change.site, change.app, allowed=True)


def _site_access(ctx: Context, site_ref: str | None, app: str | None, *, allowed: bool) -> str:
    site = ctx.site(site_ref)
    with ctx.at("app"):
        apps = [_app(ctx.target.directory, app)] if app else ctx.target.directory.apps.values()
    names = []
    for registration in list(apps):
        ctx.target.set_site_access(registration.client_id, site, allowed=allowed)
        names.append(registration.display_name)
    verb = "restored" if allowed else "revoked"
    return f"{site.name}: {verb} access of {', '.join(names) or 'no app'}"


def _app(directory: Directory, ref: str) -> AppRegistration:
    lowered = ref.lower()
    for app in directory.apps.values():
        if lowered in (app.client_id.lower(), app.display_name.lower()):
            return app
    known = ", ".join(sorted(app.display_name for app in directory.apps.values())) or "none"
    raise InputError(f"unknown app {ref!r}; known: {known}")


@_run.register
def _delete_library(change: DeleteLibrary, ctx: Context) -> str:
    drive = ctx.drive(change)
    ctx.target.delete_library(drive)
    return _line(drive, "library deleted")
