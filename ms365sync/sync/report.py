"""Turning what a run did into its change log, so each change event is reported once.

Only actions that succeeded become events: a failed download is listed under `errors`
(with when it is tried again, `sync.issues`), never under added or modified. A move is
reported as `deleted` (old path, reason "moved") plus `added` (new path, with
`moved_from`). Files skipped on purpose are listed under `skipped` by the run that first
meets them; a file whose bytes were not fully checked carries its `verification`. When the
target reads document metadata (`sync.metadata`), added and modified entries carry it, a
change of metadata alone is a `metadata_only_changes` entry, and one that came with a
permission change rides on that entry as its `metadata_changes`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from ms365sync.models import ActionKind, MirrorFile, PermissionChanges
from ms365sync.outputs.changelog import (
    AddedEntry,
    ChangeLog,
    Changes,
    DeletedEntry,
    ErrorEntry,
    MetadataOnlyEntry,
    ModifiedEntry,
    PermissionChangesEntry,
    PermissionOnlyEntry,
    RepairEntry,
    SkippedEntry,
    Summary,
    TargetInfo,
)
from ms365sync.outputs.logstream import SECTIONS, LogDocument, Section
from ms365sync.sync.apply import Done
from ms365sync.sync.fetch import Verification
from ms365sync.sync.inputs import Note
from ms365sync.sync.issues import Cause, Issue, IssueKind, IssueLedger
from ms365sync.sync.metadata import Document, changes, document, label_of

# Every field of an added entry is given: one fields-set serves them all.
_ADDED_FIELDS = set(AddedEntry.model_fields)


@dataclass
class LogBuilder:
    """Collects a run's events (each serialised and compressed as it comes, see
    `logdoc`); `build` makes the log's document."""

    data_dir: Path
    ledger: IssueLedger  # this run's per-file issues, against the stored ones
    errors: dict[str, ErrorEntry] = field(default_factory=dict)
    repairs: dict[str, RepairEntry] = field(default_factory=dict)
    skipped: dict[str, SkippedEntry] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()  # item ids now outside the filters
    mapped: dict[str, str] = field(default_factory=dict)  # path -> why its local name differs
    # None: the target reads no document metadata (the section is left out of the log).
    metadata_only: dict[str, MetadataOnlyEntry] | None = None

    def __post_init__(self) -> None:
        self._prefix = os.path.join(str(self.data_dir), "")
        self.sections = {name: Section() for name in SECTIONS}
        self.verified = dict.fromkeys(Verification, 0)

    def file_path(self, local_path: str) -> str:
        """`str(data_dir / local_path)`, without a Path per file (an initial sync adds many)."""
        return self._prefix + local_path.replace("/", os.sep)

    def add_error(
        self,
        path: str,
        reason: str,
        item_id: str | None = None,
        *,
        cause: Cause = Cause.OTHER,
        ctag: str | None = None,
    ) -> None:
        """A file that failed this run: recorded, and reported unless the ledger says it
        was reported before (a download the service refused on purpose, as malware, is
        reported as skipped)."""
        issue = Issue(cause, reason)
        retry = self.ledger.add(item_id or path, path, issue, ctag)
        if retry is not None and issue.kind is IssueKind.SKIPPED and item_id is not None:
            self.skipped[path] = SkippedEntry(
                reason=reason, item_id=item_id, cause=cause.value, retry=retry
            )
        elif retry is not None:
            self.errors[path] = ErrorEntry(
                reason=reason,
                item_id=item_id,
                kind=issue.kind.value,
                cause=cause.value,
                retry=retry,
            )

    def add_skip(self, note: Note) -> None:
        """A file not fetched on purpose: reported the first time only."""
        assert note.cause is not None
        retry = self.ledger.add(note.item_id, note.path, Issue(note.cause, note.reason), note.ctag)
        if retry is not None:
            self.skipped[note.path] = SkippedEntry(
                reason=note.reason, item_id=note.item_id, cause=note.cause.value, retry=retry
            )

    def record(self, results: Iterable[Done]) -> None:
        for done in results:
            if done.error is not None:
                action = done.action
                version = action.remote or action.mirror
                self.add_error(
                    action.path,
                    done.error,
                    action.item_key,
                    cause=done.cause or Cause.OTHER,
                    ctag=version.ctag if version is not None else None,
                )
            elif done.action.kind is ActionKind.REPAIR:
                self._repair(done)
            else:
                self._event(done)

    def _event(self, done: Done) -> None:
        action, new = done.action, done.record
        old = action.mirror
        kind = action.kind
        if kind is ActionKind.DELETE:
            assert old is not None
            reason = "excluded" if old.item_id in self.excluded else "deleted"
            self._deleted(old, reason)
            return
        if kind is ActionKind.DOWNLOAD_CHANGED and done.same_bytes:
            # The copy the consumer has is byte for byte the new one: at most its
            # permissions changed.
            assert old is not None and new is not None
            if old.permissions.labels != new.permissions.labels:
                self._permission_only(old, new)
            else:
                self._metadata_only(old, new)
            return
        verification = done.verification
        if verification is not None:
            self.verified[verification] += 1
        if kind is ActionKind.DOWNLOAD_NEW:
            assert new is not None
            self._added(new, verification=verification)
        elif kind is ActionKind.MOVE:
            assert old is not None and new is not None
            self._deleted(old, "moved", moved_to=new.path)
            self._added(new, moved_from=old.path, verification=verification)
        elif kind is ActionKind.DOWNLOAD_CHANGED:
            assert old is not None and new is not None
            self._modified(old, new, verification)
        elif kind is ActionKind.PERMISSIONS:
            assert old is not None and new is not None
            self._permission_only(old, new)
        elif kind is ActionKind.COLUMNS:
            assert old is not None and new is not None
            self._metadata_only(old, new)

    def _permission_only(self, old: MirrorFile, new: MirrorFile) -> None:
        entry = PermissionOnlyEntry(
            permission_changes=_diff(old, new),
            file_path=self.file_path(new.local_path),
            item_id=new.item_id,
            metadata_changes=_metadata_changes(old, new) or None,
        )
        self.sections["permission_only_changes"].add(new.path, entry)

    def _metadata_only(self, old: MirrorFile, new: MirrorFile) -> None:
        """A change of document metadata alone (nothing when no value a consumer sees
        changed, or the target reads none)."""
        found = _metadata_changes(old, new)
        if not found or self.metadata_only is None:
            return
        doc = _doc(new)
        self.metadata_only[new.path] = MetadataOnlyEntry(
            file_path=self.file_path(new.local_path),
            item_id=new.item_id,
            changes=found,
            sensitivity_label=None if doc is None else _label(doc),
        )

    def _added(
        self,
        new: MirrorFile,
        moved_from: str | None = None,
        verification: Verification | None = None,
    ) -> None:
        # Built from typed values, so not validated again (an initial sync makes one entry
        # per file), and serialised at once.
        doc = _doc(new)
        entry = AddedEntry.model_construct(
            _ADDED_FIELDS,
            permissions=list(new.permissions.labels),
            file_path=self.file_path(new.local_path),
            item_id=new.item_id,
            size=new.size,
            last_modified=new.modified,
            moved_from=moved_from,
            name_mapped=self.mapped.get(new.path),
            verification=None if verification is None else verification.value,
            metadata=doc,
            sensitivity_label=None if doc is None else _label(doc),
        )
        self.sections["added"].add(new.path, entry)

    def _deleted(self, old: MirrorFile, reason: str, moved_to: str | None = None) -> None:
        entry = DeletedEntry(
            permissions=list(old.permissions.labels),
            item_id=old.item_id,
            reason=reason,
            moved_to=moved_to,
        )
        self.sections["deleted"].add(old.path, entry)

    def _modified(
        self, old: MirrorFile, new: MirrorFile, verification: Verification | None
    ) -> None:
        diff = _diff(old, new)
        doc = _doc(new)
        entry = ModifiedEntry(
            content_changed=True,
            permissions_changed=bool(diff.added or diff.removed),
            file_path=self.file_path(new.local_path),
            permission_changes=diff,
            item_id=new.item_id,
            size=new.size,
            last_modified=new.modified,
            verification=None if verification is None else verification.value,
            metadata=doc,
            sensitivity_label=None if doc is None else _label(doc),
        )
        self.sections["modified"].add(new.path, entry)

    def _repair(self, done: Done) -> None:
        record = done.record
        assert record is not None
        reason = "local copy matched again" if done.adopted else "restored from SharePoint"
        self.repairs[record.path] = RepairEntry(
            reason=reason, file_path=self.file_path(record.local_path), item_id=record.item_id
        )

    def build(
        self,
        *,
        stamp: str,
        run_id: str,
        target: TargetInfo,
        total_files: int,
        untracked: int,
        full_resync: bool,
        dry_run: bool,
    ) -> LogDocument:
        """The log's document; the builder takes no events after this."""
        counts = {name: section.count for name, section in self.sections.items()}
        for section in self.sections.values():
            section.close()
        logger.debug(
            "change log built: {} events, {} errors; committing",
            sum(counts.values()),
            len(self.errors),
        )
        summary = Summary(
            total_files=total_files,
            added_count=counts["added"],
            modified_count=counts["modified"],
            deleted_count=counts["deleted"],
            permission_only_changes_count=counts["permission_only_changes"],
            errors_count=len(self.errors),
            repairs_count=len(self.repairs),
            untracked_local_files=untracked,
            skipped_count=len(self.skipped),
            mismatch_accepted_count=self.verified[Verification.MISMATCH_ACCEPTED],
            size_only_count=self.verified[Verification.SIZE_ONLY],
            unverified_count=self.verified[Verification.UNVERIFIED],
            metadata_only_changes_count=None
            if self.metadata_only is None
            else len(self.metadata_only),
        )
        shell = ChangeLog(
            timestamp=stamp,
            summary=summary,
            changes=Changes(),
            errors=self.errors,
            repairs=self.repairs,
            skipped=self.skipped,
            metadata_only_changes=self.metadata_only,
            run_id=run_id,
            target=target,
            full_resync=full_resync,
            dry_run=dry_run,
        )
        return LogDocument(shell, self.sections)


def _doc(file: MirrorFile) -> Document | None:
    return None if file.metadata is None else document(file.metadata)


def _label(doc: Document) -> str | None:
    label_id, label_name = label_of(doc)
    return label_name or label_id


def _metadata_changes(old: MirrorFile, new: MirrorFile) -> dict[str, dict[str, object]]:
    """What changed in the document metadata a consumer sees (nothing when none is read)."""
    if new.metadata is None or new.metadata == old.metadata:
        return {}
    return changes(_doc(old), document(new.metadata))


def _diff(old: MirrorFile, new: MirrorFile) -> PermissionChangesEntry:
    change = PermissionChanges.between(old.permissions.labels, new.permissions.labels)
    return PermissionChangesEntry(
        added=list(change.added), removed=list(change.removed), current=list(change.current)
    )
