"""Which run reports each kind of permission change, with and without a sweep due.

Every kind of change the emulator can make is made after a first sync, on a tenant whose
change feed has the real service's gaps (`realistic_gaps`, the default). Then three runs
follow: run A has no sweep due, run B makes a sweep (structure or full), run C makes
another. `EXPECTED` says which run must report the change: "incremental" (run A, from delta's
sharing hints alone), "sweep" (run A misses it, run B finds it) or "nothing" (no file's
permissions change, so no run reports anything). The run that reports it reports exactly the
files whose permissions changed (every file inheriting a changed folder included, no other),
the others report nothing, and afterwards every file's published permissions are the
tenant's. A file's permissions are what the outputs show: its labels (.permissions.json and
the change log) and, in .permissions.grants.json, the item it inherits from and its links'
recipients (a recipient added to a link, or inheritance broken with a copy of the same
grants, changes no label).
"""

from __future__ import annotations

import base64
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ms365sync.emulator import Drive, Role, Tenant
from ms365sync.emulator.tenant.model import SharingLink
from ms365sync.models import PrincipalKind, RemoteItem
from ms365sync.state.store import StateStore
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from ms365sync.target import GRANTS_FILE, PermissionPolicy, SweepKind
from support.harness import World, add_many, make_world

ALICE = "user:alice@contoso.onmicrosoft.com"
BOB = "user:bob@contoso.onmicrosoft.com"
LIBRARY = ""  # the path that names the library's root folder

Change = Callable[[Tenant, Drive], object]


def _nothing(t: Tenant, d: Drive) -> None:
    return None


@dataclass(frozen=True)
class Case:
    """A change (`change`), made after the first sync of a tree `setup` prepared."""

    change: Change
    setup: Change = _nothing


def _break_and_grant(t: Tenant, d: Drive) -> None:
    t.break_inheritance(d, "Plans/budget.csv", copy=True)
    t.grant(d, "Plans/budget.csv", BOB, Role.READ)


CASES: dict[str, Case] = {
    "grant_file": Case(lambda t, d: t.grant(d, "readme.md", ALICE, Role.READ)),
    "grant_changed_role_file": Case(
        lambda t, d: t.grant(d, "readme.md", ALICE, Role.WRITE),
        setup=lambda t, d: t.grant(d, "readme.md", ALICE, Role.READ),
    ),
    "revoke_file": Case(
        lambda t, d: t.revoke(d, "Plans/budget.csv", ALICE),
        setup=lambda t, d: t.grant(d, "Plans/budget.csv", ALICE, Role.READ),
    ),
    "revoke_inheriting_file": Case(
        lambda t, d: t.revoke(d, "Plans/budget.csv", "sitegroup:Visitors")
    ),
    "grant_folder": Case(lambda t, d: t.grant(d, "Plans", ALICE, Role.WRITE)),
    "grant_inheriting_subfolder": Case(lambda t, d: t.grant(d, "Plans/2026", ALICE, Role.READ)),
    "revoke_folder": Case(lambda t, d: t.revoke(d, "Finance", "group:Finance Team")),
    "revoke_inheriting_folder": Case(lambda t, d: t.revoke(d, "Plans", "sitegroup:Visitors")),
    "link_added_file": Case(lambda t, d: t.add_link(d, "readme.md", "view", "anonymous")),
    "link_added_folder": Case(lambda t, d: t.add_link(d, "Plans", "edit", "organization")),
    "link_removed_file": Case(
        lambda t, d: t.remove_link(d, "Plans/budget.csv", "view/anonymous"),
        setup=lambda t, d: t.add_link(d, "Plans/budget.csv", "view", "anonymous"),
    ),
    "link_removed_folder": Case(
        lambda t, d: t.remove_link(d, "Plans", "edit/organization"),
        setup=lambda t, d: t.add_link(d, "Plans", "edit", "organization"),
    ),
    "link_removed_library": Case(
        lambda t, d: t.remove_link(d, LIBRARY, "view/organization"),
        setup=lambda t, d: t.add_link(d, LIBRARY, "view", "organization"),
    ),
    # Taking a folder's link off one inheriting file gives that file permissions of its own.
    "link_removed_inheriting_file": Case(
        lambda t, d: t.remove_link(d, "Plans/budget.csv", "edit/organization"),
        setup=lambda t, d: t.add_link(d, "Plans", "edit", "organization"),
    ),
    "link_removed_inheriting_folder": Case(
        lambda t, d: t.remove_link(d, "Plans/2026", "edit/organization"),
        setup=lambda t, d: t.add_link(d, "Plans", "edit", "organization"),
    ),
    # Recipients are no part of the labels: only the grants (.permissions.grants.json) change.
    "recipient_added_file": Case(
        lambda t, d: t.add_link_recipient(d, "readme.md", "view/users", "Bob Smith"),
        setup=lambda t, d: t.add_link(d, "readme.md", "view", "users", ["Alice Jones"]),
    ),
    "recipient_added_folder": Case(
        lambda t, d: t.add_link_recipient(d, "Plans", "view/users", "Bob Smith"),
        setup=lambda t, d: t.add_link(d, "Plans", "view", "users", ["Alice Jones"]),
    ),
    # A copy of the inherited grants changes no label; the grants file shows them as the
    # file's (or folder's) own.
    "break_copy": Case(lambda t, d: t.break_inheritance(d, "Plans/budget.csv", copy=True)),
    "break_copy_folder": Case(lambda t, d: t.break_inheritance(d, "Plans", copy=True)),
    "break_copy_then_grant": Case(_break_and_grant),
    "break_no_copy_file": Case(lambda t, d: t.break_inheritance(d, "readme.md", copy=False)),
    "break_no_copy_folder": Case(lambda t, d: t.break_inheritance(d, "Plans", copy=False)),
    "restore_file": Case(
        lambda t, d: t.restore_inheritance(d, "Plans/budget.csv"),
        setup=lambda t, d: t.grant(d, "Plans/budget.csv", BOB, Role.READ),
    ),
    "restore_folder": Case(lambda t, d: t.restore_inheritance(d, "Finance")),
    "sitegroup_added_folder": Case(
        lambda t, d: t.grant(d, "Finance", "sitegroup:Visitors", Role.READ)
    ),
    "sitegroup_removed_folder": Case(lambda t, d: t.revoke(d, "Finance", "sitegroup:Members")),
    # Granting a role the principal already holds: delta reports the folder, nothing changed.
    "regrant_same_role_folder": Case(
        lambda t, d: t.grant(d, "Finance", "group:Finance Team", Role.WRITE)
    ),
    "library_grant": Case(lambda t, d: t.grant(d, LIBRARY, BOB, Role.READ)),
    "library_revoke": Case(lambda t, d: t.revoke(d, LIBRARY, "sitegroup:Visitors")),
}

