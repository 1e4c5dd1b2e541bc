"""The per-run change log (`sync_logs/sync_changes_<timestamp>.json`): its models and naming.

The structure is exactly the original tool's (timestamp; summary with total_files,
added_count, modified_count, deleted_count, permission_only_changes_count; changes with
added, modified, permission_only_changes and deleted keyed by library-relative path), with
extra fields a consumer can use: the run id, the target, item ids, `moved_from`, an
`errors` section (files that could not be mirrored this run and will be retried) and a
`repairs` section (local copies restored; not remote changes).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

LOG_DIR = "sync_logs"
TIMESTAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PermissionChangesEntry(_Model):
    added: list[str]
    removed: list[str]
    current: list[str]


class AddedEntry(_Model):
    permissions: list[str]
    file_path: str = Field(description="Where the file is on disk.")
    item_id: str
    size: int
    last_modified: str | None = None
    moved_from: str | None = Field(
        default=None, description="The old path when the file was renamed or moved."
    )
    name_mapped: str | None = Field(
        default=None,
        description="Why the local name differs from the remote one (unsafe on disk).",
    )


class ModifiedEntry(_Model):
    content_changed: bool
    permissions_changed: bool
    file_path: str
    permission_changes: PermissionChangesEntry
    item_id: str
    size: int
    last_modified: str | None = None


class PermissionOnlyEntry(_Model):
    permission_changes: PermissionChangesEntry
    file_path: str
    item_id: str


class DeletedEntry(_Model):
    permissions: list[str]
    item_id: str
    reason: str = Field(description="deleted, moved (see moved_to) or excluded by the filters.")
    moved_to: str | None = None


class ErrorEntry(_Model):
    reason: str
    item_id: str | None = None


class RepairEntry(_Model):
    reason: str
    file_path: str
    item_id: str


class Summary(_Model):
    total_files: int
    added_count: int
    modified_count: int
    deleted_count: int
    permission_only_changes_count: int
    errors_count: int = 0
    repairs_count: int = 0
    untracked_local_files: int = 0


class Changes(_Model):
    added: dict[str, AddedEntry] = Field(default_factory=dict)
    modified: dict[str, ModifiedEntry] = Field(default_factory=dict)
    permission_only_changes: dict[str, PermissionOnlyEntry] = Field(default_factory=dict)
    deleted: dict[str, DeletedEntry] = Field(default_factory=dict)


class TargetInfo(_Model):
    name: str
    site_id: str | None = None
    drive_id: str | None = None
    library: str | None = None


class ChangeLog(_Model):
    """One run's changes, as written to sync_logs/."""

    timestamp: str
    summary: Summary
    changes: Changes
    errors: dict[str, ErrorEntry] = Field(default_factory=dict)
    repairs: dict[str, RepairEntry] = Field(default_factory=dict)
    run_id: str
    target: TargetInfo
    full_resync: bool = Field(
        default=False, description="The run re-listed the whole library (first run or 410)."
    )
    dry_run: bool = False

    @property
    def has_changes(self) -> bool:
        c = self.changes
        return bool(c.added or c.modified or c.permission_only_changes or c.deleted)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)


def timestamp(now: datetime.datetime) -> str:
    """The log's timestamp (UTC), e.g. 2024-01-20_14-30-45."""
    return now.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT)


def log_name(stamp: str, taken: set[str], log_dir: Path) -> str:
    """A file name for the log that neither exists nor is reserved: a suffix when needed."""
    candidate = f"sync_changes_{stamp}.json"
    counter = 2
    while candidate in taken or (log_dir / candidate).exists():
        candidate = f"sync_changes_{stamp}_{counter}.json"
        counter += 1
    return candidate
