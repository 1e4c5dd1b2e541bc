"""Deciding what to do: pair the remote files with the mirror's records and the local disk,
and produce the actions that make the mirror equal to the remote. Pure: no I/O, no clock.

Both inputs are sorted by item id, so pairing is a merge (like rclone's march) that holds
neither side in memory. Renames and moves are recognised by item id. Whether two versions
have the same content is decided in one place, `same_content`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ms365sync.errors import SafetyError
from ms365sync.models import (
    Action,
    ActionKind,
    LocalStat,
    MirrorFile,
    RemoteFile,
    as_recorded,
)

PERCENT_GUARD_MIN_FILES = 10  # below this a percentage says little (1 of 3 files is 33 %)


def same_content(remote: RemoteFile, mirror: MirrorFile) -> bool:
    """The one predicate for "is this file unchanged?", from remote facts only (never the
    local mtime): size, then cTag, then quickXorHash, then the remote timestamp.

    A cTag bump without a hash change (a restored version, a re-save) is not a content
    change. A missing hash is "unknown", not a change (graph-facts §3.5): without cTag or hash the
    remote lastModifiedDateTime decides.
    """
    if remote.size != mirror.size:
        return False
    if remote.ctag is not None and remote.ctag == mirror.ctag:
        return True
    if remote.quick_xor_hash is not None and mirror.quick_xor_hash is not None:
        return remote.quick_xor_hash == mirror.quick_xor_hash
    if remote.ctag is not None and mirror.ctag is not None:
        return False
    return remote.modified == mirror.modified


def plan(
    remote: Iterable[RemoteFile],
    mirror: Iterable[MirrorFile],
    local: Mapping[str, LocalStat] | None = None,
) -> Iterator[Action]:
    """The actions that bring the mirror to the remote state.

    `remote` and `mirror` must be sorted by item id. `local` maps local paths under data/ to
    what is on disk; when given, recorded files that are missing or were edited locally are
    repaired. Every yielded action concerns one item id.
    """
    remote_iter, mirror_iter = iter(remote), iter(mirror)
    r, m = next(remote_iter, None), next(mirror_iter, None)
    while r is not None or m is not None:
        if m is None or (r is not None and r.item_id < m.item_id):
            assert r is not None
            yield _new_file(r)
            r = next(remote_iter, None)
        elif r is None or m.item_id < r.item_id:
            yield Action(ActionKind.DELETE, mirror=m, reason="deleted")
            m = next(mirror_iter, None)
        else:
            yield from _pair(r, m, local)
            r, m = next(remote_iter, None), next(mirror_iter, None)


def _new_file(remote: RemoteFile) -> Action:
    if remote.permissions is None:
        return Action(ActionKind.SKIP, remote=remote, reason="permissions could not be read")
    return Action(ActionKind.DOWNLOAD_NEW, remote=remote, content_changed=True)


def _pair(
    remote: RemoteFile, mirror: MirrorFile, local: Mapping[str, LocalStat] | None
) -> Iterator[Action]:
    if remote.permissions is None:
        # An unreadable permission list is an error for this file, retried next run: never
        # "all permissions removed", and no move or new content reported with the recorded
        # permissions either (they may be wider than the new ones). The next run does it all.
        remote = dataclasses.replace(remote, permissions=mirror.permissions)
        yield Action(ActionKind.SKIP, remote=remote, mirror=mirror, reason="permissions unread")
        return
    if remote.pinned:
        # Its content and place stay as recorded; its permissions never lag behind.
        yield from _permissions_only(remote, mirror)
        return
    content = not same_content(remote, mirror)
    if remote.path != mirror.path or remote.local_path != mirror.local_path:
        yield Action(ActionKind.MOVE, remote=remote, mirror=mirror, content_changed=content)
        return
    if content:
        yield Action(
            ActionKind.DOWNLOAD_CHANGED, remote=remote, mirror=mirror, content_changed=True
        )
        return
    yield from _permissions_only(remote, mirror)
    if local is not None and not as_recorded(
        local.get(mirror.local_path), mirror.size, mirror.mtime_ns
    ):
        yield Action(ActionKind.REPAIR, remote=remote, mirror=mirror, reason="local copy changed")


def _permissions_only(remote: RemoteFile, mirror: MirrorFile) -> Iterator[Action]:
    """The action for a file whose content and place are as recorded, if any."""
    assert remote.permissions is not None
    if remote.permissions.labels != mirror.permissions.labels:
        yield Action(ActionKind.PERMISSIONS, remote=remote, mirror=mirror)
    elif remote.metadata is not None and remote.metadata != mirror.metadata:
        # Its document metadata changed (columns, content type, label): reported; metadata
        # no longer read (None) is forgotten silently below.
        yield Action(ActionKind.COLUMNS, remote=remote, mirror=mirror)
    elif (
        _recorded(remote) != _recorded(mirror)
        or remote.permissions != mirror.permissions
        or remote.metadata != mirror.metadata
    ):
        yield Action(ActionKind.METADATA, remote=remote, mirror=mirror)


def _recorded(file: RemoteFile | MirrorFile) -> tuple[str | None, ...]:
    return (file.etag, file.modified, file.ctag, file.quick_xor_hash)


@dataclass(frozen=True)
class DeleteLimit:
    """The max-delete guard's settings (None: no limit of that kind)."""

    max_count: int | None = 1000
    max_percent: float | None = 50.0
    protect_empty: bool = True  # emptying a mirror of more than one file needs `force`


def check_deletions(target: str, deletions: int, mirrored: int, limit: DeleteLimit) -> None:
    """Stop a plan that deletes more than the limits allow, or empties the whole mirror.

    A listing that suddenly shows an empty library (access revoked, the wrong library
    configured) is the classic way to lose a mirror, so emptying one of more than one file
    always needs `force`.

    `deletions` of the `mirrored` records the plan covers.

    Raises:
        SafetyError: the plan deletes too much.
    """
    if not deletions:
        return
    if limit.max_count is not None and deletions > limit.max_count:
        raise SafetyError(
            target=target,
            would_delete=deletions,
            limit=limit.max_count,
            total=mirrored,
            setting="max_delete",
            value=limit.max_count,
        )
    if limit.max_percent is not None and mirrored >= PERCENT_GUARD_MIN_FILES:
        allowed = int(mirrored * limit.max_percent / 100)
        if deletions > allowed:
            raise SafetyError(
                target=target,
                would_delete=deletions,
                limit=allowed,
                total=mirrored,
                setting="max_delete_percent",
                value=limit.max_percent,
            )
    if limit.protect_empty and deletions >= mirrored > 1:
        raise SafetyError(target=target, would_delete=deletions, limit=mirrored - 1, total=mirrored)