# The run that reports each kind: "incremental" (run A, no sweep due), "sweep" (the first
# sweep, run B) or "nothing" (the change leaves every file's permissions as they were).
EXPECTED: dict[str, str] = {
    "grant_file": "incremental",
    "grant_changed_role_file": "incremental",
    "revoke_file": "incremental",
    "revoke_inheriting_file": "incremental",
    "grant_folder": "incremental",
    "grant_inheriting_subfolder": "incremental",
    "revoke_folder": "incremental",
    "revoke_inheriting_folder": "incremental",
    "link_added_file": "incremental",
    "link_added_folder": "incremental",
    "link_removed_file": "sweep",
    "link_removed_folder": "sweep",
    "link_removed_library": "sweep",
    "link_removed_inheriting_file": "incremental",
    "link_removed_inheriting_folder": "incremental",
    "recipient_added_file": "sweep",
    "recipient_added_folder": "sweep",
    "break_copy": "incremental",
    "break_copy_folder": "incremental",
    "break_copy_then_grant": "incremental",
    "break_no_copy_file": "incremental",
    "break_no_copy_folder": "incremental",
    "restore_file": "incremental",
    "restore_folder": "incremental",
    "sitegroup_added_folder": "incremental",
    "sitegroup_removed_folder": "incremental",
    "regrant_same_role_folder": "nothing",
    "library_grant": "incremental",
    "library_revoke": "incremental",
}

# (kind, sweep) pairs where ms365sync gets it wrong; each xfails strictly with its reason.
KNOWN_BUGS: dict[tuple[str, str], str] = {}

RUNS = ("incremental", "sweep", "after")
SWEEPS: tuple[SweepKind, ...] = ("structure", "full")

# A file's permissions as the outputs show them: its labels (.permissions.json), the item it
# inherits from (None: its own permission root) and its links' recipients (both in
# .permissions.grants.json).
Signature = tuple[tuple[str, ...], str | None, tuple[tuple[str, tuple[str, ...]], ...]]


