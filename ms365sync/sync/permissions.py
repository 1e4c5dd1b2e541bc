"""Keeping the stored permission sets current, with as few 5-RU permission reads as possible.

Every file takes its permissions from its nearest permission root (an item with a `shared`
facet under `Prefer: hierarchicalsharing`, or one a full sweep found to differ). A run re-reads
the roots that delta reported (sharing hints included), roots never read, and roots whose
read failed before. Because the hints are known to miss changes (graph-facts §5.8), a sweep,
on the configured policy, verifies everything: a structure sweep takes the current roots
from a fresh enumeration (sync.structure) and reads every root a file inherits from; a full
sweep reads every file and compares it with its folder. Reads go through `$batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from loguru import logger

from ms365sync.graph.client import RU_PERMISSIONS, GraphClient
from ms365sync.graph.convert import permission_set
from ms365sync.models import PermissionSet
from ms365sync.state.store import StageSummary, StateStore, StructureChange
from ms365sync.sync.stop import Stop, Stopped
from ms365sync.target import SweepKind

CHUNK = 400  # item ids per permissions_batch call (20 per $batch inside)
RU_PER_READ = RU_PERMISSIONS  # a permission read, also inside $batch (graph-facts §7.3)


@dataclass
class PermissionOutcome:
    """What a refresh read and what it could not."""

    read: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    swept: SweepKind | None = None
    structure: StructureChange | None = None  # what a structure sweep changed in the roots
    paced: float = 0.0  # seconds a sweep waited for its share of the minute budget


def refresh(
    client: GraphClient,
    state: StateStore,
    drive_id: str,
    summary: StageSummary,
    *,
    hierarchical: bool,
    sweep: SweepKind | None,
    enumerated: bool,
    now: float,
    progress: Callable[[int], None] | None = None,
    pace: Callable[[float], float] | None = None,
    stop: Stop | None = None,
) -> PermissionOutcome:
    """Read the permission sets this run needs and store them (inside the run transaction);
    once a `stop`'s grace is over, raise Stopped between reads (the transaction then
    records nothing of the run).

    `sweep` is the sweep this run makes, if any; for a structure sweep `enumerated` says a
    structure enumeration is staged (without one, the run's own listing was a full
    enumeration and already marked every root).

    Raises:
        AuthError: no token could be obtained (per-item Graph failures are returned instead).
        Stopped: `stop` was requested and its grace is over (or it was abandoned).
    """
    if not hierarchical:
        # Without hierarchical sharing hints every file is its own permission root.
        state.set_own_permissions_of_files(True)
    logger.debug(
        "round: {} items reported, {} with sharing hints", summary.reported, summary.shared_changed
    )
    retry = state.meta.permission_retry
    reader = _Reader(client, state, drive_id, now, PermissionOutcome(swept=sweep), progress)
    reader.stop = stop
    if sweep is not None:
        reader.pace = pace
    if sweep == "full":
        # The folders' sources too: a file is compared with where it would inherit from.
        read = reader.read(state.sources_to_sweep())
        read += reader.read(state.files_to_sweep())
        _classify(state, read)
    elif sweep == "structure":
        if enumerated:
            reader.outcome.structure = change = state.apply_structure()
            logger.debug(
                "structure: {} roots marked, {} new, {} no longer roots",
                change.roots,
                change.became,
                change.ceased,
            )
        # Every root a file inherits from; files a full sweep set apart are among them and
        # follow their folder again once they no longer differ from its current set.
        read = reader.read(state.file_sources())
        reader.read(state.sources_to_compare(read, every=True))
        _classify(state, read)
    else:
        read = reader.read(state.sources_to_read(retry))
        if hierarchical and read:
            # A file a sweep set apart stays a root of its own only while it differs from
            # its folder (read first if never read or just reported): once its inheritance
            # is restored it follows the folder again.
            reader.read(state.sources_to_compare(read, every=False))
            _classify(state, read)
    state.set_permission_retry(reader.outcome.failed)
    state.prune_permissions()
    return reader.outcome


@dataclass
class _Reader:
    client: GraphClient
    state: StateStore
    drive_id: str
    now: float
    outcome: PermissionOutcome
    progress: Callable[[int], None] | None
    pace: Callable[[float], float] | None = None
    stop: Stop | None = None

    def read(self, item_ids: list[str]) -> list[str]:
        """Read and store the permission sets of `item_ids`; returns the ids read (failures
        go to the outcome)."""
        found: list[str] = []
        if item_ids:
            logger.debug("reading the permissions of {} items", len(item_ids))
        step = CHUNK
        if self.pace is not None and item_ids:
            # Paced reads go one $batch at a time, so that no wait is longer than one needs.
            from ms365sync.graph.batch import MAX_BATCH_SIZE  # noqa: PLC0415 -- once needed

            step = MAX_BATCH_SIZE
        for start in range(0, len(item_ids), step):
            chunk = item_ids[start : start + step]
            self._check_stop()
            if self.pace is not None:
                self.outcome.paced += self.pace(len(chunk) * RU_PER_READ)
                self._check_stop()
            for item_id, result in self.client.permissions_batch(self.drive_id, chunk).items():
                if isinstance(result, Exception):
                    self.outcome.failed[item_id] = str(result)
                    continue
                self.state.store_permissions(item_id, permission_set(result), self.now)
                found.append(item_id)
            self.outcome.read += len(chunk)
            if self.progress is not None:
                self.progress(len(chunk))
        if self.outcome.failed:
            logger.warning("permissions of {} items could not be read", len(self.outcome.failed))
        return found

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.remaining() == 0:
            raise Stopped("permissions")


def _classify(state: StateStore, read: list[str]) -> None:
    """Files of `read` whose permissions differ from those of the root they would inherit
    from become roots; those equal to it follow it again."""
    changed = state.classify_own_permissions(read)
    if changed:
        logger.debug("{} files changed between own and inherited permissions", changed)


def effective(
    state: StateStore, failed: Iterable[str]
) -> Callable[[str | None], PermissionSet | None]:
    """A lookup from a file's permission source to its permission set (None: unreadable)."""
    known = state.permissions()
    bad = set(failed)

    def lookup(source: str | None) -> PermissionSet | None:
        if source is None or source in bad:
            return None
        return known.get(source)

    return lookup
