"""The per-run change log (`sync_logs/sync_changes_<timestamp>.json`): its models and naming.

The structure is exactly the original tool's (timestamp; summary with total_files,
added_count, modified_count, deleted_count, permission_only_changes_count; changes with
added, modified, permission_only_changes and deleted keyed by library-relative path), with
extra fields a consumer can use: the run id, the target, item ids, `moved_from`, an
`errors` section (files that could not be mirrored this run and will be retried) and a
`repairs` section (local copies restored; not remote changes), a `skipped` section (files
not fetched on purpose: flagged as malware, inside a OneNote notebook; each reported
once) and, on an added or modified file whose bytes were not fully checked against the
listing, its `verification` (graph-facts §17). Paths and item ids are the keys of
`.permissions.grants.json`, which holds each file's grants by stable ids.

Log file names sort in the order the logs were written (`LogPosition`): a second log in
the same second gets a suffix (`_2`, `_3` ...), and a clock that went back keeps the latest
stamp with a higher suffix, so consumers can apply logs in name order.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TIMESTAMP_FORMAT = "%Y-%m-%d_%H-%M-%S"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$"
_LOG_NAMES = {
    prefix: re.compile(
        rf"^{prefix}_(\d{{4}}-\d{{2}}-\d{{2}}_\d{{2}}-\d{{2}}-\d{{2}})(?:_([2-9]|[1-9]\d+))?\.json$"
    )
    for prefix in ("sync_changes", "principal_changes")
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PermissionChangesEntry(_Model):
    added: list[str]
    removed: list[str]
    current: list[str]


_VERIFICATION = (
    "How far the bytes were checked, when not against the listed size and quickXorHash: "
    "mismatch-accepted (two downloads gave the same bytes, not the listed ones), size-only "
    '(no hash listed, or verify = "size") or unverified (verify = "off"). Absent: fully.'
)


_METADATA = (
    "The document's metadata, when the target reads it (metadata in sites.toml): "
    "content_type, created_by, modified_by, sensitivity_label {id, name} and fields "
    "(column internal name -> value as SharePoint gives it); as in .metadata.json."
)
_LABEL = "The file's sensitivity label (its name, else its id), when it has one."
_FIELD_CHANGES = (
    "Each metadata value that changed: name (a column's internal name, or content_type, "
    "created_by, modified_by, sensitivity_label) -> {old, new}; null: no value."
)


class AddedEntry(_Model):
    permissions: list[str] = Field(description='"Display Name:::Level" labels.')
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
    verification: str | None = Field(default=None, description=_VERIFICATION)
    metadata: dict[str, Any] | None = Field(default=None, description=_METADATA)
    sensitivity_label: str | None = Field(default=None, description=_LABEL)


class ModifiedEntry(_Model):
    content_changed: bool
    permissions_changed: bool
    file_path: str
    permission_changes: PermissionChangesEntry
    item_id: str
    size: int
    last_modified: str | None = None
    verification: str | None = Field(default=None, description=_VERIFICATION)
    metadata: dict[str, Any] | None = Field(default=None, description=_METADATA)
    sensitivity_label: str | None = Field(default=None, description=_LABEL)


class PermissionOnlyEntry(_Model):
    permission_changes: PermissionChangesEntry
    file_path: str
    item_id: str
    metadata_changes: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="The metadata that changed with the permissions. " + _FIELD_CHANGES,
    )


class MetadataOnlyEntry(_Model):
    """A file whose document metadata changed, and neither its content nor permissions."""

    file_path: str
    item_id: str
    changes: dict[str, dict[str, Any]] = Field(description=_FIELD_CHANGES)
    sensitivity_label: str | None = Field(default=None, description=_LABEL)


class DeletedEntry(_Model):
    permissions: list[str]
    item_id: str
    reason: str = Field(
        description="deleted, moved (see moved_to), or excluded: by the filters, or now "
        "inside a package such as a OneNote notebook."
    )
    moved_to: str | None = None


class ErrorEntry(_Model):
    reason: str
    item_id: str | None = None
    kind: str | None = Field(
        default=None,
        description="transient (tried again next run) or permanent (for this version).",
    )
    cause: str | None = Field(
        default=None, description="The case, in one word (docs/reliability.md)."
    )
    retry: str | None = Field(default=None, description="When the file is tried again.")


class SkippedEntry(_Model):
    reason: str
    item_id: str
    cause: str = Field(description="malware, malware-detected or package.")
    retry: str = Field(description="When the file is tried again.")


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
    skipped_count: int = 0
    mismatch_accepted_count: int = 0
    size_only_count: int = 0
    unverified_count: int = 0
    metadata_only_changes_count: int | None = None


class Changes(_Model):
    """Each section is keyed by library-relative POSIX path."""

    added: dict[str, AddedEntry] = Field(
        default_factory=dict, description="New files, and the new path of a moved file."
    )
    modified: dict[str, ModifiedEntry] = Field(
        default_factory=dict, description="Files whose content changed (and maybe permissions)."
    )
    permission_only_changes: dict[str, PermissionOnlyEntry] = Field(
        default_factory=dict, description="Files whose permissions alone changed."
    )
    deleted: dict[str, DeletedEntry] = Field(
        default_factory=dict,
        description="Files gone from the mirror: deleted, moved away or newly excluded.",
    )


class TargetInfo(_Model):
    name: str
    site_id: str | None = None
    drive_id: str | None = None
    library: str | None = None


class ChangeLog(_Model):
    """One run's changes, as written to sync_logs/."""

    timestamp: str = Field(
        pattern=TIMESTAMP_PATTERN,
        description="When the run recorded its changes (UTC), e.g. 2024-01-20_14-30-45.",
    )
    summary: Summary
    changes: Changes
    errors: dict[str, ErrorEntry] = Field(default_factory=dict)
    repairs: dict[str, RepairEntry] = Field(default_factory=dict)
    skipped: dict[str, SkippedEntry] = Field(
        default_factory=dict, description="Files not fetched on purpose, each reported once."
    )
    metadata_only_changes: dict[str, MetadataOnlyEntry] | None = Field(
        default=None,
        description="Files whose document metadata alone changed (only when the target "
        "reads metadata), keyed by path.",
    )
    run_id: str
    target: TargetInfo
    full_resync: bool = Field(
        default=False, description="The run re-listed the whole library (first run or 410)."
    )
    dry_run: bool = False

    @property
    def has_changes(self) -> bool:
        c = self.changes
        changed = c.added or c.modified or c.permission_only_changes or c.deleted
        return bool(changed or self.metadata_only_changes)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True)

    def to_json_bytes(self) -> bytes:
        """`to_json()` as UTF-8, without the intermediate text (logs can be tens of MB)."""
        return self.__pydantic_serializer__.to_json(self, indent=2, exclude_none=True)