def test_every_kind_has_an_expected_run() -> None:
    assert set(EXPECTED) == set(CASES)
    assert set(EXPECTED.values()) <= {"incremental", "sweep", "nothing"}


def _run(world: World, policy: PermissionPolicy, now: float) -> SyncResult:
    with world.client() as client:
        result = Syncer(world.spec(permissions=policy), client, clock=lambda: now).sync()
    assert result.ok, result.error
    assert result.log is not None
    return result


def _recipients(link: SharingLink) -> tuple[str, ...]:
    """The people a link names (only a "users" link names any)."""
    return tuple(sorted(link.recipients)) if link.scope == "users" else ()


def _truth(world: World) -> dict[str, Signature]:
    """Each file's permissions as the tenant has them."""
    found: dict[str, Signature] = {}
    for path in world.remote_files():
        item = world.tenant.item(world.drive, path)
        root = item.permission_root()
        links = tuple(
            sorted(
                (ref, _recipients(world.drive.links[ref]))
                for kind, ref in root.grants or {}
                if kind.value == PrincipalKind.LINK.value
            )
        )
        source = None if root is item else root.id
        found[path] = (tuple(world.expected_labels(path)), source, links)
    return found


def _published(world: World) -> dict[str, Signature]:
    """Each file's permissions as .permissions.json and .permissions.grants.json show them."""
    labels = world.permissions_json()
    document = json.loads((world.root / GRANTS_FILE).read_text())
    found: dict[str, Signature] = {}
    for path, entry in document["files"].items():
        links = tuple(
            sorted(
                (grant["id"], tuple(sorted(grant.get("recipients", ()))))
                for grant in entry["grants"]
                if grant["kind"] == "link"
            )
        )
        found[path] = (tuple(labels[path]), entry.get("inherited_from"), links)
    assert set(found) == set(labels)
    return found


def _changed(before: dict[str, Signature], after: dict[str, Signature]) -> set[str]:
    return {path for path in after if before.get(path) != after[path]}


def _reported(world: World, result: SyncResult, before: dict[str, Signature]) -> set[str]:
    """The files a run reported: in the change log when their labels changed, in the grants
    file alone when only where they inherit from or a link's recipients did. Checks each
    change log entry against the tenant."""
    log = result.log
    assert log is not None
    assert not log.changes.added and not log.changes.modified and not log.changes.deleted
    after = _published(world)
    changed = _changed(before, after)
    logged = log.changes.permission_only_changes
    assert set(logged) == {p for p in changed if before[p][0] != after[p][0]}
    for path, entry in logged.items():
        assert entry.permission_changes.current == world.expected_labels(path)
        old, new = set(before[path][0]), set(after[path][0])
        assert entry.permission_changes.added == sorted(new - old)
        assert entry.permission_changes.removed == sorted(old - new)
    return changed


def _scenario(
    world: World, kind: str, sweep: SweepKind, *, swept: bool = False
) -> tuple[set[str], dict[str, set[str]]]:
    """Make `kind`'s change after a first sync (and, if `swept`, a sweep after it); the
    files it affects and those each following run reported."""
    case = CASES[kind]
    t, d = world.tenant, world.drive
    case.setup(t, d)
    quiet = PermissionPolicy(mode="interval", interval_s=3600.0, sweep=sweep)
    always = PermissionPolicy(mode="always", sweep=sweep)
    _run(world, quiet, 1000.0)  # the first run counts as a sweep: the next is due at 4600
    if swept:
        _run(world, always, 1500.0)  # the next is due at 5100
    assert _published(world) == _truth(world)
    truth_before = _truth(world)
    case.change(t, d)
    affected = _changed(truth_before, _truth(world))
    if EXPECTED[kind] == "nothing":
        assert not affected
    else:
        assert affected
    reported: dict[str, set[str]] = {}
    for run, policy, now in zip(
        RUNS, (quiet, always, always), (2000.0, 3000.0, 4000.0), strict=True
    ):
        before = _published(world)
        result = _run(world, policy, now)
        notes = [n for n in result.counters.notes if "permission sweep" in n]
        if run == "incremental":
            assert not notes
        else:  # the sweep asked for, not a fallback
            assert len(notes) == 1 and notes[0].startswith(f"{sweep} permission sweep:")
        reported[run] = _reported(world, result, before)
        assert reported[run] <= affected
    assert _published(world) == _truth(world)
    return affected, reported


