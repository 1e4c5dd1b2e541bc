"""Permissions: labels in the original form, each kind of change, reads through $batch, sweeps."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ms365sync.emulator import Role
from ms365sync.models import PrincipalKind
from ms365sync.state.store import StateStore
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from ms365sync.target import PermissionPolicy, SweepKind
from support.harness import FIRST_FILES, World, add_many, make_world

ALICE = "user:alice@contoso.onmicrosoft.com"
BOB = "user:bob@contoso.onmicrosoft.com"
MEMBERS = "Marketing Members:::Edit"
OWNERS = "Marketing Owners:::Full Control"
VISITORS = "Marketing Visitors:::View"
SITE_GROUPS = [MEMBERS, OWNERS, VISITORS]


def _permission_change(world: World, path: str) -> tuple[list[str], list[str]]:
    """Sync; the one permission-only change reported, checked against the tenant's oracle."""
    result = world.ok()
    log = result.log
    assert log is not None
    assert not log.changes.added and not log.changes.modified and not log.changes.deleted
    assert path in log.changes.permission_only_changes
    entry = log.changes.permission_only_changes[path].permission_changes
    assert entry.current == world.expected_labels(path)
    assert world.permissions_json()[path] == world.expected_labels(path)
    return entry.added, entry.removed


def test_original_label_form(world: World) -> None:
    t, d = world.tenant, world.drive
    t.grant(d, "readme.md", ALICE, Role.OWNER)
    t.grant(d, "readme.md", BOB, Role.WRITE)
    t.add_link(d, "readme.md", "edit", "organization")
    world.ok()
    assert world.permissions_json()["readme.md"] == [
        "Alice Jones:::Full Control",
        "Bob Smith:::Edit",
        MEMBERS,
        OWNERS,
        VISITORS,
        "Sharing Link (edit, organization):::Edit",
    ]
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_grant(world: World) -> None:
    world.ok()
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    assert _permission_change(world, "readme.md") == (["Alice Jones:::View"], [])


def test_grant_changed_role(world: World) -> None:
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    world.ok()
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.WRITE)
    assert _permission_change(world, "readme.md") == (
        ["Alice Jones:::Edit"],
        ["Alice Jones:::View"],
    )


def test_removal(world: World) -> None:
    world.ok()
    world.tenant.revoke(world.drive, "readme.md", "sitegroup:Members")
    assert _permission_change(world, "readme.md") == ([], [MEMBERS])


def test_sharing_link_added_and_removed(world: World) -> None:
    """Delta reports a link added; a link removed it does not (realistic gaps, #937): the
    next sweep, of either kind, reports it."""
    world.ok()
    world.tenant.add_link(world.drive, "Plans/budget.csv", "view", "anonymous")
    link = "Sharing Link (view, anonymous):::View"
    assert _permission_change(world, "Plans/budget.csv") == ([link], [])
    world.tenant.remove_link(world.drive, "Plans/budget.csv", "view/anonymous")
    missed = world.ok()
    assert missed.log is not None and not missed.log.has_changes
    sweep = PermissionPolicy(mode="always")
    with world.client() as client:
        swept = Syncer(world.spec(permissions=sweep), client).sync()
    assert swept.log is not None
    entry = swept.log.changes.permission_only_changes["Plans/budget.csv"].permission_changes
    assert (entry.added, entry.removed) == ([], [link])


