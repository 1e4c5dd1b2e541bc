"""Synthetic tenants of any size for benchmarks and load tests, deterministic from a seed.

File bytes are `GeneratedContent`, produced only when read, so a 100,000-file tenant costs
its metadata (about a kilobyte per file) and builds in a few seconds.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ms365sync.emulator.tenant.content import GeneratedContent, mime_type_for
from ms365sync.emulator.tenant.model import Drive, Role
from ms365sync.emulator.tenant.tenant import Tenant

SizeDistribution = Literal["log-uniform", "uniform", "fixed"]

_WORDS = (
    "agenda", "budget", "contract", "design", "forecast", "invoice", "minutes", "notes",
    "plan", "policy", "proposal", "report", "review", "roadmap", "schedule", "summary",
)  # fmt: skip
_TEXT_TYPES = (".txt", ".md", ".csv", ".json", ".log")
_BINARY_TYPES = (".bin", ".dat")
_USERS = 8
_GROUPS = 3


@dataclass(frozen=True)
class _Shape:
    """The validated knobs of one synthetic build."""

    folders: int | None
    depth: int
    size_min: int
    size_max: int
    distribution: SizeDistribution
    unique_share: float


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
) -> Tenant:
    """A tenant with `files` files spread evenly over `sites` x `libraries` libraries.

    Each library gets `folders` folders (default: one per 50 files) nested at most `depth`
    deep; files land in a random folder or the root. Sizes are drawn between `size_min` and
    `size_max` ("fixed": all `size_min`). About `unique_share` of the items get unique
    permissions: a user grant, a sharing link, a group-only folder or a Visitors removal.
    The app "ms365sync-synthetic" (Sites.FullControl.All) is registered. Raises ValueError
    for impossible arguments.
    """
    shape = _Shape(folders, depth, size_min, size_max, size_distribution, unique_share)
    _check(files, sites, libraries, shape)
    rng = random.Random(seed)
    # Generated names are valid and unique by construction; SharePoint's name rules include
    # a case-insensitive scan of the siblings, quadratic for large folders, so they are
    # switched off while building.
    tenant = Tenant(seed=seed, clock=clock, strict_names=False)
    tenant.add_app("ms365sync-synthetic")
    _add_people(tenant)
    drives = _add_libraries(tenant, sites, libraries)
    for index, drive in enumerate(drives):
        count = files // len(drives) + (1 if index < files % len(drives) else 0)
        _fill(tenant, drive, count, shape, rng)
    tenant.strict_names = True
    return tenant


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


def _add_people(tenant: Tenant) -> None:
    for number in range(1, _USERS + 1):
        tenant.add_user(f"User {number:02d}", f"user{number:02d}@{tenant.domain}")
    for number in range(1, _GROUPS + 1):
        tenant.add_group(f"Team {chr(64 + number)}", f"team-{chr(96 + number)}@{tenant.domain}")


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
    email = f"user{rng.randint(1, _USERS):02d}@{tenant.domain}"
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
        tenant.grant(drive, target, f"group:Team {chr(65 + rng.randrange(_GROUPS))}", Role.WRITE)
    else:
        visitors = tenant.principal(drive.site, "sitegroup:Visitors")
        if visitors in (tenant.item(drive, target).permission_root().grants or {}):
            tenant.revoke(drive, target, "sitegroup:Visitors")  # breaks inheritance first