def _matrix() -> Iterator[object]:
    for kind in CASES:
        for sweep in SWEEPS:
            reason = KNOWN_BUGS.get((kind, sweep))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(kind, sweep, marks=marks, id=f"{kind}-{sweep}")


@pytest.mark.parametrize(("kind", "sweep"), list(_matrix()))
@pytest.mark.parametrize("swept", [False, True], ids=["first-run", "after-a-sweep"])
def test_each_change_is_reported_once_by_the_expected_run(
    world: World, kind: str, sweep: SweepKind, swept: bool
) -> None:
    affected, reported = _scenario(world, kind, sweep, swept=swept)
    expected = EXPECTED[kind]
    assert reported == {run: (affected if run == expected else set()) for run in RUNS}


@pytest.mark.parametrize("kind", list(CASES))
def test_structure_and_full_sweeps_find_the_same_files(tmp_path: Path, kind: str) -> None:
    found = {sweep: _scenario(make_world(tmp_path / sweep), kind, sweep) for sweep in SWEEPS}
    assert found["structure"] == found["full"]


# Files set apart from their folder, whose folder's permissions then change while no run
# reads them (no file inherits them), and whose inheritance is then restored: "unread", a
# folder that becomes a permission root of its own and was never read; "stale", a folder
# read before whose new grants were not.
RESTORED: dict[str, tuple[str, Change, Change]] = {
    "unread": (
        "Plans/2026/plan.txt",
        lambda t, d: t.grant(d, "Plans/2026/plan.txt", ALICE, Role.READ),
        lambda t, d: t.grant(d, "Plans/2026", BOB, Role.READ),
    ),
    "stale": (
        "Finance/q1.txt",
        lambda t, d: t.break_inheritance(d, "Finance/q1.txt", copy=False),
        lambda t, d: t.grant(d, "Finance", BOB, Role.READ),
    ),
}


def _restored(world: World, variant: str) -> str:
    """After a first sync, set a file apart, change its folder, restore the file's
    inheritance; each step synced without a sweep. Returns the file's path."""
    path, set_apart, change_folder = RESTORED[variant]
    t, d = world.tenant, world.drive
    never = PermissionPolicy(mode="never")
    _run(world, never, 500.0)
    set_apart(t, d)
    _run(world, never, 1000.0)
    change_folder(t, d)
    _run(world, never, 2000.0)
    t.restore_inheritance(d, path)
    restored = _run(world, never, 3000.0)
    assert restored.log is not None
    assert set(restored.log.changes.permission_only_changes) == {path}
    assert world.permissions_json()[path] == world.expected_labels(path)
    return path


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0]


@pytest.mark.parametrize("variant", list(RESTORED))
def test_a_restored_file_inherits_from_its_folder_in_the_grants_file(
    world: World, variant: str
) -> None:
    path = _restored(world, variant)
    assert _published(world)[path] == _truth(world)[path]


@pytest.mark.parametrize("variant", list(RESTORED))
def test_a_folder_change_reaches_a_file_whose_inheritance_was_restored(
    world: World, variant: str
) -> None:
    path = _restored(world, variant)
    world.tenant.grant(world.drive, _folder(path), ALICE, Role.WRITE)
    result = _run(world, PermissionPolicy(mode="never"), 4000.0)
    assert result.log is not None
    assert set(result.log.changes.permission_only_changes) == {path}


@pytest.mark.parametrize("variant", list(RESTORED))
@pytest.mark.parametrize("sweep", SWEEPS)
def test_a_sweep_gives_a_restored_file_back_to_its_folder(
    world: World, sweep: SweepKind, variant: str
) -> None:
    path = _restored(world, variant)
    folder = _folder(path)
    world.tenant.grant(world.drive, folder, ALICE, Role.WRITE)
    _run(world, PermissionPolicy(mode="never"), 4000.0)
    swept = _run(world, PermissionPolicy(mode="always", sweep=sweep), 5000.0)
    assert swept.log is not None
    assert set(swept.log.changes.permission_only_changes) <= {path}  # if run A missed it
    assert _published(world) == _truth(world)
    world.tenant.revoke(world.drive, folder, ALICE)
    after = _run(world, PermissionPolicy(mode="never"), 6000.0)
    assert after.log is not None
    assert set(after.log.changes.permission_only_changes) == {path}
    assert _published(world) == _truth(world)


PRINCIPALS = (ALICE, BOB, "group:Finance Team", "sitegroup:Visitors", "sitegroup:Members")


