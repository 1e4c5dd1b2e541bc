"""Synthetic tenants of any size for benchmarks and load tests, deterministic from a seed.

File bytes are `GeneratedContent`, produced only when read, so a 100,000-file tenant costs
its metadata (about a kilobyte per file) and builds in a few seconds. Memberships (group
members and owners, guests, group-connected sites, site-group members) are drawn from a
random stream of their own, so the membership knobs leave files and sharing as they were.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ms365sync.emulator.scenarios.synthetic_quirks import Quirks, add_quirks
from ms365sync.emulator.tenant.columns import SensitivityLabel
from ms365sync.emulator.tenant.content import GeneratedContent, mime_type_for
from ms365sync.emulator.tenant.model import Drive, Group, GroupKind, Role
from ms365sync.emulator.tenant.tenant import Tenant

SizeDistribution = Literal["log-uniform", "uniform", "fixed"]

_WORDS = (
    "agenda", "budget", "contract", "design", "forecast", "invoice", "minutes", "notes",
    "plan", "policy", "proposal", "report", "review", "roadmap", "schedule", "summary",
)  # fmt: skip
_TEXT_TYPES = (".txt", ".md", ".csv", ".json", ".log")
_BINARY_TYPES = (".bin", ".dat")
_GUEST_DOMAIN = "partner.example"


@dataclass(frozen=True)
class _Shape:
    """The validated knobs of one synthetic build."""

    folders: int | None
    depth: int
    size_min: int
    size_max: int
    distribution: SizeDistribution
    unique_share: float


@dataclass(frozen=True)
class Membership:
    """The directory of a synthetic tenant: `users` members and `guests` guests; `groups`
    Entra groups of `group_size_min`..`group_size_max` members each (drawn uniformly, at most
    the number of people); `microsoft365_share` of them Microsoft 365 groups (users only, one
    or two owners, each connected to a /teams/ site while any is left), and
    `nested_share` of the security groups holding one or two earlier security groups."""

    users: int = 8
    guests: int = 0
    groups: int = 3
    group_size_min: int = 0
    group_size_max: int = 0
    microsoft365_share: float = 0.0
    nested_share: float = 0.0

    def check(self) -> None:
        """Raises ValueError for impossible knobs."""
        if self.users < 1 or self.guests < 0 or self.groups < 0:
            raise ValueError("need users >= 1, guests >= 0 and groups >= 0")
        if not 0 <= self.group_size_min <= self.group_size_max:
            raise ValueError(
                "need 0 <= group_size_min <= group_size_max, got "
                f"{self.group_size_min}, {self.group_size_max}"
            )
        for name in ("microsoft365_share", "nested_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")


def synthetic_tenant(
    files: int,
    *,
    folders: int | None = None,
    depth: int = 3,
    sites: int = 1,
    libraries: int = 1,
    size_min: int = 1024,
    size_max: int = 256 * 1024,
    size_distribution: SizeDistribution = "log-uniform",
    unique_share: float = 0.01,
    seed: int = 0,
    clock: Callable[[], float] = time.time,
    membership: Membership | None = None,
    irm_share: float = 0.0,
    unstable_share: float = 0.0,
    missing_hash_share: float = 0.0,
    empty_hash_share: float = 0.0,
    malware_share: float = 0.0,
    locked_share: float = 0.0,
    checked_out_share: float = 0.0,
    zero_byte_share: float = 0.0,
    packages: int = 0,
    columns: Mapping[str, Sequence[Any]] | None = None,
    labels: Mapping[str, float] | None = None,
    encrypted_labels: Collection[str] = (),
) -> Tenant:
    """A tenant with `files` files spread evenly over `sites` x `libraries` libraries.

    Each library gets `folders` folders (default: one per 50 files) nested at most `depth`
    deep; files land in a random folder or the root. Sizes are drawn between `size_min` and
    `size_max` ("fixed": all `size_min`). About `unique_share` of the items get unique
    permissions: a user grant, a sharing link, a group-only folder or a Visitors removal.
    `membership` shapes the directory (default: 8 users and 3 empty security groups; see
    `Membership`); every site's groups get members. The app "ms365sync-synthetic"
    (Sites.FullControl.All, GroupMember.Read.All, User.Read.All) is registered.

    The troublesome items of graph-facts §17 (see `Quirks`): `irm_share` of the files are
    served rewritten, `unstable_share` served differently on each download,
    `missing_hash_share` / `empty_hash_share` listed without hashes or with `hashes: {}`,
    `malware_share` flagged as malware, `locked_share` locked, `checked_out_share` checked
    out to a user, `zero_byte_share` emptied; round(share x files) files each, no file
    twice; `packages` OneNote notebooks (two sections each) are added at library roots.
    `item_quirks(item)` names what an item got. They are drawn from a stream of their own
    after everything else, so at 0 the tenant is unchanged.

    `columns` gives every file a value of each custom column (graph-facts §18), drawn from
    the values listed for it (e.g. `{"Department": ["Finance", "Sales"], "Reviewed":
    [True, False]}`), from a stream of its own: without it the tenant is unchanged.

    `labels` gives round(share x files) files each named sensitivity label (graph-facts
    §18.5; e.g. `{"General": 0.5, "Confidential": 0.1}`, no file two), with the id
    `synthetic_label_id(name)`; the labels named in `encrypted_labels` encrypt, so those
    files' downloads answer 423. Drawn from a stream of their own after everything else:
    without them the tenant is unchanged. Raises ValueError for impossible arguments.
    """
    shape = _Shape(folders, depth, size_min, size_max, size_distribution, unique_share)
    people = membership or Membership()
    quirks = Quirks(
        irm_share,
        unstable_share,
        missing_hash_share,
        empty_hash_share,
        malware_share,
        locked_share,
        checked_out_share,
        zero_byte_share,
        packages,
    )
    _check(files, sites, libraries, shape)
    _check_labels(labels or {}, encrypted_labels)
    empty = [name for name, values in (columns or {}).items() if not values]
    if empty:
        raise ValueError(f"columns need at least one value each; none for {empty[0]!r}")
    people.check()
    quirks.check()
    rng = random.Random(seed)
    # Generated names are valid and unique by construction; SharePoint's name rules include
    # a case-insensitive scan of the siblings, quadratic for large folders, so they are
    # switched off while building.
    tenant = Tenant(seed=seed, clock=clock, strict_names=False)
    tenant.add_app("ms365sync-synthetic", roles=_APP_ROLES)
    draws = random.Random(f"{seed}/membership")
    # The first users and groups exist before the sites, as they always have; the rest come
    # after the files, so no membership knob moves a site's, drive's or item's id.
    _add_people(tenant, people, draws, early=True)
    drives = _add_libraries(tenant, sites, libraries)
    for index, drive in enumerate(drives):
        count = files // len(drives) + (1 if index < files % len(drives) else 0)
        _fill(tenant, drive, count, shape, rng)
    _add_people(tenant, people, draws, early=False)
    _add_memberships(tenant, people, draws)
    tenant.strict_names = True
    add_quirks(tenant, drives, quirks, seed)
    _add_columns(drives, columns or {}, seed)
    _add_labels(drives, labels or {}, frozenset(encrypted_labels), seed)
    return tenant


def _add_columns(drives: Sequence[Drive], columns: Mapping[str, Sequence[Any]], seed: int) -> None:
    """Each file's value of each column, drawn from `columns[name]`."""
    draws = random.Random(f"{seed}/columns")
    for drive in drives:
        for item in drive.root.walk():
            if item.is_folder:
                continue
            for name, values in columns.items():
                item.columns[name] = copy.deepcopy(draws.choice(list(values)))


