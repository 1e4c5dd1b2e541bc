"""Building the principals snapshot: every principal the grants name, and who is in each.

What is wanted is read from the grants files the targets published (`wanted`): users and
guests, Entra groups (their members) and Microsoft 365 groups' owners, site groups, and
the recipients of sharing links. Site groups are read first (SharePoint REST), since they
name more groups and people; then every group's transitive members and the owners asked
for (Graph), then the users not met as members. Whatever cannot be read is listed under
`unexpanded` with its reason and the rest goes on: an index must not take members from an
entry that could not be read, and the documents' sync never waits for this.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from ms365sync.errors import MS365SyncError
from ms365sync.outputs.principals import (
    PRINCIPALS_VERSION,
    GroupEntry,
    PrincipalsFile,
    SiteGroupEntry,
    UserEntry,
)
from ms365sync.principals.directory import Directory, DirectoryError, Person
from ms365sync.principals.sharepoint import SiteGroupMembers, SiteGroupReader

__all__ = ["Wanted", "build", "wanted"]

_WORKERS = 8


@dataclass
class Wanted:
    """The principals the grants name (ids as the grants file gives them)."""

    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    group_owners: set[str] = field(default_factory=set)
    site_groups: set[str] = field(default_factory=set)  # "<site id>/sitegroups/<n>"
    names: dict[str, str] = field(default_factory=dict)  # id -> display name seen


def wanted(grants_files: Iterable[Path]) -> Wanted:
    """What the grants files name; a missing file names nothing, an unreadable one is
    logged and skipped (its target failed; the next refresh reads it)."""
    found = Wanted()
    for path in grants_files:
        try:
            document = json.loads(path.read_bytes())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            logger.warning("{}: not read for the principals snapshot ({})", path, exc)
            continue
        for entry in (document.get("files") or {}).values():
            for grant in entry.get("grants") or ():
                _note(found, grant)
    return found


def _note(found: Wanted, grant: Mapping[str, object]) -> None:
    kind, principal = grant.get("kind"), grant.get("id")
    if not isinstance(principal, str):
        return
    name = grant.get("display_name")
    if isinstance(name, str):
        found.names.setdefault(principal, name)
    if kind in ("user", "guest"):
        found.users.add(principal)
    elif kind == "group":
        found.groups.add(principal)
    elif kind == "group_owners":
        found.group_owners.add(principal)
    elif kind == "site_group":
        found.site_groups.add(principal)
    elif kind == "link":
        recipients = grant.get("recipients")
        if isinstance(recipients, list):
            found.users.update(r for r in recipients if isinstance(r, str))


def build(
    tenant_id: str,
    want: Wanted,
    *,
    directory: Directory,
    site_groups: SiteGroupReader,
    site_url: Callable[[str], str],
    now: datetime.datetime,
) -> PrincipalsFile:
    """The snapshot of `want`. `site_url` gives a site's webUrl from its id (Graph).

    Raises:
        AuthError: no token could be had at all (everything else is per entry).
    """
    unexpanded: dict[str, str] = {}
    read_groups = _read_site_groups(want, site_groups, site_url, unexpanded)
    groups = set(want.groups) | {g for m in read_groups.values() for g in m.groups}
    owners = set(want.group_owners) | {g for m in read_groups.values() for g in m.group_owners}
    people: dict[str, UserEntry] = {}
    members = _each(sorted(groups), directory.members)
    owned = _each(sorted(owners), directory.owners)
    group_entries: dict[str, GroupEntry] = {}
    for group_id in sorted(groups | owners):
        listed = _ids(members.get(group_id), people, unexpanded, f"group:{group_id}")
        owner_ids = _ids(owned.get(group_id), people, unexpanded, f"group_owners:{group_id}")
        group_entries[group_id] = GroupEntry(
            display_name=want.names.get(group_id, group_id),
            members=listed if group_id in groups else [],
            owners=owner_ids if group_id in owners else None,
        )
    by_upn = _people_by_name(read_groups, directory, people)
    missing = sorted(u for u in want.users if u not in people)
    for key, found in directory.users(missing).items() if missing else ():
        if isinstance(found, Person):
            people[found.id] = found.entry
        else:
            unexpanded[f"user:{key}"] = found.reason
    site_entries = {
        key: _site_group_entry(key, read, by_upn, want.names)
        for key, read in sorted(read_groups.items())
    }
    for key in sorted(want.site_groups - set(read_groups)):
        site_entries[key] = SiteGroupEntry(
            display_name=want.names.get(key, key), users=[], groups=[], claims=[]
        )
    return PrincipalsFile(
        version=PRINCIPALS_VERSION,
        tenant_id=tenant_id,
        refreshed=now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        users=dict(sorted(people.items())),
        groups=group_entries,
        site_groups=site_entries,
        unexpanded=dict(sorted(unexpanded.items())),
    )


def _read_site_groups(
    want: Wanted,
    reader: SiteGroupReader,
    site_url: Callable[[str], str],
    unexpanded: dict[str, str],
) -> dict[str, SiteGroupMembers]:
    refused = reader.usable
    wanted_keys = sorted(want.site_groups)
    if refused is not None:
        unexpanded.update({f"site_group:{key}": refused for key in wanted_keys})
        return {}

    sites = sorted({key.rpartition("/sitegroups/")[0] for key in wanted_keys})
    urls = _each(sites, site_url)  # one lookup per site, before its groups are read

    def read(key: str) -> SiteGroupMembers:
        site_id, _, number = key.rpartition("/sitegroups/")
        url = urls[site_id]
        if isinstance(url, DirectoryError):
            raise url
        assert isinstance(url, str)
        return reader.members(url, int(number))

    found: dict[str, SiteGroupMembers] = {}
    for key, result in _each(wanted_keys, read).items():
        if isinstance(result, SiteGroupMembers):
            found[key] = result
        elif isinstance(result, DirectoryError):
            unexpanded[f"site_group:{key}"] = result.reason
    return found


def _each(keys: list[str], read: Callable[[str], object]) -> dict[str, object]:
    """key -> what `read` gave, or a DirectoryError with why it failed; a few at a time."""

    def one(key: str) -> object:
        try:
            return read(key)
        except DirectoryError as exc:
            return exc
        except (MS365SyncError, ValueError) as exc:
            return DirectoryError(str(exc))

    if not keys:
        return {}
    with futures.ThreadPoolExecutor(min(_WORKERS, len(keys)), "ms365sync-principals") as pool:
        return dict(zip(keys, pool.map(one, keys), strict=True))


def _ids(
    result: object, people: dict[str, UserEntry], unexpanded: dict[str, str], key: str
) -> list[str] | None:
    if result is None:
        return None
    if isinstance(result, DirectoryError):
        unexpanded[key] = result.reason
        return None
    assert isinstance(result, list)
    for person in result:
        people.setdefault(person.id, person.entry)
    return sorted({person.id for person in result})


def _people_by_name(
    read_groups: Mapping[str, SiteGroupMembers], directory: Directory, people: dict[str, UserEntry]
) -> dict[str, str]:
    """Principal name (lower case) -> Entra object id of the people in the site groups."""
    by_upn = {
        (entry.user_principal_name or "").lower(): user_id for user_id, entry in people.items()
    }
    names = sorted({p.lower() for m in read_groups.values() for p in m.people} - set(by_upn))
    for name, found in directory.users(names).items() if names else ():
        if isinstance(found, Person):
            people[found.id] = found.entry
            by_upn[name] = found.id
    return by_upn


def _site_group_entry(
    key: str, read: SiteGroupMembers, by_upn: Mapping[str, str], names: Mapping[str, str]
) -> SiteGroupEntry:
    users = sorted({by_upn[p.lower()] for p in read.people if p.lower() in by_upn})
    # A person no user can be found for (deleted since) stands for that one account.
    unknown = sorted(p for p in read.people if p.lower() not in by_upn)
    return SiteGroupEntry(
        display_name=names.get(key, key),
        users=users,
        groups=sorted(set(read.groups)),
        group_owners=sorted(set(read.group_owners)),
        claims=sorted(set(read.claims)),
        site_users=sorted(set(read.site_users) | {f"i:0#.f|membership|{p}" for p in unknown}),
    )
