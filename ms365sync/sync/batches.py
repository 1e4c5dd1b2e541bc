"""Carrying out a target's plan in batches, so a run's memory does not grow with the library.

The plan is a merge of two item-id-sorted streams (the remote files, the mirror's records),
so it is cheap to read twice. The first pass (`survey`) counts what the max-delete guard
needs, picks the download URLs worth keeping, and finds the places that actions depend on
each other for: the new places of moves, and recorded places that a new file takes. The
second pass applies new files, permission and metadata changes that neither take nor hold
such a place in batches of `BATCH` (recording each batch and reporting it to the change
log before the next); deletions, moves, replacements of existing files and whatever takes
or holds their places wait, and are applied together at the end, where the applier orders
them as one plan and stages replacements until every download succeeded. So memory grows
with what changed, not with the library (an initial sync is all new files), and a run that
fails records nothing (one state transaction) and leaves the previous mirror's files as
they were (new files it placed are adopted by the next run). A requested stop starts no
further batch: what the run did is recorded, the rest is planned again by the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ms365sync.models import Action, ActionKind, LocalStat, MirrorFile, RemoteFile
from ms365sync.state.store import StateStore
from ms365sync.sync.apply import Applier, Done
from ms365sync.sync.downloadurls import DownloadUrls
from ms365sync.sync.inputs import Entry, RemoteNotes
from ms365sync.sync.plan import DeleteLimit, check_deletions, plan
from ms365sync.sync.report import LogBuilder
from ms365sync.sync.stop import Stop

BATCH = 2000  # independent actions applied and recorded together
# Deletions, moves and replacements of existing files wait for the end, where the applier
# does them only when every download succeeded: a run that fails (a full disk) leaves the
# previous mirror's files as they were, however many batches it applied.
_LAST = {ActionKind.DELETE, ActionKind.MOVE, ActionKind.DOWNLOAD_CHANGED, ActionKind.REPAIR}
_CONTENT = {ActionKind.DOWNLOAD_NEW, ActionKind.DOWNLOAD_CHANGED, ActionKind.REPAIR}
_FETCHED = {
    ActionKind.DOWNLOAD_NEW,
    ActionKind.DOWNLOAD_CHANGED,
    ActionKind.REPAIR,
    ActionKind.MOVE,
}


@dataclass(frozen=True)
class Streams:
    """Fresh iterators over the plan's inputs (each pass reads them again)."""

    remote: Callable[[], Iterator[Entry]]
    mirror: Callable[[], Iterator[MirrorFile]]
    local: Mapping[str, LocalStat] | None

    def actions(self) -> Iterator[Action]:
        """The plan, once more (the remarks on the tree were taken by the survey)."""
        remote = (entry for entry in self.remote() if isinstance(entry, RemoteFile))
        return plan(remote, self.mirror(), self.local)


@dataclass
class Survey:
    """What the first pass found."""

    notes: RemoteNotes = field(default_factory=RemoteNotes)  # remarks on the tree's files
    deletions: int = 0
    mirrored: int = 0  # mirror records the plan covers
    places: set[str] = field(default_factory=set)  # local paths actions depend on each other for
    fetch_files: int = 0  # files whose content the run downloads (or finds in place)
    fetch_bytes: int = 0  # ... and their listed sizes


@dataclass
class Tally:
    """What the applied actions add up to."""

    changed: bool = False  # files or permissions of the mirror changed
    clean: bool = True  # no action failed or was skipped
    interrupted: bool = False  # a stop left actions of the plan undone
    contents: int = 0  # actions that fetched a file's content, done
    moved: int = 0
    downloaded_files: int = 0
    downloaded_bytes: int = 0


