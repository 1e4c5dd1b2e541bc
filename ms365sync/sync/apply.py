"""Doing what the plan decided: downloads (concurrent), moves, deletions and metadata.

Two phases keep the previous mirror intact when the run fails:

1. content: every download runs in a worker pool over the client's pooled session, into a
   hidden temporary file beside its destination, judged against its listing as the
   target's `verify` says (`sync.fetch`); a fresh download URL from the listing saves the
   `/content` round trip, once. New
   files are renamed into place at once; replacements of existing files, and files taking
   the place of another recorded file, stay staged (up to `MAX_STAGED` of the former) until
   phase 2, so a run that dies of a full disk replaced nothing.
2. local changes, only when phase 1 raised nothing fatal: deletions, moves (through a hidden
   temporary name when files swap names; with new content, once every old place is
   vacated), staged replacements, timestamps.

Per-file failures (network, throttling, a file deleted or locked meanwhile, bytes that are
not the listed ones, unreadable permissions) become errors in the outcome, each with its
cause (`sync.issues` decides when it is tried again); so does a move or new file whose
place a file with such a failure keeps. A local storage error is fatal for the target.

A requested stop (`sync.stop`) starts no more downloads; the actions whose content did not
arrive are left out of the outcome (neither done nor failed: the next run plans them
again) and hold their places like failed ones. Everything an abandoned download would
still do under `data/` goes through the stop's fence, so nothing lands after the run
recorded its outcome.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import BinaryIO

from loguru import logger

from ms365sync.errors import LocalStorageError, MS365SyncError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.download import same_hash
from ms365sync.graph.throttle import GateStats
from ms365sync.localfs.mirror import Mirror, timestamp_ns
from ms365sync.localfs.tempfile import TempFile
from ms365sync.models import Action, ActionKind, MirrorFile, RemoteFile, as_recorded
from ms365sync.sync.concurrency import AUTO_CAP, DownloadLimit, download_limit
from ms365sync.sync.downloadurls import DownloadUrls
from ms365sync.sync.fetch import Fetcher, Verification
from ms365sync.sync.issues import Cause, describe, of_failure
from ms365sync.sync.stop import Abandoned, Stop
from ms365sync.sync.workers import run_each
from ms365sync.target import DOWNLOAD_GIVE_UP_S, VerifyMode

MAX_STAGED = 256  # replacements held back until phase 2 (each holds open descriptors)
_CONTENT = {ActionKind.DOWNLOAD_NEW, ActionKind.DOWNLOAD_CHANGED, ActionKind.REPAIR}
_LEAVING = {ActionKind.DELETE, ActionKind.MOVE}  # actions that vacate their recorded place
_ARRIVING = {ActionKind.DOWNLOAD_NEW, ActionKind.MOVE}  # actions that take a new place


@dataclass
class Done:
    """The result of one action: the record to keep (None: forget it) or an error."""

    action: Action
    record: MirrorFile | None = None
    error: str | None = None
    adopted: bool = False  # the right content was already on disk
    downloaded: int = 0  # bytes
    cause: Cause | None = None  # of an error (None: the plan's own, or unclassified)
    verification: Verification | None = None  # how far new content was checked, if not fully
    # New content that is byte for byte the copy recorded (a record rebuilt from the disk
    # after a lost state, of a file listed without a hash or served other than listed):
    # no content change to report.
    same_bytes: bool = False


@dataclass
class _Fetched:
    remote: RemoteFile
    temp: TempFile | None  # None: already in place (adopted, or committed in phase 1)
    downloaded: int = 0
    verification: Verification | None = None
    served_hash: str | None = None  # of the bytes downloaded


@dataclass
class Progress:
    """Callbacks for progress display: files and bytes done, the totals to fetch once the
    listing is planned (files, bytes), and the end of the target's run (ok or not)."""

    on_file: Callable[[int], None] | None = None
    on_bytes: Callable[[int], None] | None = None
    on_total: Callable[[int, int], None] | None = None
    on_finish: Callable[[bool], None] | None = None


