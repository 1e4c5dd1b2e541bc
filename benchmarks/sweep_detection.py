"""Which run reports each kind of permission change: an incremental run, or only a sweep.

Two twins of one synced library take the same changes one after the other. After each
change both make an incremental run without a sweep; a twin whose run did not report the
change then makes a sweep, the structure twin a structure sweep and the full twin a full one
(a sweep that misses it is followed by an uncounted full sweep, so the next change starts
from a converged mirror). A change is reported when every file whose labels it changed (by
the emulator's oracle, before and after) has been in a run's permission-only changes with its
current labels, and no other file has; a change of a link's recipients changes no label and
is reported when the mirror's records of the files hold the link's new recipients. A change
of no label and no recipient (inheritance broken with a copy) takes both runs, to show that
neither reports anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.sweep_world import FULL, NEVER, STRUCTURE, Library, Run
from ms365sync.emulator import Item, Role
from ms365sync.emulator.tenant.model import PrincipalKind as TenantPrincipal
from ms365sync.models import PrincipalKind
from ms365sync.state.store import StateStore
from ms365sync.target import PermissionPolicy

PROBE = "sweep.probe"  # a user the benchmark adds, granted nothing by the synthetic tenant
VISITORS = "sitegroup:Visitors"
MISSED = "missed"
NOTHING = "nothing to report"  # a change of no label and no recipient, sweep included
TWINS: tuple[tuple[str, PermissionPolicy], ...] = (("structure", STRUCTURE), ("full", FULL))

Links = dict[str, dict[str, frozenset[str]]]  # path -> link id -> recipient user ids


@dataclass(frozen=True)
class Places:
    """Where the changes are made: the library root, a file and five folders, all inheriting
    from the root and none inside another."""

    root: Item
    file: Item
    folder: Item  # a user granted, then revoked
    linked: Item  # a sharing link added, a recipient added to it, the link removed
    broken: Item  # inheritance broken without a copy, then restored
    grouped: Item  # a site group removed, then added again
    copied: Item  # inheritance broken with a copy (no label changes)


@dataclass(frozen=True)
class Change:
    """One kind of permission change: what it is, on which item, and how it is made."""

    kind: str
    where: Callable[[Places], Item]
    make: Callable[[Library, str], object]
    recipients: bool = False  # changes a link's recipients only (no label)


def _grant(principal: str, role: Role = Role.READ) -> Callable[[Library, str], object]:
    return lambda lib, path: lib.tenant.grant(lib.drive, path, _principal(lib, principal), role)


def _revoke(principal: str) -> Callable[[Library, str], object]:
    return lambda lib, path: lib.tenant.revoke(lib.drive, path, _principal(lib, principal))


def _principal(library: Library, principal: str) -> str:
    return f"user:{PROBE}@{library.tenant.domain}" if principal == PROBE else principal


CHANGES: tuple[Change, ...] = (
    Change("grant on a file", lambda p: p.file, _grant(PROBE)),
    Change("revoke on a file", lambda p: p.file, _revoke(PROBE)),
    Change("grant on a folder", lambda p: p.folder, _grant(PROBE)),
    Change("revoke on a folder", lambda p: p.folder, _revoke(PROBE)),
    Change(
        "sharing link added (folder, specific people)",
        lambda p: p.linked,
        lambda lib, path: lib.tenant.add_link(
            lib.drive, path, "edit", "users", [f"{PROBE}@{lib.tenant.domain}"]
        ),
    ),
    Change(
        "recipient added to that link",
        lambda p: p.linked,
        lambda lib, path: lib.tenant.add_link_recipient(
            lib.drive, path, "edit/users", f"user01@{lib.tenant.domain}"
        ),
        recipients=True,
    ),
    Change(
        "sharing link removed",
        lambda p: p.linked,
        lambda lib, path: lib.tenant.remove_link(lib.drive, path, "edit/users"),
    ),
    Change(
        "inheritance broken with copy (folder)",
        lambda p: p.copied,
        lambda lib, path: lib.tenant.break_inheritance(lib.drive, path, copy=True),
    ),
    Change(
        "inheritance broken without copy (folder)",
        lambda p: p.broken,
        lambda lib, path: lib.tenant.break_inheritance(lib.drive, path, copy=False),
    ),
    Change(
        "inheritance restored (folder)",
        lambda p: p.broken,
        lambda lib, path: lib.tenant.restore_inheritance(lib.drive, path),
    ),
    Change("site group removed from a folder", lambda p: p.grouped, _revoke(VISITORS)),
    Change("site group added to a folder", lambda p: p.grouped, _grant(VISITORS)),
    Change("library-level grant (drive root)", lambda p: p.root, _grant(PROBE)),
    Change("library-level revoke (drive root)", lambda p: p.root, _revoke(PROBE)),
)


@dataclass
class Followed:
    """How one twin met one change: its runs, and which of them reported it."""

    runs: list[Run] = field(default_factory=list)
    reported_by: str = MISSED
    spurious: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # reported with labels other than the truth

    @property
    def resource_units(self) -> int:
        """The units the runs up to the reporting one cost (all of them if it was missed)."""
        return sum(run.resource_units for run in self.runs)

    @property
    def correct(self) -> bool:
        return self.reported_by != MISSED and not self.spurious and not self.wrong

    def as_dict(self) -> dict[str, Any]:
        return {
            "reported_by": self.reported_by,
            "resource_units": self.resource_units,
            "runs": [run.as_dict() for run in self.runs],
            "spurious": self.spurious[:5],
            "wrong": self.wrong[:5],
            "correct": self.correct,
        }


@dataclass(frozen=True)
class Detected:
    """One row of the detection table."""

    kind: str
    path: str
    affected: int
    twins: dict[str, Followed]

    @property
    def same(self) -> bool:
        """Whether both twins were told by the same run (the first, or their sweep)."""
        first, second = (self.twins[name].reported_by for name, _ in TWINS)
        return first == second or {first, second} == {"structure sweep", "full sweep"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path or "/",
            "affected_files": self.affected,
            "same_detection": self.same,
            **{name: followed.as_dict() for name, followed in self.twins.items()},
        }


def places(library: Library) -> Places:
    """Six inheriting folders with files, none inside another (the deepest first); a file in
    the sixth."""
    root = library.drive.root
    with library.tenant.lock:
        folders = sorted(
            (i for i in library.drive.items.values() if i.is_folder and not i.is_root),
            key=lambda i: (-i.path.count("/"), i.path),
        )
        chosen: list[Item] = []
        for folder in folders:
            if len(chosen) == 6:
                break
            if folder.permission_root() is not root or not library.labels(folder):
                continue
            if any(_within(folder, other) or _within(other, folder) for other in chosen):
                continue
            chosen.append(folder)
        if len(chosen) < 6:
            raise ValueError("the library has too few folders for the detection table")
        file = next(
            i
            for i in sorted(library.drive.items.values(), key=lambda i: i.path)
            if not i.is_folder and i.permission_root() is root and _within(i, chosen[5])
        )
    folder, linked, broken, grouped, copied = chosen[:5]
    return Places(root, file, folder, linked, broken, grouped, copied)


def _within(item: Item, folder: Item) -> bool:
    return item is folder or any(ancestor is folder for ancestor in item.ancestors())


def detection_table(library: Library) -> list[Detected]:
    """Make every change of `CHANGES` on twins "structure" and "full" of the synced target
    "a"; which run reported each."""
    for name, _ in TWINS:
        library.twin("a", name)
    library.tenant.add_user("Sweep Probe", f"{PROBE}@{library.tenant.domain}")
    where = places(library)
    rows = []
    for change in CHANGES:
        item = change.where(where)
        before, links_before = library.labels(item), _link_truth(library, item)
        change.make(library, item.path)
        after, links_after = library.labels(item), _link_truth(library, item)
        affected = {path for path, labels in after.items() if before.get(path) != labels}
        twins = {
            name: _follow(
                library, name, sweep, change=change, item=item, affected=affected, truth=after
            )
            for name, sweep in TWINS
        }
        # A recipient changes the records of the files the link reaches, and no label.
        relinked = {p for p, links in links_after.items() if links_before.get(p) != links}
        count = len(relinked) if change.recipients else len(affected)
        rows.append(Detected(change.kind, item.path, count, twins))
    return rows


def _follow(
    library: Library,
    twin: str,
    sweep: PermissionPolicy,
    *,
    change: Change,
    item: Item,
    affected: set[str],
    truth: dict[str, list[str]],
) -> Followed:
    followed = Followed()
    seen: dict[str, list[str]] = {}
    wanted_links = _link_truth(library, item) if change.recipients else {}
    quiet = not affected and not change.recipients  # nothing to report: both runs made
    for label, policy in (("incremental run", NEVER), (f"{twin} sweep", sweep)):
        run = library.sync(twin, policy, f"{change.kind}: {label}")
        followed.runs.append(run)
        seen.update(run.reported())
        if change.recipients:
            done = _stored_links(library, twin, set(wanted_links)) == wanted_links
        else:
            done = not quiet and affected <= set(seen)
        if done:
            followed.reported_by = label
            break
    else:
        if quiet:
            followed.reported_by = NOTHING
        else:
            library.sync(twin, FULL, f"{change.kind}: converging")
    followed.spurious = sorted(set(seen) - affected)
    followed.wrong = sorted(p for p in affected & set(seen) if seen[p] != truth[p])
    return followed


def _link_truth(library: Library, item: Item) -> Links:
    """Path -> link id -> recipients of every file at or under `item`, as the tenant has them."""
    found: Links = {}
    with library.tenant.lock:
        for path in library.labels(item):
            node = library.tenant.item(library.drive, path)
            grants = node.permission_root().grants or {}
            found[path] = {
                ref: frozenset(library.drive.links[ref].recipients)
                for kind, ref in grants
                if kind is TenantPrincipal.LINK
            }
    return found


def _stored_links(library: Library, twin: str, paths: set[str]) -> Links:
    """The same, from the mirror's records of `twin`."""
    store = StateStore(library.spec(twin, NEVER).state_dir)
    try:
        return {
            record.path: {
                grant.principal_id: frozenset(grant.recipients)
                for grant in record.permissions.grants
                if grant.kind is PrincipalKind.LINK
            }
            for record in store.mirror_files()
            if record.path in paths
        }
    finally:
        store.close()
