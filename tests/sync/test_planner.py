"""The pure planner: pairing by item id, the content predicate, and plan idempotence."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ms365sync.models import Action, ActionKind, LocalStat, MirrorFile, PermissionSet, RemoteFile
from ms365sync.sync.plan import plan, same_content

PERMS = PermissionSet(("Owners:::Full Control",))
OTHER = PermissionSet(("Owners:::Full Control", "Alice:::View"))


def remote(item_id: str = "A", path: str = "a.txt", **kw: object) -> RemoteFile:
    values: dict[str, object] = {
        "item_id": item_id,
        "path": path,
        "local_path": path,
        "size": 3,
        "ctag": '"c:{A},1"',
        "quick_xor_hash": "h1",
        "etag": '"{A},1"',
        "modified": "2026-01-01T00:00:00Z",
        "permissions": PERMS,
    }
    values.update(kw)
    return RemoteFile(**values)  # type: ignore[arg-type]


def mirrored(file: RemoteFile, mtime_ns: int = 1) -> MirrorFile:
    assert file.permissions is not None
    return MirrorFile(
        item_id=file.item_id,
        path=file.path,
        local_path=file.local_path,
        size=file.size,
        ctag=file.ctag,
        quick_xor_hash=file.quick_xor_hash,
        etag=file.etag,
        modified=file.modified,
        mtime_ns=mtime_ns,
        permissions=file.permissions,
    )


def kinds(actions: object) -> list[ActionKind]:
    return [a.kind for a in actions]  # type: ignore[attr-defined]


def test_new_changed_deleted() -> None:
    old = [mirrored(remote("B", "b.txt")), mirrored(remote("C", "c.txt"))]
    new = [remote("A"), remote("B", "b.txt", ctag='"c:{B},2"', quick_xor_hash="h2")]
    assert kinds(plan(new, old)) == [
        ActionKind.DOWNLOAD_NEW,
        ActionKind.DOWNLOAD_CHANGED,
        ActionKind.DELETE,
    ]


def test_metadata_only_edit_does_not_download() -> None:
    old = mirrored(remote())
    new = remote(etag='"{A},2"', modified="2026-01-02T00:00:00Z")
    assert kinds(plan([new], [old])) == [ActionKind.METADATA]


def test_ctag_bump_with_same_hash_is_not_a_content_change() -> None:
    assert same_content(remote(ctag='"c:{A},9"'), mirrored(remote()))
    assert not same_content(remote(ctag='"c:{A},9"', quick_xor_hash="h9"), mirrored(remote()))
    assert not same_content(remote(size=4), mirrored(remote()))
    # Nothing to compare but the remote timestamp: a missing hash is unknown, not a change.
    no_tags = remote(ctag=None, quick_xor_hash=None)
    assert same_content(no_tags, mirrored(no_tags))
    assert not same_content(remote(ctag=None, quick_xor_hash=None, modified="x"), mirrored(no_tags))


def test_move_is_recognised_by_id_and_keeps_content() -> None:
    actions = list(plan([remote(path="new/a.txt")], [mirrored(remote())]))
    assert kinds(actions) == [ActionKind.MOVE]
    assert not actions[0].content_changed


def test_permission_only_change() -> None:
    assert kinds(plan([remote(permissions=OTHER)], [mirrored(remote())])) == [
        ActionKind.PERMISSIONS
    ]


def test_unreadable_permissions_never_mean_empty() -> None:
    # A new file whose permissions failed is skipped, not added with no permissions.
    assert kinds(plan([remote(permissions=None)], [])) == [ActionKind.SKIP]
    # A known file keeps its recorded permissions and reports no permission change.
    actions = list(plan([remote(permissions=None)], [mirrored(remote(permissions=OTHER))]))
    assert kinds(actions) == [ActionKind.SKIP]
    assert actions[0].remote is not None
    assert actions[0].remote.permissions == OTHER


def test_local_edit_or_loss_is_a_repair() -> None:
    old = mirrored(remote(), mtime_ns=5)
    assert kinds(plan([remote()], [old], {"a.txt": LocalStat(3, 5)})) == []
    assert kinds(plan([remote()], [old], {"a.txt": LocalStat(4, 5)})) == [ActionKind.REPAIR]
    assert kinds(plan([remote()], [old], {})) == [ActionKind.REPAIR]


ids = st.sampled_from(["A", "B", "C", "D", "E"])
files = st.builds(
    remote,
    item_id=ids,
    path=st.sampled_from(["a.txt", "b/c.txt", "d.md", "e/f/g.csv"]),
    ctag=st.sampled_from(['"c:{X},1"', '"c:{X},2"', None]),
    quick_xor_hash=st.sampled_from(["h1", "h2", None]),
    etag=st.sampled_from(['"{X},1"', '"{X},2"']),
    permissions=st.sampled_from([PERMS, OTHER, None]),
)


def _apply(actions: list[Action], state: dict[str, MirrorFile]) -> None:
    """What the syncer does with each action, reduced to the recorded mirror."""
    for action in actions:
        if action.kind is ActionKind.DELETE:
            assert action.mirror is not None
            del state[action.mirror.item_id]
        elif action.kind is not ActionKind.SKIP:
            assert action.remote is not None
            state[action.remote.item_id] = mirrored(action.remote)


unique_files = st.lists(files, unique_by=lambda f: f.item_id)


@given(unique_files, unique_files)
def test_replanning_after_applying_yields_nothing(
    remote_files: list[RemoteFile], mirror_seed: list[RemoteFile]
) -> None:
    remote_files.sort(key=lambda f: f.item_id)
    state = {f.item_id: mirrored(f if f.permissions else remote(f.item_id)) for f in mirror_seed}
    first = list(plan(remote_files, sorted(state.values(), key=lambda m: m.item_id)))
    _apply(first, state)
    again = list(plan(remote_files, sorted(state.values(), key=lambda m: m.item_id)))
    assert {a.kind for a in again} <= {ActionKind.SKIP}
    assert len(again) == sum(1 for f in remote_files if f.permissions is None)


def test_a_pinned_file_only_ever_has_its_permissions_brought_up_to_date() -> None:
    """A file kept as recorded (sync.issues) is never fetched, moved or repaired: its
    permissions follow the library, its content and place stay."""
    record = mirrored(remote())
    edited = {"a.txt": LocalStat(99, 7)}  # a local edit would otherwise be repaired
    pinned = remote(permissions=OTHER, pinned=True)
    assert [a.kind for a in plan([pinned], [record], edited)] == [ActionKind.PERMISSIONS]
    assert list(plan([remote(pinned=True)], [record], edited)) == []
    unread = remote(permissions=None, pinned=True)
    assert [a.kind for a in plan([unread], [record], edited)] == [ActionKind.SKIP]