CHANGES_PREFIX = "sync_changes"
PRINCIPALS_PREFIX = "principal_changes"


@dataclass(frozen=True, order=True)
class LogPosition:
    """Where a log file sorts among its folder's logs of one kind: its name's stamp, then its
    suffix. `prefix` names the kind: a target's change logs, or a tenant's principals change
    logs (`principal_changes_<stamp>[_N].json`)."""

    stamp: str
    suffix: int = 1  # the first log of a second has no suffix in its name
    prefix: str = CHANGES_PREFIX

    @property
    def name(self) -> str:
        extra = "" if self.suffix == 1 else f"_{self.suffix}"
        return f"{self.prefix}_{self.stamp}{extra}.json"


def parse_log_name(name: str, prefix: str = CHANGES_PREFIX) -> LogPosition | None:
    """The position a log's file name of kind `prefix` encodes; None for any other name."""
    found = _LOG_NAMES[prefix].match(name)
    if found is None:  # suffixes start at _2: "_1" would tie with the unsuffixed name
        return None
    return LogPosition(found.group(1), int(found.group(2) or 1), prefix)


def timestamp(now: datetime.datetime) -> str:
    """The log's timestamp (UTC), e.g. 2024-01-20_14-30-45."""
    return now.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT)


def log_name(stamp: str, taken: set[str], log_dir: Path, prefix: str = CHANGES_PREFIX) -> str:
    """A file name for a log of kind `prefix` that neither exists nor is reserved and that
    sorts after every earlier one (in `taken` or in `log_dir`): a suffix when needed, and
    the latest stamp again when the clock went back."""
    try:
        present = os.listdir(log_dir)
    except OSError:  # no folder yet (or unreadable: writing the log will report it)
        present = []
    known = [p for p in (parse_log_name(n, prefix) for n in [*taken, *present]) if p]
    position = LogPosition(stamp, 1, prefix)
    latest = max(known, default=None)
    if latest is not None and position <= latest:
        position = LogPosition(latest.stamp, latest.suffix + 1, prefix)
    while position.name in taken or (log_dir / position.name).exists():
        position = LogPosition(position.stamp, position.suffix + 1, prefix)
    return position.name