@dataclass
class Applier:
    """Applies one target's plan."""

    client: GraphClient
    mirror: Mirror
    drive_id: str
    concurrency: int | None = None  # downloads in flight at once; None: "auto" (sync.concurrency)
    max_downloads: int = AUTO_CAP  # what "auto" may grow to (the run's max_connections)
    progress: Progress = field(default_factory=Progress)
    foreign: frozenset[str] = frozenset()  # files under data/ that ms365sync did not place
    give_up: float = DOWNLOAD_GIVE_UP_S  # seconds a download may fail without getting further
    urls: DownloadUrls = field(default_factory=DownloadUrls, repr=False)  # listed, signed
    stop: Stop | None = None  # a requested stop starts no more downloads
    verify: VerifyMode = "consistent"  # how downloads are checked (sync.fetch)
    interrupted: bool = False  # a stop left some of the actions of an `apply` undone
    _claimed: dict[str, str] = field(default_factory=dict)  # local path -> item id recorded there
    _deleted: frozenset[str] = frozenset()  # local paths of records this plan deletes
    _inherited: set[str] = field(default_factory=set)  # ... whose file another item adopted
    _staged: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    limit: DownloadLimit = field(init=False, repr=False)  # one for every batch of the run

    def __post_init__(self) -> None:
        self.limit = download_limit(self.concurrency, self.max_downloads)

    def apply(self, actions: Sequence[Action]) -> list[Done]:
        """Carry out `actions` (one target's plan) and return what happened to each; when a
        stop cut the downloads short (`interrupted`), the actions left undone are missing.

        Raises:
            LocalStorageError: the local file system failed (disk full, read-only ...);
                staged replacements are discarded and nothing was deleted or moved.
        """
        fetch = [a for a in actions if self._needs_content(a)]
        self._claimed = {a.mirror.local_path: a.mirror.item_id for a in actions if a.mirror}
        self._deleted = frozenset(
            a.mirror.local_path for a in actions if a.mirror and a.kind is ActionKind.DELETE
        )
        self._inherited = set()
        logger.debug("fetching {} files", len(fetch))
        fetched, results = self._fetch_all(fetch)
        # An action a stop left undone keeps its place, as a failed one does.
        undone = {
            a.item_key: Done(a, error="interrupted")
            for a in fetch
            if a.item_key not in fetched and a.item_key not in results
        }
        self.interrupted = bool(undone)
        results.update(undone)
        logger.debug("placing files: deletions, moves, replacements")
        results.update(_blocked(actions, results))
        self._discard_all([fetched.pop(key) for key in results if key in fetched])
        done = [self._per_file(a, self._delete) for a in actions if a.kind is ActionKind.DELETE]
        moves = [a for a in actions if a.kind is ActionKind.MOVE]
        # A move whose new content could not be fetched stays where it is (retried next run).
        done.extend(results[a.item_key] for a in moves if a.item_key in results)
        done.extend(self._moves([a for a in moves if a.item_key not in results], fetched))
        for action in actions:
            if action.kind in _CONTENT:
                place = functools.partial(self._place, fetched=fetched)
                done.append(results.get(action.item_key) or self._per_file(action, place))
            elif action.kind in (ActionKind.PERMISSIONS, ActionKind.METADATA, ActionKind.COLUMNS):
                done.append(self._per_file(action, self._touch))
            elif action.kind is ActionKind.SKIP:
                done.append(Done(action, error=action.reason))
        return [d for d in done if d.action.item_key not in undone]

    @staticmethod
    def _per_file(action: Action, step: Callable[[Action], Done]) -> Done:
        """Run one action's local step; something of someone else's in the way (a symbolic
        link, a folder where a file goes) fails that file only, never the target."""
        try:
            return step(action)
        except LocalStorageError as exc:
            if not exc.in_the_way:  # fails this file only; any other error stops the target
                raise
            return Done(action, error=str(exc))

    # ------------------------------------------------------------------ phase 1

    def _fetch_all(self, actions: list[Action]) -> tuple[dict[str, _Fetched], dict[str, Done]]:
        """Fetch on the worker threads; what arrived, and what failed. An action in neither
        was not started, or abandoned, because of a stop."""
        fetched: dict[str, _Fetched] = {}
        failed: dict[str, Done] = {}

        limit = self.limit
        gate = self.client.gate

        def fetch(action: Action) -> None:  # on a worker thread; each writes its own key
            if not limit.enter(self.stop):
                return  # stopped while waiting for a place: not started
            took: float | None = None  # seconds, when a download completed
            before = gate.stats
            started = time.perf_counter()
            try:
                entry = self._fetch(action)
                if entry.downloaded:
                    took = time.perf_counter() - started
                with self._writing():  # placed and counted together, or neither
                    fetched[action.item_key] = self._landed(action, entry)
            except Abandoned:
                return  # its temporary file, if any, is the journal's to remove
            except LocalStorageError as exc:
                if not exc.in_the_way:
                    raise
                failed[action.item_key] = Done(action, error=str(exc))
            except _RefusedError as exc:
                failed[action.item_key] = Done(action, error=str(exc), cause=Cause.LOCAL)
            except MS365SyncError as exc:
                cause = of_failure(exc)
                failed[action.item_key] = Done(action, error=describe(cause, exc), cause=cause)
            finally:
                limit.leave(took, throttled=took is not None and _met_the_gate(before, gate.stats))
            if self.progress.on_file is not None:
                self.progress.on_file(1)

        try:
            run_each(actions, fetch, limit.threads, name="ms365sync-dl", stop=self.stop)
        except BaseException:  # a fatal local error (or an interruption): nothing is placed
            self._discard_all(list(fetched.values()))
            raise
        # Copies: an abandoned thread may still record a failure after this returns.
        return fetched.copy(), failed.copy()

    def _writing(self) -> AbstractContextManager[None]:
        """The stop's fence around one write under `data/` (raises Abandoned once closed)."""
        return self.stop.writing() if self.stop is not None else nullcontext()

    def _needs_content(self, action: Action) -> bool:
        if action.kind in _CONTENT:
            return True
        if action.kind is not ActionKind.MOVE:
            return False
        assert action.mirror is not None and action.remote is not None
        return (
            action.content_changed
            or action.remote.local_path in self.foreign
            or not _reachable_and_untouched(self.mirror, action.mirror)
        )

    def _fetch(self, action: Action) -> _Fetched:
        """The action's content in a temporary file (None: the right content is there).

        Raises:
            Abandoned: a stop abandoned the download (its temporary file stays).
        """
        remote = action.remote
        assert remote is not None
        url = self.urls.take(remote.item_id)  # used once, whatever happens below
        if self._already_there(action, remote):
            if self.progress.on_bytes is not None:
                self.progress.on_bytes(remote.size)  # counted in the total as well
            return _Fetched(remote, None)
        if remote.local_path in self.foreign:
            raise _RefusedError(in_the_way(remote))
        fetcher = Fetcher(
            self.client,
            self.mirror,
            self.drive_id,
            verify=self.verify,
            give_up=self.give_up,
            writing=self._writing,
            fenced=self._fenced,
        )
        got = fetcher.fetch(remote, url)
        if self.progress.on_bytes is not None:
            self.progress.on_bytes(got.size)
        return _Fetched(got.remote, got.temp, got.size, got.verification, got.quick_xor_hash)

    def _fenced(self, temp: TempFile) -> BinaryIO:
        """The temporary file, its writes through the stop's fence (when there is a stop)."""
        return temp.file if self.stop is None else self.stop.fenced(temp.file)

    def _landed(self, action: Action, entry: _Fetched) -> _Fetched:
        """Rename new files into place now; keep replacements staged.

        A file that would replace another item's file always waits for phase 2 (that file
        may still have to move away); a new version of the same file waits too, up to
        MAX_STAGED of them, beyond which it replaces its own old version at once.
        """
        remote, temp = entry.remote, entry.temp
        if temp is None:
            return entry
        own = action.mirror is not None and action.mirror.local_path == remote.local_path
        # A place another recorded file holds now is taken in phase 2, once it is known
        # whether that file leaves it (it may not: its own update may fail this run).
        claimed = self._claimed.get(remote.local_path, remote.item_id) != remote.item_id
        occupied = claimed or self.mirror.exists(remote.local_path)
        with self._lock:
            stage = occupied and (not own or self._staged < MAX_STAGED)
            self._staged += int(stage)
        if stage:
            return entry
        self.mirror.commit(temp, remote.local_path, mtime=_mtime(remote))
        return replace(entry, temp=None)

    def _already_there(self, action: Action, remote: RemoteFile) -> bool:
        """Whether the destination already holds this exact content (a run killed after
        placing the file but before committing, an unchanged local copy on repair, or the
        file of a deleted item that a new item with the same bytes replaces: a file deleted
        and uploaded again). Another recorded item's file is taken over only when that
        item is deleted (its deletion then keeps the file); one that moves away takes it."""
        holder = self._claimed.get(remote.local_path, remote.item_id)
        if holder != remote.item_id and remote.local_path not in self._deleted:
            return False
        stat = self.mirror.stat(remote.local_path)
        if stat is None or stat.size != remote.size or remote.quick_xor_hash is None:
            return False
        size, digest = self.mirror.hash_file(remote.local_path)
        there = size == remote.size and digest == remote.quick_xor_hash
        if there and holder != remote.item_id:
            with self._lock:
                self._inherited.add(remote.local_path)
        return there

    def _discard_all(self, fetched: Sequence[_Fetched]) -> None:
        for entry in fetched:
            if entry.temp is not None and not entry.temp.done:
                try:
                    self.mirror.discard(entry.temp)
                except LocalStorageError as exc:
                    logger.warning("could not remove a temporary file: {}", exc)

    # ------------------------------------------------------------------ phase 2

    def _delete(self, action: Action) -> Done:
        assert action.mirror is not None
        if action.mirror.local_path not in self._inherited:  # else a new item's file now
            self._remove_ours(action.mirror)
        return Done(action, record=None)

    def _remove_ours(self, record: MirrorFile) -> None:
        """Delete a file we placed, unless it changed since (someone else's edit stays)."""
        if untouched(self.mirror, record):
            self.mirror.delete(record.local_path)
        elif self.mirror.exists(record.local_path):
            logger.warning("kept {}: it was changed locally since it was mirrored", record.path)

    def _moves(self, moves: list[Action], fetched: dict[str, _Fetched]) -> list[Done]:
        """Move files: those with new content leave their old place first and arrive last,
        once every other move has vacated its old place (which may be their new one)."""
        done: list[Done] = []
        arriving: list[Action] = []
        renames = [a for a in moves if a.item_key not in fetched]
        for action in (a for a in moves if a.item_key in fetched):
            left = self._per_file(action, self._vacate)
            if left.error is None:
                arriving.append(action)
            else:
                done.append(left)
        self._discard_all([fetched.pop(d.action.item_key) for d in done])
        done.extend(self._renames(renames))
        place = functools.partial(self._place, fetched=fetched)
        done.extend(self._per_file(action, place) for action in arriving)
        return done

    def _vacate(self, action: Action) -> Done:
        assert action.mirror is not None
        self._remove_ours(action.mirror)
        return Done(action)

    def _renames(self, moves: list[Action]) -> list[Done]:
        """Rename moved files; files that swap names go through a hidden temporary name
        first (removed as a leftover if the run is killed before the second rename)."""
        done: list[Done] = []
        sources = {a.mirror.local_path for a in moves if a.mirror is not None}
        parked: list[tuple[Action, str]] = []
        for index, action in enumerate(moves):
            assert action.mirror is not None and action.remote is not None
            old, new = action.mirror.local_path, action.remote.local_path
            if new in sources and new != old:
                parking = self.mirror.park(old, f"mv{index % 1_000_000:06d}")
                parked.append((action, parking))
            else:
                self.mirror.move(old, new, replace=True)
                done.append(self._record(action, action.remote))
        for action, parking in parked:
            assert action.remote is not None
            self.mirror.unpark(parking, action.remote.local_path)
            done.append(self._record(action, action.remote))
        return done

    def _place(self, action: Action, fetched: dict[str, _Fetched]) -> Done:
        entry = fetched[action.item_key]
        adopted = entry.temp is None and entry.downloaded == 0
        if entry.temp is not None:
            self.mirror.commit(entry.temp, entry.remote.local_path, mtime=_mtime(entry.remote))
        result = self._record(
            action, entry.remote, fresh=entry.temp is not None, new_content=not adopted
        )
        result.adopted, result.downloaded = adopted, entry.downloaded
        result.verification = entry.verification
        result.same_bytes = _same_bytes(action.mirror, entry)
        return result

    def _touch(self, action: Action) -> Done:
        """Permission or metadata change: keep the file, refresh its timestamp and record."""
        assert action.remote is not None
        return self._record(action, action.remote)

    def _record(
        self, action: Action, remote: RemoteFile, *, fresh: bool = False, new_content: bool = False
    ) -> Done:
        """Record `remote` as mirrored by the file now at its local path, setting its time
        first if needed: in place only on the file the mirror placed, the one this run just
        renamed there (`fresh`) or the recorded inode (a move keeps it). The copy's size is
        recorded as found when this run placed its content (`new_content`)."""
        stat = self.mirror.stat(remote.local_path)
        if stat is None:
            return Done(action, error="the local file disappeared during the run")
        placed = stat.ino if fresh else action.mirror.ino if action.mirror else None
        # The copy's own size: what this run placed, else what the record says it is (a
        # local edit is not taken for the mirror's copy, it is repaired).
        size = stat.size if new_content else action.mirror.local_size if action.mirror else None
        wanted = _mtime(remote)
        if stat.mtime_ns != timestamp_ns(wanted):
            stat = self.mirror.set_mtime(remote.local_path, wanted, placed=placed)
        record = MirrorFile.placed(remote, stat.mtime_ns, stat.ino, local_size=size)
        return Done(action, record=record)