def survey(state: StateStore, streams: Streams, urls: DownloadUrls) -> Survey:
    """The first pass; forgets the listed URLs of files the run will not fetch."""
    found = Survey()
    recorded = state.mirror_local_paths()
    fetched: set[str] = set()
    counted = _counting(streams.mirror, found)
    for action in plan(found.notes.files(streams.remote()), counted, streams.local):
        if action.kind is ActionKind.DELETE:
            found.deletions += 1
        if action.kind in _FETCHED:
            fetched.add(action.item_key)
        if _fetches(action):
            assert action.remote is not None
            found.fetch_files += 1
            found.fetch_bytes += action.remote.size
        if action.kind is ActionKind.MOVE:
            assert action.remote is not None
            found.places.add(action.remote.local_path)
        elif action.kind is ActionKind.DOWNLOAD_NEW:
            assert action.remote is not None
            if action.remote.local_path in recorded:
                found.places.add(action.remote.local_path)
    urls.retain(fetched)
    return found


def _counting(mirror: Callable[[], Iterator[MirrorFile]], found: Survey) -> Iterator[MirrorFile]:
    for record in mirror():
        found.mirrored += 1
        yield record


def guard(target: str, found: Survey, limit: DeleteLimit) -> None:
    """The max-delete guard, before anything is done (raises SafetyError)."""
    check_deletions(target, found.deletions, found.mirrored, limit)


def carry_out(
    state: StateStore,
    streams: Streams,
    found: Survey,
    applier: Applier,
    builder: LogBuilder,
    *,
    stop: Stop | None = None,
) -> Tally:
    """The second pass: apply (a `Previewer` in a dry run) and record every action; after
    a `stop`, no further batch (`Tally.interrupted` when actions were left undone).

    Raises:
        LocalStorageError: the local file system failed; the run must not be recorded.
    """
    tally = Tally()
    settle = _Settler(state, applier, builder, tally)
    dependent: list[Action] = []
    batch: list[Action] = []
    actions = streams.actions()
    for action in actions:
        if _depends(action, found.places):
            dependent.append(action)
            continue
        batch.append(action)
        if len(batch) >= BATCH:
            settle(batch)
            batch = []
            if _stopped(stop):
                break
    for rest in (batch, dependent):
        if _stopped(stop):
            break
        settle(rest)
        rest.clear()
    left = bool(batch or dependent) or next(actions, None) is not None
    tally.interrupted = tally.interrupted or (_stopped(stop) and left)
    tally.clean = tally.clean and not tally.interrupted
    return tally


def _stopped(stop: Stop | None) -> bool:
    return stop is not None and stop.requested


def _depends(action: Action, places: set[str]) -> bool:
    """Whether the action leaves or replaces a file of the mirror, or takes or holds a place
    another action wants."""
    if action.kind in _LAST:
        return True
    remote, mirror = action.remote, action.mirror
    return (remote is not None and remote.local_path in places) or (
        mirror is not None and mirror.local_path in places
    )


@dataclass
class _Settler:
    state: StateStore
    applier: Applier
    builder: LogBuilder
    tally: Tally

    def __call__(self, actions: list[Action]) -> None:
        if not actions:
            return
        results = self.applier.apply(actions)
        self.tally.interrupted = self.tally.interrupted or self.applier.interrupted
        self._record(results)
        self.builder.record(results)

    def _record(self, results: Iterable[Done]) -> None:
        tally = self.tally
        for done in results:
            action = done.action
            if done.error is not None or action.kind is ActionKind.SKIP:
                tally.clean = False
            if done.error is not None:
                continue
            tally.contents += _fetches(action)
            if done.downloaded:
                tally.downloaded_files += 1
                tally.downloaded_bytes += done.downloaded
            if done.record is not None:
                self.state.put_mirror(done.record)
                tally.changed = tally.changed or action.kind is not ActionKind.METADATA
            elif action.kind is ActionKind.DELETE and action.mirror is not None:
                self.state.drop_mirror(action.mirror.item_id)
                tally.changed = True
            tally.moved += action.kind is ActionKind.MOVE


def _fetches(action: Action) -> bool:
    """Whether `action` fetches a file's content (new, changed, repaired, or moved with
    new content): what the progress totals and an interrupt's count of files done count."""
    return action.kind in _CONTENT or (action.kind is ActionKind.MOVE and action.content_changed)
