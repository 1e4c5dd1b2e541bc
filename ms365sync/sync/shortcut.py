"""Knowing, without planning, that a run has nothing to do but check the disk.

A run that leaves the mirror equal to the tree (every listed file placed as listed, or left
out on purpose or waiting after a lasting failure, `sync.issues`; no error a next run would
retry, no permission read failing) marks the state store as converged,
with a key of everything else the plan depends on (the filters, data/, the version).
Triggers in the store forget the mark as soon as an item, a permission set or a mirror
record changes (`state.schema._INPUT_TRIGGERS`). So when the next delta round changed nothing,
the plan would be empty but for local repairs: the run compares data/ with the mirror's
records instead of reading the whole tree and mirror into Python (most of a no-op run of a
large library), and falls back to the full plan at the first difference.
"""

from __future__ import annotations

import json

from ms365sync._version import __version__
from ms365sync.state.store import StateStore
from ms365sync.sync.inputs import LocalInventory, RemoteNotes
from ms365sync.target import TargetSpec

__all__ = ["key", "mark", "unchanged"]


def key(spec: TargetSpec) -> str:
    """What besides the stored state decides the plan (another version may plan or map
    names differently; packages' files are planned only when included; a file waiting
    after a lasting failure may be tried under another `verify`)."""
    return json.dumps(
        [
            __version__,
            spec.filters.fingerprint,
            str(spec.data_dir),
            spec.include_packages,
            spec.verify,
            None if spec.metadata is None else spec.metadata.fingerprint,
        ]
    )


def mark(
    state: StateStore,
    spec: TargetSpec,
    notes: RemoteNotes,
    clean_results: bool,
    failed: dict[str, str],
) -> None:
    """Mark the store converged when this run left nothing to do (call after recording)."""
    clean = (
        not failed
        and not notes.errors
        and not notes.protected
        and clean_results  # no action failed or was skipped
        and not state.has_transient_errors()
        and not _retrying(state)
    )
    state.set_converged(key(spec) if clean else None)


def unchanged(state: StateStore, spec: TargetSpec, local: LocalInventory, now: float) -> bool:
    """Whether the store is still as a converged run left it, no file waiting after a
    lasting failure is due to be tried again, and every recorded file is on disk as
    recorded: then the plan is empty and the run has nothing to do."""
    if state.meta.converged != key(spec) or _retrying(state) or state.retry_due(now):
        return False
    return state.mirror_as_recorded(local.files)


def _retrying(state: StateStore) -> bool:
    """Whether permission reads that failed are waiting to be read again."""
    return bool(state.meta.permission_retry)