def synthetic_label_id(name: str) -> str:
    """The id a synthetic tenant gives the sensitivity label `name`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sensitivity-label:{name}"))


def _check_labels(labels: Mapping[str, float], encrypted: Collection[str]) -> None:
    for name, share in labels.items():
        if not name or not 0.0 <= share <= 1.0:
            raise ValueError(f"labels: the share of {name!r} must be between 0 and 1, not {share}")
    if sum(labels.values()) > 1.0 + 1e-9:
        raise ValueError(f"labels: the shares add up to {sum(labels.values()):g}; at most 1")
    unknown = sorted(set(encrypted) - set(labels))
    if unknown:
        raise ValueError(f"encrypted_labels: {unknown[0]!r} is not one of the labels")


def _add_labels(
    drives: Sequence[Drive], labels: Mapping[str, float], encrypted: frozenset[str], seed: int
) -> None:
    """round(share x files) files per label, disjointly, as the tenant was built (no stamp)."""
    if not labels:
        return
    draws = random.Random(f"{seed}/labels")
    files = [item for drive in drives for item in drive.files()]
    counts = [(name, round(share * len(files))) for name, share in labels.items()]
    chosen = iter(draws.sample(files, min(len(files), sum(count for _, count in counts))))
    for name, count in counts:
        label = SensitivityLabel(synthetic_label_id(name), name, name in encrypted)
        for item in itertools.islice(chosen, count):
            item.label = label


_APP_ROLES = ("Sites.FullControl.All", "GroupMember.Read.All", "User.Read.All")
_EARLY_USERS, _EARLY_GROUPS = 8, 3


def _check(files: int, sites: int, libraries: int, shape: _Shape) -> None:
    if files < 0 or sites < 1 or libraries < 1 or shape.depth < 1:
        raise ValueError("need files >= 0, sites >= 1, libraries >= 1 and depth >= 1")
    if shape.folders is not None and shape.folders < 0:
        raise ValueError(f"folders must be >= 0, not {shape.folders}")
    if not 0 <= shape.size_min <= shape.size_max:
        raise ValueError(f"need 0 <= size_min <= size_max, got {shape.size_min}, {shape.size_max}")
    if shape.distribution not in ("log-uniform", "uniform", "fixed"):
        raise ValueError(f"unknown size distribution {shape.distribution!r}")
    if not 0.0 <= shape.unique_share <= 1.0:
        raise ValueError(f"unique_share must be between 0 and 1, not {shape.unique_share}")


def _add_people(tenant: Tenant, people: Membership, draws: random.Random, *, early: bool) -> None:
    """Users "User 01"..., then groups "Team A"... ("Team 001"... past 26): the first 8 and 3
    when `early`, the others when not."""
    users, groups = min(people.users, _EARLY_USERS), min(people.groups, _EARLY_GROUPS)
    user_numbers = range(1, users + 1) if early else range(users + 1, people.users + 1)
    group_numbers = range(1, groups + 1) if early else range(groups + 1, people.groups + 1)
    for number in user_numbers:
        tenant.add_user(f"User {number:02d}", f"user{number:02d}@{tenant.domain}")
    for number in group_numbers:
        label = chr(64 + number) if people.groups <= 26 else f"{number:03d}"
        kind = GroupKind.SECURITY
        if draws.random() < people.microsoft365_share:
            kind = GroupKind.MICROSOFT_365
        email = f"team-{label.lower()}@{tenant.domain}"
        tenant.add_group(f"Team {label}", email, kind=kind)


def _add_memberships(tenant: Tenant, people: Membership, draws: random.Random) -> None:
    """Guests, then each group's members and owners, connected sites, site-group members."""
    for number in range(1, people.guests + 1):
        tenant.add_guest(f"Guest {number:03d}", f"guest{number:03d}@{_GUEST_DOMAIN}")
    person_ids = list(tenant.users)
    member_ids = [user.id for user in tenant.users.values() if not user.is_guest]
    security: list[Group] = []
    for group in tenant.groups.values():
        size = min(len(person_ids), draws.randint(people.group_size_min, people.group_size_max))
        for user_id in draws.sample(person_ids, size):
            tenant.add_group_member(group, f"user:{user_id}")
        if group.is_microsoft_365:
            for user_id in draws.sample(member_ids, min(len(member_ids), draws.randint(1, 2))):
                tenant.add_group_owner(group, user_id)
            continue
        if security and draws.random() < people.nested_share:
            for nested in draws.sample(security, min(len(security), draws.randint(1, 2))):
                tenant.add_group_member(group, f"group:{nested.id}")
        security.append(group)
    _fill_site_groups(tenant, member_ids, security, draws)