def test_inheritance_broken_and_restored(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.break_inheritance(d, "Plans/budget.csv", copy=False)
    t.grant(d, "Plans/budget.csv", BOB, Role.READ)
    added, removed = _permission_change(world, "Plans/budget.csv")
    assert added == ["Bob Smith:::View"] and removed == SITE_GROUPS
    t.restore_inheritance(d, "Plans/budget.csv")
    added, removed = _permission_change(world, "Plans/budget.csv")
    assert added == SITE_GROUPS and removed == ["Bob Smith:::View"]


def test_folder_change_is_seen_by_every_inheriting_file(world: World) -> None:
    world.ok()
    t, d = world.tenant, world.drive
    t.grant(d, "Plans", ALICE, Role.WRITE)
    result = world.ok()
    assert result.log is not None
    changes = result.log.changes.permission_only_changes
    assert set(changes) == {"Plans/budget.csv", "Plans/2026/plan.txt"}
    for entry in changes.values():
        assert entry.permission_changes.added == ["Alice Jones:::Edit"]
    # A removal at the folder (delta marks nothing and sends no entry for the children).
    t.revoke(d, "Plans", "sitegroup:Visitors")
    result = world.ok()
    assert result.log is not None
    changes = result.log.changes.permission_only_changes
    assert set(changes) == {"Plans/budget.csv", "Plans/2026/plan.txt"}
    for path, entry in changes.items():
        assert entry.permission_changes.removed == [VISITORS]
        assert entry.permission_changes.current == world.expected_labels(path)


def test_change_under_a_folder_with_its_own_permissions(world: World) -> None:
    """A file under a folder with unique permissions follows that folder, not the root."""
    world.ok()
    world.tenant.grant(world.drive, "", BOB, Role.READ)  # the library root
    result = world.ok()
    assert result.log is not None
    changed = set(result.log.changes.permission_only_changes)
    assert changed == {"readme.md", "Plans/budget.csv", "Plans/2026/plan.txt"}
    assert "Finance/q1.txt" not in changed  # Finance broke inheritance before
    for path in FIRST_FILES:
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_permissions_and_content_change_together(world: World) -> None:
    from ms365sync.emulator import BytesContent

    world.ok()
    world.tenant.edit_file(world.drive, "readme.md", BytesContent(b"v2"))
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    result = world.ok()
    assert result.log is not None
    entry = result.log.changes.modified["readme.md"]
    assert entry.content_changed and entry.permissions_changed
    assert entry.permission_changes.added == ["Alice Jones:::View"]
    assert not result.log.changes.permission_only_changes


def test_reads_go_through_batches_of_at_most_20(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    add_many(world, 45)
    world.ok(prefer_sharing=False)  # without hierarchical hints every file is read
    batches = world.recorder.batches()
    assert batches and all(len(b.batch_urls) <= 20 for b in batches)
    reads = world.recorder.permission_reads()
    assert len(reads) == len(set(reads)) == len(world.remote_files())
    assert not [c for c in world.recorder.calls if c.path.endswith("/permissions")]
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_throttled_sub_requests_are_retried_alone(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    add_many(world, 30)
    world.faults("429=0.3,retry-after=0,scope=permissions")
    world.ok(prefer_sharing=False)
    history: dict[str, list[int]] = defaultdict(list)
    for call in world.recorder.batches():
        for url, status in call.batch_results:
            history[url].append(status)
    assert any(429 in statuses for statuses in history.values())
    for url, statuses in history.items():
        # Sent again only after a 429, and never again once answered.
        assert statuses[-1] == 200, url
        assert all(status == 429 for status in statuses[:-1]), url
    for path in world.remote_files():
        assert world.permissions_json()[path] == world.expected_labels(path)


def test_failed_permission_read_is_an_error_never_an_empty_list(world: World) -> None:
    world.faults("500=1.0,scope=permissions")
    first = world.ok(max_attempts=2)
    assert first.log is not None
    assert set(first.log.errors) == set(FIRST_FILES)
    assert not first.log.changes.added
    assert world.permissions_json() == {}
    world.faults("")
    fixed = world.ok()
    assert fixed.log is not None and set(fixed.log.changes.added) == set(FIRST_FILES)
    for path in FIRST_FILES:
        assert fixed.log.changes.added[path].permissions == world.expected_labels(path)


def test_failed_permission_read_keeps_the_known_permissions(world: World) -> None:
    world.ok()
    before = world.permissions_json()
    world.tenant.grant(world.drive, "Plans", ALICE, Role.READ)
    world.faults("500=1.0,scope=permissions")
    failing = world.ok(max_attempts=2)
    assert failing.log is not None
    assert not failing.log.changes.permission_only_changes
    # Delta re-sent the library root as the folder's ancestor, so the root's files could not
    # be confirmed either.
    assert set(failing.log.errors) == {"Plans/budget.csv", "Plans/2026/plan.txt", "readme.md"}
    assert world.permissions_json() == before  # never "all permissions removed"
    world.faults("")
    retried = world.ok()
    assert retried.log is not None
    assert set(retried.log.changes.permission_only_changes) == {
        "Plans/budget.csv",
        "Plans/2026/plan.txt",
    }
    assert not retried.log.errors


def _run(world: World, policy: PermissionPolicy, now: float, **spec: object) -> SyncResult:
    with world.client() as client:
        syncer = Syncer(world.spec(permissions=policy, **spec), client, clock=lambda: now)
        result = syncer.sync()
    assert result.ok, result.error
    return result


def _grants(world: World, path: str) -> dict[str, tuple[str, ...]]:
    store = StateStore(world.root / ".ms365sync")
    try:
        for file in store.mirror_files():
            if file.path == path:
                return {
                    g.display_name: g.recipients
                    for g in file.permissions.grants
                    if g.kind is PrincipalKind.LINK
                }
    finally:
        store.close()
    raise AssertionError(path)


@pytest.mark.parametrize("mode", ["never", "interval"])
def test_without_a_sweep_only_changed_roots_are_read(world: World, mode: str) -> None:
    policy = PermissionPolicy(mode=mode, interval_s=3600)  # type: ignore[arg-type]
    add_many(world, 10)
    _run(world, policy, 1000.0)
    world.recorder.reset()
    _run(world, policy, 2000.0)
    assert world.recorder.permission_reads() == []
    world.tenant.grant(world.drive, "Plans", ALICE, Role.READ)
    world.recorder.reset()
    result = _run(world, policy, 3000.0)
    assert result.log is not None
    assert set(result.log.changes.permission_only_changes) == {
        "Plans/budget.csv",
        "Plans/2026/plan.txt",
    }
    # The changed folder and the library root delta re-sent as its ancestor; no file.
    folder = world.tenant.item(world.drive, "Plans").id
    root = world.drive.root.id
    read = {url.split("/items/")[1].split("/")[0] for url in world.recorder.permission_reads()}
    assert read == {folder, root}


def test_interval_full_sweep_reads_every_file_when_due(world: World) -> None:
    policy = PermissionPolicy(mode="interval", interval_s=3600, sweep="full")
    _run(world, policy, 1000.0)
    world.recorder.reset()
    _run(world, policy, 1000.0 + 3600)
    files = {world.tenant.item(world.drive, p).id for p in FIRST_FILES}
    read = {url.split("/items/")[1].split("/")[0] for url in world.recorder.permission_reads()}
    assert files <= read
    world.recorder.reset()
    _run(world, policy, 1000.0 + 3700)  # swept 100 s ago: not due
    assert world.recorder.permission_reads() == []


@pytest.mark.parametrize("kind", ["structure", "full"])
def test_always_sweep_catches_what_the_hints_miss(world: World, kind: SweepKind) -> None:
    t, d = world.tenant, world.drive
    t.add_link(d, "readme.md", "view", "users", recipients=["Alice Jones"])
    never = PermissionPolicy(mode="never")
    _run(world, never, 1000.0)
    link = "Sharing Link (view, users)"
    assert len(_grants(world, "readme.md")[link]) == 1
    # Delta reports nothing for a recipient added to an existing link (realistic gaps).
    t.add_link_recipient(d, "readme.md", "view/users", "Bob Smith")
    _run(world, never, 2000.0)
    assert len(_grants(world, "readme.md")[link]) == 1  # missed without a sweep
    world.recorder.reset()
    _run(world, PermissionPolicy(mode="always", sweep=kind), 3000.0)
    assert len(_grants(world, "readme.md")[link]) == 2
    reads = {url.split("/items/")[1].split("/")[0] for url in world.recorder.permission_reads()}
    files = {t.item(d, path).id for path in FIRST_FILES}
    if kind == "full":
        assert files <= reads
    else:  # only the roots the files take their permissions from
        roots = {t.item(d, path).permission_root().id for path in FIRST_FILES}
        assert reads == roots and len(roots) < len(files)


def test_always_sweep_catches_changes_delta_does_not_show(world: World) -> None:
    """Without the sharing Prefer headers delta shows no permission change at all."""
    never = PermissionPolicy(mode="never")
    _run(world, never, 1000.0, prefer_sharing=False)
    world.tenant.grant(world.drive, "readme.md", ALICE, Role.READ)
    missed = _run(world, never, 2000.0, prefer_sharing=False)
    assert missed.log is not None and not missed.log.has_changes
    caught = _run(world, PermissionPolicy(mode="always"), 3000.0, prefer_sharing=False)
    assert caught.log is not None
    entry = caught.log.changes.permission_only_changes["readme.md"].permission_changes
    assert entry.added == ["Alice Jones:::View"]
    # A removal on a file that inherits (it breaks inheritance, delta marks nothing).
    world.tenant.revoke(world.drive, "Plans/budget.csv", "sitegroup:Visitors")
    swept = _run(world, PermissionPolicy(mode="always"), 4000.0, prefer_sharing=False)
    assert swept.log is not None
    entry = swept.log.changes.permission_only_changes["Plans/budget.csv"].permission_changes
    assert entry.removed == [VISITORS]


def test_sweep_with_hierarchical_hints_finds_unique_file_permissions(world: World) -> None:
    """A sweep learns which files differ from their folder and keeps them apart."""
    always = PermissionPolicy(mode="always")
    _run(world, always, 1000.0)
    world.tenant.revoke(world.drive, "Plans/budget.csv", "sitegroup:Visitors")
    world.tenant.grant(world.drive, "Plans", ALICE, Role.READ)
    result = _run(world, always, 2000.0)
    assert result.log is not None
    changes = result.log.changes.permission_only_changes
    for path in ("Plans/budget.csv", "Plans/2026/plan.txt"):
        assert changes[path].permission_changes.current == world.expected_labels(path)
    never = PermissionPolicy(mode="never")
    world.tenant.restore_inheritance(world.drive, "Plans/budget.csv")
    restored = _run(world, never, 3000.0)
    assert restored.log is not None
    entry = restored.log.changes.permission_only_changes["Plans/budget.csv"]
    assert entry.permission_changes.current == world.expected_labels("Plans/budget.csv")


def test_switching_the_sharing_hints_on_relists_and_follows_folders(world: World) -> None:
    never = PermissionPolicy(mode="never")
    _run(world, never, 1000.0, prefer_sharing=False)
    world.recorder.reset()
    switched = _run(world, never, 2000.0, prefer_sharing=True)
    assert switched.log is not None and switched.log.full_resync  # a new kind of feed
    assert not switched.log.has_changes
    world.tenant.grant(world.drive, "Plans", ALICE, Role.READ)  # children get no delta entry
    result = _run(world, never, 3000.0, prefer_sharing=True)
    assert result.log is not None
    assert set(result.log.changes.permission_only_changes) == {
        "Plans/budget.csv",
        "Plans/2026/plan.txt",
    }
