"""Publishing what a run committed: the change log, `.permissions.json`, the grants file and,
when the target reads document metadata, `.metadata.json`.

A run queues its outputs in the state store inside its own transaction (`queue`); after the
commit they are written from what was committed (`finish`), atomically, and marked done. A
crash in between leaves them queued, and the next run's start writes them, so every change
is published once, from committed state only.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from ms365sync.errors import LocalStorageError
from ms365sync.localfs.atomic import write_atomic
from ms365sync.localfs.journal import TempJournal
from ms365sync.outputs import grants, jsonstream
from ms365sync.outputs.changelog import TargetInfo, log_name
from ms365sync.outputs.logstream import LogDocument, unpack
from ms365sync.state.store import StateStore
from ms365sync.sync import recovery
from ms365sync.sync.metadata import iter_documents
from ms365sync.target import GRANTS_FILE, METADATA_FILE, PERMISSIONS_FILE, TargetSpec

__all__ = ["Outcome", "finish", "queue", "write_grants_file"]


@dataclass(frozen=True)
class Outcome:
    """What a run's outputs depend on besides its change log."""

    changed: bool  # the mirror's files or permissions changed: rewrite .permissions.json
    new_errors: bool  # a file failed that did not fail in the previous run


def queue(
    state: StateStore, spec: TargetSpec, run_id: str, log: LogDocument, outcome: Outcome
) -> str | None:
    """Queue the run's outputs (inside the run transaction): the log when there is something
    to tell (a change, a repair, a file failing that was not failing before, or always if
    asked), `.permissions.json` when the mirror changed or the file was damaged. Returns a
    note for the run summary when there was nothing to tell."""
    worth = log.has_changes or bool(log.repairs) or outcome.new_errors
    write_log = worth or spec.write_empty_logs
    name = log_name(log.timestamp, state.log_names(), spec.log_dir) if write_log else None
    damaged = not recovery.permissions_file_intact(
        spec.local_root / PERMISSIONS_FILE, state.meta.permissions_file_stamp
    )
    packed = b"".join(log.packed()) if name else None
    state.enqueue_export(run_id, name, packed, outcome.changed or damaged)
    if worth:
        return None
    return "no changes" + ("" if write_log else ": no change log written")


def finish(state: StateStore, spec: TargetSpec, journal: TempJournal) -> dict[str, Path]:
    """Write out the committed outputs still queued (also after a crash); run id -> the
    change log written for it. Temporary names are claimed in `journal`.

    Raises:
        LocalStorageError: a file cannot be written; it stays queued.
    """
    written: dict[str, Path] = {}
    for run_id, name, packed, with_permissions in state.pending_exports():
        # The grants file and the metadata sidecar first: whoever sees a log finds them at
        # least that recent.
        write_grants_file(spec.local_root, spec.name, state, journal)
        if spec.metadata is not None and (with_permissions or _metadata_file_damaged(spec, state)):
            write_metadata_file(spec.local_root, state, journal)
        elif spec.metadata is None and state.meta.metadata_file_stamp is not None:
            _remove_metadata_file(spec.local_root, state)
        if name and packed is not None:
            path = spec.log_dir / name
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LocalStorageError.from_oserror(exc, action="create the log folder") from exc
            write_atomic(path, unpack(packed), journal=journal)
            written[run_id] = path
        if with_permissions:
            target = spec.local_root / PERMISSIONS_FILE
            # Sorted by path (SQLite's binary order is code point order) and written as it
            # is read: one member per mirrored file.
            labels = jsonstream.object_chunks(state.mirror_labels())
            write_atomic(target, itertools.chain(labels, [b"\n"]), journal=journal)
            state.set_permissions_file_stamp(recovery.file_stamp(target))
        state.export_done(run_id)
    return written


def write_metadata_file(local_root: Path, state: StateStore, journal: TempJournal) -> None:
    """Write `.metadata.json` from the committed mirror: each mirrored file's path -> its
    item id and document metadata (`sync.metadata`), sorted by path like
    `.permissions.json`; files whose metadata was never read are left out.

    Raises:
        LocalStorageError: the file cannot be written.
    """
    path = local_root / METADATA_FILE
    members = (
        (file_path, {"item_id": item_id, **doc})
        for file_path, item_id, doc in iter_documents(state.mirror_metadata())
    )
    write_atomic(path, itertools.chain(jsonstream.object_chunks(members), [b"\n"]), journal=journal)
    state.set_metadata_file_stamp(recovery.file_stamp(path))


def _remove_metadata_file(local_root: Path, state: StateStore) -> None:
    """Remove the `.metadata.json` a run wrote once the target reads no metadata: a stale
    sidecar would pass old values off as current.

    Raises:
        LocalStorageError: it cannot be removed.
    """
    try:
        (local_root / METADATA_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise LocalStorageError.from_oserror(exc, action="remove .metadata.json") from exc
    state.set_metadata_file_stamp(None)


def _metadata_file_damaged(spec: TargetSpec, state: StateStore) -> bool:
    """Whether `.metadata.json` is not as the last write left it (edited, removed)."""
    stamp = state.meta.metadata_file_stamp
    return stamp is None or recovery.file_stamp(spec.local_root / METADATA_FILE) != stamp


def write_grants_file(
    local_root: Path, target_name: str, state: StateStore, journal: TempJournal
) -> bool:
    """Write `.permissions.grants.json` from the committed mirror unless the file is exactly
    as the last write left it and its input has not changed; returns whether it wrote.

    The input is watched by the state store itself (triggers forget the last write's stamp
    when a mirror record, a permission source or the target's ids change), not inferred from
    the run's outcome: a grant can change without any label changing (another person of the
    same name, a recipient added to a link). An edited or removed file is rewritten.

    Raises:
        LocalStorageError: the file cannot be written.
    """
    path = local_root / GRANTS_FILE
    meta = state.meta
    if meta.grants_file == _stamp(path, target_name):
        return False
    target = TargetInfo(name=target_name, site_id=meta.site_id, drive_id=meta.drive_id)
    # Written as it is rendered: the document has one entry per mirrored file. A name with
    # an unpaired surrogate (mapped to a safe local name) is escaped, so the JSON stays valid.
    write_atomic(path, grants.document(target, state.mirror_grant_rows()), journal=journal)
    state.set_grants_file(_stamp(path, target_name))
    return True


def _stamp(path: Path, target_name: str) -> str:
    """What identifies the file as written: format, target name, size and mtime."""
    return json.dumps([grants.GRANTS_VERSION, target_name, recovery.file_stamp(path)])