def _fill_site_groups(
    tenant: Tenant, member_ids: list[str], security: list[Group], draws: random.Random
) -> None:
    """Connect /teams/ sites to Microsoft 365 groups; give the others an owner; put a
    security group and two users in Members; Everyone except external users in Visitors of
    every other site."""
    unified = [group for group in tenant.groups.values() if group.is_microsoft_365]
    for number, site in enumerate(tenant.sites.values()):
        if site.path.startswith("/teams/") and unified:
            tenant.connect_site(site, unified.pop(0))
        else:
            tenant.add_site_group_member(site, "Owners", f"user:{draws.choice(member_ids)}")
        if security:
            tenant.add_site_group_member(site, "Members", f"group:{draws.choice(security).id}")
        for user_id in draws.sample(member_ids, min(2, len(member_ids))):
            tenant.add_site_group_member(site, "Members", f"user:{user_id}")
        if number % 2 == 0:
            tenant.add_site_group_member(site, "Visitors", "everyone_except_external")


def _add_libraries(tenant: Tenant, sites: int, libraries: int) -> list[Drive]:
    host = tenant.domain.split(".", 1)[0] + ".sharepoint.com"
    drives = []
    for number in range(1, sites + 1):
        kind = "teams" if number % 2 == 0 else "sites"
        site = tenant.add_site(host, f"/{kind}/synthetic-{number:02d}", f"Synthetic {number}")
        for library in range(1, libraries + 1):
            if library == 1:
                drives.append(tenant.add_library(site, "Documents", "Shared Documents"))
            else:
                drives.append(tenant.add_library(site, f"Library {library}"))
    return drives