def _random_change(world: World, rng: random.Random) -> None:
    """One permission change of a random kind on a random item (or none, if it cannot be
    made there)."""
    t, d = world.tenant, world.drive
    item = rng.choice(sorted(world.drive.items.values(), key=lambda i: i.path))
    path, root = item.path, item.permission_root()
    grants = root.grants or {}
    links = [d.links[ref] for kind, ref in grants if kind.value == PrincipalKind.LINK.value]
    kind = rng.choice(("grant", "revoke", "break", "restore", "link", "unlink", "recipient"))
    if kind == "grant":
        t.grant(d, path, rng.choice(PRINCIPALS), rng.choice((Role.READ, Role.WRITE)))
    elif kind == "revoke":
        held = [p for p in PRINCIPALS if t.principal(d.site, p) in grants]
        if held:
            t.revoke(d, path, rng.choice(held))
    elif kind == "break":
        t.break_inheritance(d, path, copy=rng.random() < 0.5)
    elif kind == "restore" and not item.is_root:
        t.restore_inheritance(d, path)
    elif kind == "link":
        scope = rng.choice(("anonymous", "organization", "users"))
        t.add_link(d, path, rng.choice(("view", "edit")), scope, ["Alice Jones"])
    elif kind == "unlink" and links:
        t.remove_link(d, path, rng.choice(links).id)
    elif kind == "recipient" and any(link.scope == "users" for link in links):
        selector = next(link.id for link in links if link.scope == "users")
        t.add_link_recipient(d, path, selector, "Bob Smith")


def _labels_and_recipients(found: dict[str, Signature]) -> dict[str, object]:
    return {path: (labels, links) for path, (labels, _, links) in found.items()}


@pytest.mark.parametrize("sweep", SWEEPS)
@pytest.mark.parametrize("seed", range(6))
def test_random_histories_are_right_after_every_sweep(
    world: World, seed: int, sweep: SweepKind
) -> None:
    """Random changes, synced by runs with and without a sweep: every change log entry
    holds the tenant's labels, after each sweep every file's labels and recipients are the
    tenant's, and a second sweep straight after reports nothing."""
    rng = random.Random(seed)
    quiet = PermissionPolicy(mode="never")
    always = PermissionPolicy(mode="always", sweep=sweep)
    _run(world, quiet, 1000.0)
    for step in range(8):
        for _ in range(rng.randint(1, 3)):
            _random_change(world, rng)
        sweeping = rng.random() < 0.4
        now = 2000.0 + 100 * step
        result = _run(world, always if sweeping else quiet, now)
        assert result.log is not None
        for path, entry in result.log.changes.permission_only_changes.items():
            assert entry.permission_changes.current == world.expected_labels(path)
        if sweeping:
            truth = _labels_and_recipients(_truth(world))
            assert _labels_and_recipients(_published(world)) == truth
            again = _run(world, always, now + 50)
            assert again.log is not None and not again.log.has_changes


def test_a_structure_sweep_reads_fewer_permissions_than_a_full_sweep(world: World) -> None:
    add_many(world, 12, folder="bulk")
    add_many(world, 8, folder="Plans/more")
    world.tenant.grant(world.drive, "bulk", ALICE, Role.READ)
    world.tenant.grant(world.drive, "bulk/file-003.txt", BOB, Role.READ)
    quiet = PermissionPolicy(mode="never")
    _run(world, quiet, 1000.0)
    reads: dict[SweepKind, list[str]] = {}
    for now, sweep in zip((2000.0, 3000.0), SWEEPS, strict=True):
        world.recorder.reset()
        result = _run(world, PermissionPolicy(mode="always", sweep=sweep), now)
        assert result.log is not None and not result.log.has_changes
        reads[sweep] = world.recorder.permission_reads()
    t, d = world.tenant, world.drive
    roots = {t.item(d, path).permission_root().id for path in world.remote_files()}
    files = {t.item(d, path).id for path in world.remote_files()}
    read = {url.split("/items/")[1].split("/")[0] for url in reads["structure"]}
    assert read == roots  # root, Finance, bulk and the file with its own grants
    assert len(reads["structure"]) == len(roots) < len(files) <= len(reads["full"])
    assert world.permissions_json() == {p: world.expected_labels(p) for p in world.remote_files()}


def _delta_link(world: World) -> str | None:
    meta = StateStore.read_meta(world.root / ".ms365sync")
    return None if meta is None else meta.delta_link


