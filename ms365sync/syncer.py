"""One target (one document library into one local root): resolve, list, plan, apply, commit.

A run lists the library completely (delta) into the state store's stage, then, inside one
state transaction, folds the round into the tree, refreshes permissions, plans against the
recorded mirror and the disk, applies the plan, and records the new state, the delta link
and the change log together. The log and .permissions.json are written out after the commit
from what was committed, and a crash in between is completed at the next start.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from loguru import logger

from ms365sync import names, permsync
from ms365sync.apply import Applier, Done, Progress
from ms365sync.changelog import LOG_DIR, ChangeLog, TargetInfo, log_name, timestamp
from ms365sync.errors import LocalStorageError, MS365SyncError, SafetyError, StateError
from ms365sync.filters import Filters
from ms365sync.graph.client import GraphClient
from ms365sync.listing import Round, list_changes
from ms365sync.localfs import Mirror, write_atomic, write_json_atomic
from ms365sync.lock import target_lock
from ms365sync.models import (
    Action,
    ActionKind,
    MirrorFile,
    PermissionSet,
    RemoteFile,
    RunCounters,
)
from ms365sync.plan import LocalStat, plan
from ms365sync.report import LogBuilder
from ms365sync.resolve import Resolved, SiteRef, confirm, resolve
from ms365sync.state import StateStore

STATE_DIR = ".ms365sync"
PERMISSIONS_FILE = ".permissions.json"


@dataclass(frozen=True)
class PermissionPolicy:
    """When to re-read every file's permissions (delta's sharing hints miss some changes)."""

    mode: Literal["always", "interval", "never"] = "interval"
    interval_s: float = 24 * 3600.0

    def due(self, last_sweep: float | None, now: float) -> bool:
        if self.mode == "always":
            return True
        if self.mode == "never" or last_sweep is None:
            return False
        return now - last_sweep >= self.interval_s


@dataclass(frozen=True)
class TargetSpec:
    """Everything one target needs; built from the configuration or the library API."""

    name: str
    site: SiteRef
    library: str
    local_root: Path
    filters: Filters = field(default_factory=Filters)
    concurrency: int = 8
    max_delete_count: int | None = 1000
    max_delete_percent: float | None = 50.0
    permissions: PermissionPolicy = field(default_factory=PermissionPolicy)
    write_empty_logs: bool = False
    prefer_sharing: bool = True
    lock_timeout: float = 0.0

    @property
    def state_dir(self) -> Path:
        return self.local_root / STATE_DIR

    @property
    def data_dir(self) -> Path:
        return self.local_root / "data"


@dataclass
class SyncResult:
    """How one target's run went."""

    target: str
    ok: bool
    dry_run: bool
    log: ChangeLog | None = None
    log_path: Path | None = None
    error: MS365SyncError | None = None
    counters: RunCounters = field(default_factory=RunCounters)
    started: float = 0.0
    finished: float = 0.0

    def count(self, section: str) -> int:
        if self.log is None:
            return 0
        return len(getattr(self.log.changes, section))