def _fill(tenant: Tenant, drive: Drive, files: int, shape: _Shape, rng: random.Random) -> None:
    count = shape.folders if shape.folders is not None else files // 50
    folders = _folders(tenant, drive, count, shape.depth, rng)
    mime = {ext: mime_type_for("x" + ext) for ext in _TEXT_TYPES + _BINARY_TYPES}
    for number in range(files):
        parent = folders[rng.randrange(len(folders))]
        text = rng.random() < 0.7
        ext = rng.choice(_TEXT_TYPES if text else _BINARY_TYPES)
        path = [*parent, f"{rng.choice(_WORDS)}-{number:06d}{ext}"]
        content = GeneratedContent(rng.getrandbits(32), _size(shape, rng), text=text)
        tenant.add_file(drive, path, content, mime_type=mime[ext])
        if rng.random() < shape.unique_share:
            _share(tenant, drive, path, rng)


def _folders(
    tenant: Tenant, drive: Drive, count: int, depth: int, rng: random.Random
) -> list[list[str]]:
    """The root ([]) and `count` folders, each under the root or an earlier, shallower one."""
    paths: list[list[str]] = [[]]
    open_parents: list[list[str]] = [[]]
    for number in range(count):
        parent = open_parents[rng.randrange(len(open_parents))]
        path = [*parent, f"{rng.choice(_WORDS).title()} {number:05d}"]
        tenant.add_folder(drive, path)
        paths.append(path)
        if len(path) < depth:
            open_parents.append(path)
    return paths


def _size(shape: _Shape, rng: random.Random) -> int:
    low, high = shape.size_min, shape.size_max
    if shape.distribution == "fixed":
        return low
    if shape.distribution == "uniform":
        return rng.randint(low, high)
    value = math.exp(rng.uniform(math.log(max(low, 1)), math.log(max(high, 1))))
    return min(high, max(low, round(value)))


def _share(tenant: Tenant, drive: Drive, path: list[str], rng: random.Random) -> None:
    """Give the file, or its folder, unique permissions of a kind real libraries often show."""
    target = path if rng.random() < 0.7 or len(path) == 1 else path[:-1]
    email = f"user{rng.randint(1, len(tenant.users)):02d}@{tenant.domain}"  # no guests yet
    kind = rng.randrange(5)
    if kind == 0:
        tenant.grant(drive, target, f"user:{email}", rng.choice((Role.READ, Role.WRITE)))
    elif kind == 1:
        tenant.add_link(drive, target, "view", rng.choice(("organization", "anonymous")))
    elif kind == 2:
        tenant.add_link(drive, target, "edit", "users", [email])
    elif kind == 3:
        tenant.break_inheritance(drive, target, copy=False)
        tenant.grant(drive, target, "sitegroup:Owners", Role.OWNER)
        groups = list(tenant.groups.values())
        if groups:
            chosen = groups[rng.randrange(len(groups))]
            tenant.grant(drive, target, f"group:{chosen.id}", Role.WRITE)
    else:
        visitors = tenant.principal(drive.site, "sitegroup:Visitors")
        if visitors in (tenant.item(drive, target).permission_root().grants or {}):
            tenant.revoke(drive, target, "sitegroup:Visitors")  # breaks inheritance first