def _timeless(link: str | None) -> tuple[str, list[str]]:
    """A delta link without the time its token was issued at (the emulator stamps it with
    its clock, whose second may turn between two runs): its query but the token, and the
    token's other fields (the position in the journal, the epoch)."""
    assert link is not None
    base, _, query = link.partition("?")
    pairs = dict(pair.split("=", 1) for pair in query.split("&"))
    token = pairs.pop("token")
    fields = base64.b64decode(token + "=" * (-len(token) % 4)).decode().split(";")
    del fields[5]  # the ticks
    return f"{base}?{sorted(pairs.items())}", fields


def test_a_structure_sweep_leaves_the_stored_delta_link_as_it_was(world: World) -> None:
    quiet = PermissionPolicy(mode="never")
    _run(world, quiet, 1000.0)
    before = _delta_link(world)
    assert before is not None
    world.emulator.clock.advance(2.0)  # tokens issued from here on carry another time
    world.recorder.reset()
    swept = _run(world, PermissionPolicy(mode="always", sweep="structure"), 2000.0)
    assert any(n.startswith("structure permission sweep:") for n in swept.counters.notes)
    pages = world.recorder.delta_pages()
    assert any("token=" not in c.url for c in pages)  # the enumeration, from the start
    assert swept.log is not None and not swept.log.has_changes
    # The run's own incremental round moved the link on (to the same position); the
    # structure enumeration's link (its own $select) was not stored.
    assert _timeless(_delta_link(world)) == _timeless(before)
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    after = _run(world, quiet, 3000.0)
    assert after.log is not None and not after.log.full_resync
    assert set(after.log.changes.permission_only_changes) == {"readme.md"}
    assert world.permissions_json()["readme.md"] == world.expected_labels("readme.md")


# ---------------------------------------------------------------------- the state level


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    yield connection
    connection.close()


def _node(
    item_id: str, parent: str | None, *, folder: bool, is_root: bool = False, shared: bool = False
) -> RemoteItem:
    return RemoteItem(item_id, parent, item_id, folder, is_root=is_root, shared=shared)


TREE = [
    _node("root", None, folder=True, is_root=True, shared=True),
    _node("a", "root", folder=True),  # becomes a root
    _node("a1", "a", folder=False),
    _node("s", "root", folder=True, shared=True),  # stops being one
    _node("s1", "s", folder=False),
    _node("k", "root", folder=True, shared=True),  # not enumerated: stays a root
    _node("k1", "k", folder=False),
    _node("m", "root", folder=True),  # not enumerated: stays a non-root
    _node("m1", "m", folder=False),
    _node("f", "root", folder=False, shared=True),  # a file enumerated as a root: unchanged
]


def _tree(db: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    rows = db.execute("SELECT item_id, shared, perm_src FROM items")
    return {item_id: (shared, perm_src) for item_id, shared, perm_src in rows}


def test_apply_structure_takes_the_enumerated_roots(db: sqlite3.Connection) -> None:
    state = StateStore(Path("unused"), connection=db)
    state.clear_stage()
    state.stage_page(TREE)
    with state.run():
        state.apply_stage(full=True)
    before = _tree(db)
    assert before["a1"] == (0, "root") and before["s1"] == (0, "s")
    state.clear_structure()
    state.stage_structure(
        [("root", True), ("a", True), ("a1", False), ("s", False), ("s1", False), ("f", True)]
    )
    state.stage_structure([("unknown", True)])  # an item the tree does not hold
    with state.run():
        change = state.apply_structure()
    assert (change.roots, change.became, change.ceased) == (4, 1, 1)
    assert _tree(db) == {
        "root": (1, "root"),
        "a": (1, "a"),
        "a1": (0, "a"),
        "s": (0, "root"),
        "s1": (0, "root"),
        "k": (1, "k"),
        "k1": (0, "k"),
        "m": (0, "root"),
        "m1": (0, "root"),
        "f": (1, "f"),
    }
    assert db.execute("SELECT COUNT(*) FROM temp.structure").fetchone()[0] == 0
    # The same enumeration again changes nothing.
    state.clear_structure()
    state.stage_structure([("root", True), ("a", True), ("s", False), ("f", True)])
    with state.run():
        again = state.apply_structure()
    assert (again.roots, again.became, again.ceased) == (3, 0, 0)
    assert _tree(db)["a1"] == (0, "a") and _tree(db)["s1"] == (0, "root")