class _RefusedError(Exception):
    """A file this run must not write (someone else's file is in its place)."""


def in_the_way(remote: RemoteFile) -> str:
    return (
        f"a local file ms365sync did not place is in the way at data/{remote.local_path}; "
        "move it elsewhere and the next run will mirror this file"
    )


def _blocked(actions: Sequence[Action], failed: dict[str, Done]) -> dict[str, Done]:
    """The moves and new files whose place another recorded file keeps this run (its move,
    deletion or permission read failed): they wait too, so no file overwrites another one
    whose change has not been recorded. A blocked move keeps its own place in turn."""
    held = {
        a.mirror.local_path: a.mirror.item_id
        for a in actions
        if a.mirror is not None and (a.kind not in _LEAVING or a.item_key in failed)
    }
    blocked: dict[str, Done] = {}
    while True:
        waiting = [
            a
            for a in actions
            if a.kind in _ARRIVING
            and a.item_key not in failed
            and a.item_key not in blocked
            and held.get(_destination(a), a.item_key) != a.item_key
        ]
        if not waiting:
            return blocked
        for action in waiting:
            holder = held[_destination(action)]
            reason = f"its place is still held by item {holder}, which could not be updated"
            blocked[action.item_key] = Done(action, error=f"{reason}; retried next run")
            if action.mirror is not None:
                held[action.mirror.local_path] = action.item_key


