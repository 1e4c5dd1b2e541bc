"""One target (one document library into one local root): resolve, list, plan, apply, commit.

A run lists the library completely (delta) into the state store's stage, then, inside one
state transaction, folds the round into the tree, refreshes permissions, plans against the
recorded mirror and the disk and applies the plan in batches (`batches`), and records the
new state, the delta link and the change log together. The log and .permissions.json are
written out after the commit from what was committed, and a crash in between is completed
at the next start.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from ms365sync.errors import (
    CorruptStateError,
    MS365SyncError,
    SafetyError,
)
from ms365sync.graph.client import GraphClient
from ms365sync.graph.lookup import Resolved, confirm, resolve
from ms365sync.localfs.lock import target_lock
from ms365sync.localfs.mirror import Mirror
from ms365sync.localfs.syscalls import refuse_symlinks
from ms365sync.models import MirrorFile, RemoteFile, RunCounters
from ms365sync.outputs.changelog import TargetInfo, timestamp
from ms365sync.outputs.logstream import LogDocument
from ms365sync.state.store import StageSummary, StateStore
from ms365sync.sync import batches, inputs, issues, permissions, publish, recovery, shortcut
from ms365sync.sync import metadata as documents
from ms365sync.sync.apply import Applier, Progress
from ms365sync.sync.budget import SweepBudget
from ms365sync.sync.claims import LibraryClaims
from ms365sync.sync.concurrency import AUTO_CAP
from ms365sync.sync.downloadurls import DownloadUrls
from ms365sync.sync.listing import Round, list_changes
from ms365sync.sync.plan import DeleteLimit
from ms365sync.sync.preview import Previewer
from ms365sync.sync.report import LogBuilder
from ms365sync.sync.result import SyncResult
from ms365sync.sync.stop import Stop, Stopped
from ms365sync.sync.sweeps import SweepPlan, Sweeps
from ms365sync.target import DB_NAME, PERMISSIONS_FILE, TargetSpec

__all__ = ["Syncer"]


@dataclass(frozen=True)
class _Fields:
    """A run's round of the list's delta (the target reads document metadata)."""

    list_id: str
    round: documents.FieldsRound
    key: str


class Syncer:
    """Syncs one target. Create one per run; not thread-safe."""

    def __init__(
        self,
        spec: TargetSpec,
        client: GraphClient,
        *,
        clock: Callable[[], float] = time.time,
        progress: Progress | None = None,
        claims: LibraryClaims | None = None,
        budget: SweepBudget | None = None,
        stop: Stop | None = None,
        max_downloads: int = AUTO_CAP,
    ) -> None:
        """`claims`: the libraries the other targets of this run hold (the coordinator's);
        `budget`: the tenant's sweep allowance (None: sweeps are never deferred); `stop`:
        asked to stop, the run ends its listing, starts no more downloads and records what
        it did (`SyncResult.interrupted` when it left work undone); `max_downloads`: what
        `concurrency = "auto"` may grow to (the run's max_connections)."""
        self.spec = spec
        self.client = client
        self.claims = claims
        self.budget = budget
        self.clock = clock
        self.progress = progress or Progress()
        self.mirror = Mirror(spec.local_root)
        self.counters = RunCounters()
        self.stop = stop
        self.max_downloads = max_downloads
        self.sweeps = Sweeps(client, spec, budget, stop, self.counters.notes)
        self.interrupted = False  # a stop left work undone
        self._baseline: recovery.Baseline | None = None  # set when the state was rebuilt
        self.refused: SafetyError | None = None  # the guard a dry run went past

    def sync(self, *, dry_run: bool = False, force: bool = False) -> SyncResult:
        """Run once. Failures of this target are returned, not raised.

        A dry run computes exactly the change log a real run would write and touches
        nothing on disk; where the max-delete guard would stop the real run, the dry run
        goes on and says so in `SyncResult.refused`.
        """
        result = SyncResult(self.spec.name, ok=False, dry_run=dry_run, started=self.clock())
        try:
            refuse_symlinks(self.spec.own_paths)
            if dry_run:
                result.document = self._dry_run(force)
            else:
                lock = target_lock(
                    self.spec.state_dir, timeout=self.spec.lock_timeout, waiting=self._stopped
                )
                with lock:
                    result.document, result.log_path = self._real_run(force)
            result.ok = True
        except Stopped:
            logger.debug("{}: stopped before its changes were recorded", self.spec.name)
            result.ok, self.interrupted = True, True
        except MS365SyncError as exc:
            logger.error("{}: {}", self.spec.name, exc)
            result.error = exc
        finally:
            if self.claims is not None:
                self.claims.settle(self.spec.name)
        if self.progress.on_finish is not None:
            self.progress.on_finish(result.ok)
        result.counters, result.finished = self.counters, self.clock()
        result.refused = self.refused
        result.interrupted = self.interrupted
        return result

    # ------------------------------------------------------------------ run

    def _stopped(self) -> None:
        """Raise Stopped once a stop is requested (while the run has recorded nothing)."""
        if self.stop is not None and self.stop.requested:
            raise Stopped("waiting")

    def _real_run(self, force: bool) -> tuple[LogDocument, Path | None]:
        state = self._open_state()
        journal = self.mirror.journal
        try:
            publish.finish(state, self.spec, journal)
            removed = self.mirror.cleanup_temp_files()
            if removed:
                self.counters.notes.append(f"removed {removed} temporary files of a killed run")
            run_id = uuid.uuid4().hex
            log = self._run(state, False, force, run_id=run_id)
            path = publish.finish(state, self.spec, journal).get(run_id)
            return log, path
        finally:
            self.mirror.close()
            state.close()

    def remote_files(self) -> list[RemoteFile]:
        """The files the mirror should hold now, with their permissions (None: unreadable),
        sorted by item id; listed from the stored state onwards, touching nothing on disk.

        Raises:
            ResolutionError, GraphError, TransportError, AuthError: the listing failed.
            StateError: the state store cannot be read.
        """
        state = StateStore.snapshot(self.spec.state_dir)
        try:
            target = self._resolve(state)
            listing = self._list(state, target, keep_urls=False)
            fields = self._list_fields(state, target)
            now = self.clock()
            sweep = self._sweep(state, target, listing, now, dry=True)
            with state.run():
                keep = self._marks_dropped(state, listing)
                summary = state.apply_stage(full=listing.full, keep_marks=keep)
                self._apply_fields(state, fields)
                failed = self._refresh_permissions(state, target, listing, summary, sweep, now=now)
                lookup = permissions.effective(state, failed)
                held = issues.held(state, None, self.spec)
                found = inputs.remote_files(
                    state,
                    self.spec.filters,
                    self.spec.data_dir,
                    lookup,
                    held,
                    metadata=self.spec.metadata,
                )
            return found.files
        finally:
            state.close()

    def _dry_run(self, force: bool) -> LogDocument:
        state = StateStore.snapshot(self.spec.state_dir)
        try:
            return self._run(state, True, force)
        finally:
            state.close()

    def _open_state(self) -> StateStore:
        """The state store. A corrupt (or emptied) one is set aside, and a missing one next
        to an existing `.permissions.json` is noticed: both are rebuilt by a full listing
        with the mirror's records recovered from `.permissions.json` and the files on disk.

        Raises:
            LocalStorageError: the disk refused (full, read-only, permission denied); the
                store is left as it was.
            StateError: the store is from a newer ms365sync, or locked.
        """
        permissions_path = self.spec.local_root / PERMISSIONS_FILE
        try:
            existed = (self.spec.state_dir / DB_NAME).exists()
            state = StateStore(self.spec.state_dir)
        except CorruptStateError as exc:
            aside = StateStore.set_aside(self.spec.state_dir)
            logger.warning("{}: {}; moved it to {} and re-listing", self.spec.name, exc, aside)
            return self._recovering(permissions_path, "unreadable")
        if not existed and permissions_path.exists():
            logger.warning("{}: the state store is missing; re-listing", self.spec.name)
            state.close()
            return self._recovering(permissions_path, "missing")
        return state

    def _recovering(self, permissions_path: Path, what: str) -> StateStore:
        self._baseline = recovery.read_permissions_file(permissions_path)
        how = "from .permissions.json" if self._baseline else "from scratch"
        self.counters.notes.append(f"state store was {what} and was rebuilt {how}")
        return StateStore(self.spec.state_dir)

    def _run(
        self, state: StateStore, dry: bool, force: bool, *, run_id: str | None = None
    ) -> LogDocument:
        run_id = run_id or uuid.uuid4().hex
        started = self.clock()
        target = self._resolve(state)
        listing = self._list(state, target, keep_urls=not dry)
        fields = self._list_fields(state, target)
        sweep = self._sweep(state, target, listing, self.clock(), dry=dry)
        self._stopped()
        with state.run():
            log, outcome = self._reconcile(
                state, target, listing, sweep, run_id, dry=dry, force=force, fields=fields
            )
            state.set_listing(
                delta_link=listing.delta_link,
                site_id=target.site_id,
                drive_id=target.drive_id,
                target=self._target_key(),
                prefer_sharing=self.spec.prefer_sharing,
                list_ids=self._wants_list_ids() if listing.full else bool(state.meta.list_ids),
            )
            state.set_fields_listing(
                list_id=fields.list_id if fields else None,
                link=fields.round.link if fields else None,
                key=fields.key if fields else None,
            )
            if not dry:
                note = publish.queue(state, self.spec, run_id, log, outcome)
                if note:
                    self.counters.notes.append(note)
            state.record_run(run_id, started, "ok", log.summary.model_dump_json())
        return log

    def _list(self, state: StateStore, target: Resolved, *, keep_urls: bool) -> Round:
        meta = state.meta
        known_drive = meta.drive_id == target.drive_id
        # The sharing Prefer headers change what the feed reports: a link taken with other
        # headers cannot be continued, so a change of that setting starts a full listing.
        same_feed = meta.prefer_sharing == self.spec.prefer_sharing
        # Document metadata joins files to list items by the ids a round selects: a link
        # taken without them is not continued (its rounds would carry none).
        same_feed = same_feed and (meta.list_ids is True or not self._wants_list_ids())
        link = meta.delta_link if known_drive and same_feed else None
        if link is not None and not self.client.serves(link):
            # The Graph endpoint changed (graph_url, even to an equivalent origin): the stored
            # link would send the token elsewhere. The ids stay, so the mirror is kept.
            self.counters.notes.append(
                "the stored delta link is not on the configured Graph endpoint: listed again"
            )
            link = None
        listing = list_changes(
            self.client,
            state,
            target.drive_id,
            link,
            prefer_sharing=self.spec.prefer_sharing,
            page_size=self.spec.page_size,
            keep_urls=keep_urls,
            stop=self.stop,
            list_ids=self._wants_list_ids(),
        )
        self.counters.delta_pages, self.counters.full_enumeration = listing.pages, listing.full
        return listing

    def _wants_list_ids(self) -> bool:
        return self.spec.metadata is not None

    def _list_fields(self, state: StateStore, target: Resolved) -> _Fields | None:
        """One round of the list's delta into the fields stage, when the target reads
        document metadata (graph-facts §18.2): continued from the stored link when it was
        taken for this list and these columns, else from scratch."""
        spec = self.spec.metadata
        if spec is None:
            return None
        meta = state.meta
        same_drive = meta.drive_id == target.drive_id
        list_id = meta.list_id if same_drive and meta.list_id else None
        list_id = list_id or self.client.list_id(target.drive_id)
        # "all": the library's visible columns, read each run (a column added since the
        # last run changes the request, and the list is read afresh once).
        visible = (
            () if spec.columns is not None else self.client.list_columns(target.site_id, list_id)
        )
        columns = spec.request(visible)
        key = documents.request_key(columns)
        link = meta.fields_link if meta.fields_key == key and meta.list_id == list_id else None
        if link is not None and not self.client.serves(link):
            link = None
        found = documents.list_fields(
            self.client,
            state,
            target.site_id,
            list_id,
            link=link,
            spec=spec,
            columns=columns,
            page_size=min(self.spec.page_size, documents.PAGE_SIZE),
            stop=self.stop,
        )
        return _Fields(list_id, found, key)

    @staticmethod
    def _apply_fields(state: StateStore, fields: _Fields | None) -> None:
        """Fold the list's round into the store (inside the run's transaction); a target
        that stopped reading metadata forgets what it had."""
        if fields is None:
            state.forget_fields()
        else:
            state.apply_fields(full=fields.round.full)

    def _resolve(self, state: StateStore) -> Resolved:
        meta = state.meta
        if meta.site_id and meta.drive_id and meta.target == self._target_key():
            found = confirm(self.client, meta.site_id, meta.drive_id)
        else:
            found = resolve(self.client, self.spec.site, self.spec.library)
        if self.claims is not None:
            self.claims.claim(self.spec.name, found.drive_id)
        return found

    def _target_key(self) -> str:
        site = self.spec.site
        return json.dumps([site.host, site.path, site.display_name, self.spec.library])

    # ------------------------------------------------------------------ reconcile

    def _reconcile(
        self,
        state: StateStore,
        target: Resolved,
        listing: Round,
        sweep: SweepPlan,
        run_id: str,
        *,
        dry: bool,
        force: bool,
        fields: _Fields | None = None,
    ) -> tuple[LogDocument, publish.Outcome]:
        now = self.clock()
        summary = state.apply_stage(
            full=listing.full, keep_marks=self._marks_dropped(state, listing)
        )
        self._apply_fields(state, fields)
        if self._baseline is not None:
            rebuilt = recovery.rebuild_mirror(state, self.mirror, self._baseline)
            logger.info("{}: recovered {} mirrored files", self.spec.name, rebuilt)
        failed = self._refresh_permissions(state, target, listing, summary, sweep, now=now)
        local = inputs.local_files(self.mirror, state)
        self.counters.untracked_local_files = len(local.foreign)
        ledger = issues.ledger(state, now, self.spec.retry_permanent_after)
        builder = LogBuilder(
            self.spec.data_dir, ledger, metadata_only={} if self.spec.metadata else None
        )
        if not failed and shortcut.unchanged(state, self.spec, local, now):
            logger.debug("{}: nothing changed since the last run converged", self.spec.name)
            tally, notes = batches.Tally(), inputs.RemoteNotes()
            ledger.kept.update(ledger.stored)  # nothing was tried: every issue stays
        else:
            tally, notes = self._plan_and_apply(
                state,
                target,
                local=local,
                urls=listing.urls,
                lookup=permissions.effective(state, failed),
                builder=builder,
                held=issues.held(state, ledger, self.spec),
                dry=dry,
                force=force,
            )
            ledger.kept.update(notes.waiting)
        for note in notes.skipped.values():
            builder.add_skip(note)
        for path, (item_id, reason) in notes.errors.items():
            builder.add_error(path, reason, item_id)
        self.counters.moved = tally.moved
        self.counters.files_fetched = tally.contents
        self.interrupted = tally.interrupted
        self.counters.downloaded_files += tally.downloaded_files
        self.counters.downloaded_bytes += tally.downloaded_bytes
        outcome = publish.Outcome(
            changed=tally.changed,
            # A changed record that reports nothing (a skip learnt a second way) is no news.
            new_errors=bool(state.record_issues(ledger.current, ledger.kept, now))
            and bool(builder.errors or builder.skipped),
        )
        if not dry:
            shortcut.mark(state, self.spec, notes, tally.clean, failed)
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
            untracked=len(local.foreign),
            full_resync=listing.full,
            dry_run=dry,
        )
        return log, outcome

    def _plan_and_apply(
        self,
        state: StateStore,
        target: Resolved,
        *,
        local: inputs.LocalInventory,
        urls: DownloadUrls,
        lookup: inputs.Lookup,
        builder: LogBuilder,
        held: issues.Held,
        dry: bool,
        force: bool,
    ) -> tuple[batches.Tally, inputs.RemoteNotes]:
        """Plan against the mirror's records and the disk, check the guard, then act (or,
        in a dry run, work out what acting would record), in batches; `urls` are the
        listed ones; the `held` files are not fetched (`sync.issues`).
        Returns the tally and the survey's remarks on the tree's files."""
        spec = self.spec
        protected = state.unplaced_file_ids()
        if spec.metadata is not None:  # the filters cannot judge a file without its metadata
            protected |= state.unlisted_file_ids()

        def remote_files() -> Iterator[inputs.Entry]:
            return inputs.scan_remote(
                state, spec.filters, spec.data_dir, lookup, held, metadata=spec.metadata
            )

        def mirror_files() -> Iterator[MirrorFile]:
            return (m for m in state.mirror_files() if m.item_id not in protected)

        streams = batches.Streams(remote_files, mirror_files, local.files)
        found = batches.survey(state, streams, urls)
        try:
            batches.guard(spec.name, found, self._delete_limit(force))
        except SafetyError as exc:
            if not dry:
                raise
            # A dry run goes on, so it can show the deletions the real run would refuse.
            logger.warning("{}: a real run would stop: {}", spec.name, exc)
            self.refused = exc
        builder.excluded, builder.mapped = frozenset(found.notes.excluded), found.notes.mapped
        if not dry and self.progress.on_total is not None:
            self.progress.on_total(found.fetch_files, found.fetch_bytes)
        self.counters.files_to_fetch = found.fetch_files
        applier = self._applier(target, local.foreign, urls, dry=dry)
        tally = batches.carry_out(state, streams, found, applier, builder, stop=self.stop)
        if found.fetch_files:
            logger.debug("downloads: {}", applier.limit.summary())
        return tally, found.notes

    def _sweep(
        self, state: StateStore, target: Resolved, listing: Round, now: float, *, dry: bool
    ) -> SweepPlan:
        """The permission sweep this run makes (`sync.sweeps`), planned before the run's
        transaction."""
        return self.sweeps.plan(
            state,
            target.drive_id,
            full_listing=listing.full,
            hierarchical=self._honours_hierarchy(state, listing),
            now=now,
            dry=dry,
        )

    def _refresh_permissions(
        self,
        state: StateStore,
        target: Resolved,
        listing: Round,
        summary: StageSummary,
        sweep: SweepPlan,
        *,
        now: float,
    ) -> dict[str, str]:
        """Read what the sweep and the hints ask for; the ids that failed."""
        hierarchical = self._hierarchical(state, listing)
        outcome = permissions.refresh(
            self.client,
            state,
            target.drive_id,
            summary,
            hierarchical=hierarchical,
            sweep=sweep.kind,
            enumerated=sweep.enumeration is not None,
            now=now,
            pace=sweep.pace,
            stop=self.stop,
        )
        self.counters.permission_reads = outcome.read
        self.sweeps.record(state, sweep, outcome, summary, now)
        return outcome.failed

    def _marks_dropped(self, state: StateStore, listing: Round) -> bool:
        """Whether an incremental round that carries the drive's root came without the
        root's mark although the service honours hierarchical sharing: then the round's
        marks are missing, not removed (graph-facts §5.10), and the tree keeps its own."""
        if listing.full or state.meta.hierarchical is not True:
            return False
        if state.stage_root_shared() is not False:
            return False
        self.counters.notes.append(
            "delta sent no permission-root marks this time: the known roots are kept"
        )
        return True

    def _honours_hierarchy(self, state: StateStore, listing: Round) -> bool:
        """Whether the service honours `Prefer: hierarchicalsharing`, as `_hierarchical`
        will record it (read only: this is asked before the run's transaction)."""
        if listing.full:
            return bool(self.spec.prefer_sharing and state.stage_root_shared())
        return state.meta.hierarchical is True

    def _hierarchical(self, state: StateStore, listing: Round) -> bool:
        """Whether the service honours `Prefer: hierarchicalsharing` (root has `shared`)."""
        honoured = self._honours_hierarchy(state, listing)
        if listing.full:
            if honoured and state.meta.hierarchical is False:
                # Without the hints every file was made its own permission root; with them,
                # files follow their folders again (the next sweep re-finds real exceptions).
                state.set_own_permissions_of_files(False)
            state.set_hierarchical(honoured)
        return honoured

    def _delete_limit(self, force: bool) -> DeleteLimit:
        if force:
            return DeleteLimit(max_count=None, max_percent=None, protect_empty=False)
        return DeleteLimit(self.spec.max_delete_count, self.spec.max_delete_percent)

    def _applier(
        self, target: Resolved, foreign: frozenset[str], urls: DownloadUrls, *, dry: bool
    ) -> Applier:
        """The dry-run gate for local changes: a dry run previews what an applier would do."""
        kind = Previewer if dry else Applier
        return kind(
            self.client,
            self.mirror,
            target.drive_id,
            concurrency=self.spec.concurrency,
            max_downloads=self.max_downloads,
            progress=self.progress,
            foreign=foreign,
            urls=urls,
            give_up=self.spec.download_give_up,
            stop=self.stop,
            verify=self.spec.verify,
        )