class Syncer:
    """Syncs one target. Create one per run; not thread-safe."""

    def __init__(
        self,
        spec: TargetSpec,
        client: GraphClient,
        *,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
    ) -> None:
        self.spec = spec
        self.client = client
        self.clock = clock
        self.progress = progress or Progress()
        self.mirror = Mirror(spec.local_root)
        self.counters = RunCounters()

    def sync(self, *, dry_run: bool = False, force: bool = False) -> SyncResult:
        """Run once. Failures of this target are returned, not raised.

        A dry run computes exactly the change log a real run would write and touches
        nothing on disk.
        """
        result = SyncResult(self.spec.name, ok=False, dry_run=dry_run, started=self.clock())
        try:
            if dry_run:
                result.log = self._run(StateStore.snapshot(self.spec.state_dir), True, force)
            else:
                with target_lock(self.spec.state_dir, timeout=self.spec.lock_timeout):
                    result.log, result.log_path = self._real_run(force)
            result.ok = True
        except MS365SyncError as exc:
            logger.error("{}: {}", self.spec.name, exc)
            result.error = exc
        result.counters, result.finished = self.counters, self.clock()
        return result

    # ------------------------------------------------------------------ run

    def _real_run(self, force: bool) -> tuple[ChangeLog, Path | None]:
        state = self._open_state()
        try:
            self._finish_exports(state)
            removed = self.mirror.cleanup_temp_files()
            if removed:
                self.counters.notes.append(f"removed {removed} temporary files of a killed run")
            run_id = uuid.uuid4().hex
            log = self._run(state, False, force, run_id=run_id)
            path = self._finish_exports(state).get(run_id)
            return log, path
        finally:
            state.close()

    def _open_state(self) -> StateStore:
        try:
            return StateStore(self.spec.state_dir)
        except StateError as exc:
            aside = StateStore.set_aside(self.spec.state_dir)
            logger.warning("{}: {}; moved it to {} and re-listing", self.spec.name, exc, aside)
            self.counters.notes.append(f"state store was unreadable and was rebuilt ({exc})")
            return StateStore(self.spec.state_dir)

    def _run(
        self, state: StateStore, dry: bool, force: bool, *, run_id: str | None = None
    ) -> ChangeLog:
        run_id = run_id or uuid.uuid4().hex
        started = self.clock()
        target = self._resolve(state)
        known_drive = state.get_meta("drive_id") == target.drive_id
        link = state.get_meta("delta_link") if known_drive else None
        listing = list_changes(
            self.client, state, target.drive_id, link, prefer_sharing=self.spec.prefer_sharing
        )
        self.counters.delta_pages, self.counters.full_enumeration = listing.pages, listing.full
        with state.run():
            log, changed = self._reconcile(state, target, listing, run_id, dry=dry, force=force)
            state.set_meta("delta_link", listing.delta_link)
            for key, value in (("drive_id", target.drive_id), ("site_id", target.site_id)):
                state.set_meta(key, value)
            state.set_meta("target", self._target_key())
            if not dry:
                self._enqueue_export(state, run_id, log, changed)
            state.record_run(run_id, started, "ok", log.summary.model_dump_json())
        return log

    def _resolve(self, state: StateStore) -> Resolved:
        site_id, drive_id = state.get_meta("site_id"), state.get_meta("drive_id")
        if site_id and drive_id and state.get_meta("target") == self._target_key():
            return confirm(self.client, site_id, drive_id)
        return resolve(self.client, self.spec.site, self.spec.library)

    def _target_key(self) -> str:
        site = self.spec.site
        return json.dumps([site.host, site.path, site.display_name, self.spec.library])

    # ------------------------------------------------------------------ reconcile

    def _reconcile(
        self,
        state: StateStore,
        target: Resolved,
        listing: Round,
        run_id: str,
        *,
        dry: bool,
        force: bool,
    ) -> tuple[ChangeLog, bool]:
        now = self.clock()
        summary = state.apply_stage(full=listing.full)
        hierarchical = self._hierarchical(state, listing)
        last_sweep = state.get_meta("last_sweep")
        sweep = self.spec.permissions.due(float(last_sweep) if last_sweep else None, now)
        if last_sweep is None:
            state.set_meta("last_sweep", str(now))  # the first full listing counts as one
        outcome = permsync.refresh(
            self.client,
            state,
            target.drive_id,
            summary,
            hierarchical=hierarchical,
            sweep=sweep,
            now=now,
        )
        self.counters.permission_reads = outcome.read
        if sweep and not outcome.failed:
            state.set_meta("last_sweep", str(now))
        builder = LogBuilder(self.spec.data_dir)
        lookup = permsync.effective(state, outcome.failed)
        remote, protected = self._remote_files(state, lookup, builder)
        local, untracked = self._local_files(state, dry)
        mirror = [m for m in state.mirror_files() if m.item_id not in protected]
        actions = list(plan(remote, mirror, local))
        self._guard(actions, len(mirror), force)
        results = self._simulate(actions) if dry else self._apply(target, actions)
        changed = self._record(state, results)
        builder.record(results)
        state.clear_errors()
        for path, entry in builder.errors.items():
            state.set_error(entry.item_id or path, path, entry.reason, now)
        log = builder.build(
            stamp=timestamp(datetime.datetime.now(datetime.timezone.utc)),
            run_id=run_id,
            target=TargetInfo(
                name=self.spec.name,
                site_id=target.site_id,
                drive_id=target.drive_id,
                library=target.library_title,
            ),
            total_files=state.mirror_count(),
            untracked=untracked,
            full_resync=listing.full,
            dry_run=dry,
        )
        return log, changed

    def _hierarchical(self, state: StateStore, listing: Round) -> bool:
        """Whether the service honours `Prefer: hierarchicalsharing` (root has `shared`)."""
        if listing.full:
            honoured = bool(self.spec.prefer_sharing and state.stage_root_shared())
            state.set_meta("hierarchical", "1" if honoured else "0")
            return honoured
        return state.get_meta("hierarchical") == "1"

    def _remote_files(
        self,
        state: StateStore,
        lookup: Callable[[str | None], PermissionSet | None],
        builder: LogBuilder,
    ) -> tuple[list[RemoteFile], set[str]]:
        """The remote files the mirror should hold, sorted by id, and the ids whose mirror
        records must not be touched this run (their place in the tree is not known yet)."""
        files: list[RemoteFile] = []
        protected: set[str] = set()
        excluded: set[str] = set()
        taken: dict[str, str] = {}
        for row in state.tree_files():
            if row.segments is None:
                protected.add(row.item_id)
                builder.add_error(
                    f"(item {row.item_id})", "its folder is not listed yet", row.item_id
                )
                continue
            path = "/".join(row.segments)
            if not self.spec.filters.accepts(path):
                excluded.add(row.item_id)
                continue
            mapped = names.local_relpath_from_segments(row.segments, root=self.spec.data_dir)
            if isinstance(mapped, names.Rejected):
                builder.add_error(path, mapped.reason, row.item_id)
                continue
            key = names.collision_key(mapped.rel)
            if key in taken:
                builder.add_error(path, f"same local name as {taken[key]!r}", row.item_id)
                continue
            taken[key] = path
            permissions = lookup(row.perm_src)
            files.append(
                RemoteFile(
                    item_id=row.item_id,
                    path=path,
                    local_path=mapped.rel,
                    size=row.size,
                    ctag=row.ctag,
                    quick_xor_hash=row.quick_xor_hash,
                    etag=row.etag,
                    modified=row.modified,
                    permissions=permissions,
                )
            )
        builder.excluded = frozenset(excluded)
        return files, protected

    def _local_files(self, state: StateStore, dry: bool) -> tuple[dict[str, LocalStat], int]:
        """What is on disk under data/, and how many files there ms365sync did not place."""
        if not self.spec.data_dir.exists():
            return {}, 0
        ours = state.mirror_local_paths()
        local: dict[str, LocalStat] = {}
        untracked = 0
        for entry in self.mirror.scan():
            if entry.kind != "file":
                continue
            local[entry.rel] = LocalStat(entry.size, entry.mtime_ns)
            untracked += entry.rel not in ours
        self.counters.untracked_local_files = untracked
        return local, untracked

    def _guard(self, actions: list[Action], mirrored: int, force: bool) -> None:
        """The max-delete guard: refuse to delete more than configured unless forced."""
        deletions = sum(1 for a in actions if a.kind is ActionKind.DELETE)
        if force or not deletions:
            return
        spec = self.spec
        if spec.max_delete_count is not None and deletions > spec.max_delete_count:
            raise SafetyError(
                target=spec.name, would_delete=deletions, limit=spec.max_delete_count,
                total=mirrored,
            )  # fmt: skip
        if spec.max_delete_percent is not None and mirrored >= 10:
            limit = int(mirrored * spec.max_delete_percent / 100)
            if deletions > limit:
                raise SafetyError(
                    target=spec.name, would_delete=deletions, limit=limit, total=mirrored
                )

    def _apply(self, target: Resolved, actions: list[Action]) -> list[Done]:
        applier = Applier(
            self.client,
            self.mirror,
            target.drive_id,
            concurrency=self.spec.concurrency,
            progress=self.progress,
        )
        results = applier.apply(actions)
        for done in results:
            if done.error is None and done.downloaded:
                self.counters.downloaded_files += 1
                self.counters.downloaded_bytes += done.downloaded
        return results

    @staticmethod
    def _simulate(actions: list[Action]) -> list[Done]:
        """What a real run would record, without touching anything."""
        results = []
        for action in actions:
            if action.kind is ActionKind.SKIP:
                results.append(Done(action, error=action.reason))
            elif action.kind is ActionKind.DELETE:
                results.append(Done(action))
            else:
                r = action.remote
                assert r is not None and r.permissions is not None
                record = MirrorFile(
                    item_id=r.item_id,
                    path=r.path,
                    local_path=r.local_path,
                    size=r.size,
                    ctag=r.ctag,
                    quick_xor_hash=r.quick_xor_hash,
                    etag=r.etag,
                    modified=r.modified,
                    mtime_ns=0,
                    permissions=r.permissions,
                )
                results.append(Done(action, record=record))
        return results

    def _record(self, state: StateStore, results: list[Done]) -> bool:
        """Store what the run did; returns whether the mirror's files or permissions changed."""
        changed = False
        for done in results:
            action = done.action
            if done.error is not None:
                continue
            if done.record is not None:
                state.put_mirror(done.record)
                changed = changed or action.kind is not ActionKind.METADATA
            elif action.kind is ActionKind.DELETE and action.mirror is not None:
                state.drop_mirror(action.mirror.item_id)
                changed = True
        self.counters.moved = sum(
            1 for d in results if d.action.kind is ActionKind.MOVE and d.error is None
        )
        return changed

    # ------------------------------------------------------------------ exports

    def _enqueue_export(
        self, state: StateStore, run_id: str, log: ChangeLog, changed: bool
    ) -> None:
        write_log = log.has_changes or self.spec.write_empty_logs
        name = None
        if write_log:
            log_dir = self.spec.local_root / LOG_DIR
            name = log_name(log.timestamp, state.log_names(), log_dir)
        missing = not (self.spec.local_root / PERMISSIONS_FILE).exists()
        state.enqueue_export(run_id, name, log.to_json() if name else None, changed or missing)
        if not write_log:
            self.counters.notes.append("no changes: no change log written")

    def _finish_exports(self, state: StateStore) -> dict[str, Path]:
        """Write out committed change logs and .permissions.json (also after a crash)."""
        written: dict[str, Path] = {}
        for run_id, name, text, permissions in state.pending_exports():
            if name and text is not None:
                path = self.spec.local_root / LOG_DIR / name
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise LocalStorageError.from_oserror(
                        exc, action="create the log folder"
                    ) from exc
                write_atomic(path, text.encode("utf-8"))
                written[run_id] = path
            if permissions:
                write_json_atomic(
                    self.spec.local_root / PERMISSIONS_FILE, dict(_labels(state)), sort_keys=True
                )
            state.export_done(run_id)
        return written


def _labels(state: StateStore) -> Iterator[tuple[str, list[str]]]:
    yield from state.mirror_labels()