def _destination(action: Action) -> str:
    assert action.remote is not None
    return action.remote.local_path


def _same_bytes(record: MirrorFile | None, entry: _Fetched) -> bool:
    """Whether the bytes downloaded are the ones the record says its copy holds."""
    if record is None or entry.served_hash is None or record.quick_xor_hash is None:
        return False
    return entry.downloaded == record.disk_size and same_hash(
        record.quick_xor_hash, entry.served_hash
    )


def untouched(mirror: Mirror, record: MirrorFile) -> bool:
    """Whether the local file is still exactly as ms365sync left it."""
    return as_recorded(mirror.stat(record.local_path), record.disk_size, record.mtime_ns)


def _reachable_and_untouched(mirror: Mirror, record: MirrorFile) -> bool:
    """`untouched`, where a file behind something in the way (a symbolic link on its path)
    counts as changed: its move then fails alone, when it would have to leave that place."""
    try:
        return untouched(mirror, record)
    except LocalStorageError as exc:
        if not exc.in_the_way:
            raise
        return False


def _mtime(remote: RemoteFile) -> datetime:
    if remote.modified:
        parsed = datetime.fromisoformat(remote.modified.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def _met_the_gate(before: GateStats, after: GateStats) -> bool:
    """Whether the throttle gate paused or paced anything while a download ran (any target's:
    the gate is the tenant's), so its time says nothing about room on the link."""
    return after.throttled > before.throttled or after.paced_seconds > before.paced_seconds
