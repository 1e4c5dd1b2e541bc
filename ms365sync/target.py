"""What one target is: `TargetSpec`, the site and filters it names, and every name it uses on disk.

This module imports neither requests nor the sync machinery, so the configuration, the
command line and the library API can all build targets cheaply.

A target's local root holds (the formats are documented in docs/rag.md):

    data/                              the mirror
    .permissions.json                  each file's permissions as "Display Name:::Level"
    .permissions.grants.json           each file's grants by stable principal id
    .metadata.json                     each file's document metadata (when it is read)
    sync_logs/sync_changes_<ts>.json   one change log per run that changed something
    .ms365sync/state.db                the state store (SQLite)
    .ms365sync/lock                    held while a run works on the target
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pathspec

    from ms365sync.where import Where

DATA_DIR = "data"
PERMISSIONS_FILE = ".permissions.json"
GRANTS_FILE = ".permissions.grants.json"
METADATA_FILE = ".metadata.json"  # each mirrored file's document metadata (issue 21)
LOG_DIR = "sync_logs"
STATE_DIR = ".ms365sync"
DB_NAME = "state.db"
LOCK_NAME = "lock"
# How long a download may go on failing without getting further before it gives up (the
# file is listed under errors and tried again by the next run): seven or eight attempts with
# the exponential back-off of 1, 2, 4 ... seconds between them.
DOWNLOAD_GIVE_UP_S = 60.0
# Seconds the downloads in flight get to finish after a first stop request (a signal).
STOP_TIMEOUT_S = 10.0
# How long a file that failed for good (for its current version) waits before a run tries
# it again anyway, when the item has not changed meanwhile (graph-facts §17).
RETRY_PERMANENT_AFTER_S = 7 * 86_400.0

# How a download is checked against the listing (graph-facts §17.1): "consistent" accepts
# bytes that differ from the listed size or quickXorHash only when a second download serves
# exactly the same ones (and reports them); "strict" never accepts them; "size" compares
# the size only (rclone's --ignore-checksum); "off" compares nothing (--ignore-size too).
VerifyMode = Literal["consistent", "strict", "size", "off"]
VERIFY_MODES: tuple[VerifyMode, ...] = ("consistent", "strict", "size", "off")


@dataclass(frozen=True)
class SiteRef:
    """How the configuration names a site: hostname + path, or display name."""

    host: str | None = None
    path: str | None = None
    display_name: str | None = None

    def describe(self) -> str:
        if self.host and self.path:
            return f"{self.host}{self.path}"
        return repr(self.display_name or self.host or "?")


class FilterError(ValueError):
    """An include or exclude pattern pathspec cannot parse."""


def _compile(patterns: Sequence[str], what: str) -> pathspec.GitIgnoreSpec | None:
    if not patterns:
        return None
    import pathspec  # noqa: PLC0415 - only a target with filters pays for it

    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except (ValueError, TypeError) as exc:  # GitWildMatchPatternError is a ValueError
        raise FilterError(f"invalid {what} pattern: {exc}") from exc


@dataclass(frozen=True)
class Filters:
    """A path is mirrored when it matches an include pattern (or none are given) and no
    exclude pattern."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _include: pathspec.GitIgnoreSpec | None = field(init=False, repr=False, compare=False)
    _exclude: pathspec.GitIgnoreSpec | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", _compile(self.include, "include"))
        object.__setattr__(self, "_exclude", _compile(self.exclude, "exclude"))

    def accepts(self, path: str) -> bool:
        if self._include is not None and not self._include.match_file(path):
            return False
        return self._exclude is None or not self._exclude.match_file(path)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the patterns do, so a run can tell the filters changed."""
        raw = json.dumps([list(self.include), list(self.exclude)])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


SweepKind = Literal["structure", "full"]
"""How a permission sweep finds what changed: "structure" reads the permission roots a fresh
hierarchical-sharing enumeration marks (2 RU per page, 5 per root); "full" reads every file
(5 RU each) and compares it with its folder."""


@dataclass(frozen=True)
class PermissionPolicy:
    """When to verify the stored permissions beyond what delta's sharing hints reported (the
    hints miss some changes, graph-facts §5.8), and how.

    `mode`/`interval_s` say when a sweep is due; `sweep` what kind it is; in structure mode a
    full sweep is also due every `full_interval_s` (None: never).
    """

    mode: Literal["always", "interval", "never"] = "interval"
    interval_s: float = 24 * 3600.0
    sweep: SweepKind = "structure"
    full_interval_s: float | None = None

    def due(self, last_sweep: float | None, now: float) -> bool:
        if self.mode == "always":
            return True
        if self.mode == "never" or last_sweep is None:
            return False
        return now - last_sweep >= self.interval_s

    def full_due(self, last_full: float | None, now: float) -> bool:
        """Whether structure mode's occasional full sweep is due (never before a first run)."""
        if self.full_interval_s is None or last_full is None:
            return False
        return now - last_full >= self.full_interval_s

    def kind_due(
        self, last_sweep: float | None, last_full: float | None, now: float
    ) -> SweepKind | None:
        """The sweep this run owes, if any: a full one when its own cadence (or full mode)
        says so, else a structure one when the sweep policy says so."""
        if self.sweep == "structure" and self.full_due(last_full, now):
            return "full"
        if not self.due(last_sweep, now):
            return None
        return self.sweep

    def next_due(self, last_sweep: float | None, last_full: float | None) -> float | None:
        """When the next sweep falls due by the clock (None: no interval says when: the
        policy is "never" or "always", or the target has not run yet)."""
        times: list[float] = []
        if self.mode == "interval" and last_sweep is not None:
            times.append(last_sweep + self.interval_s)
        if self.sweep == "structure" and self.full_interval_s is not None and last_full is not None:
            times.append(last_full + self.full_interval_s)
        return min(times) if times else None


@dataclass(frozen=True)
class BudgetSettings:
    """The tenant's licence band and the share of its daily budget sweeps may take."""

    ru_per_minute: float = 1_250
    ru_per_day: float = 1_200_000
    share: float = 0.25

    def part(self, shares: int) -> BudgetSettings:
        """One of `shares` equal parts of the band (a shard's, when nothing is shared)."""
        count = max(1, shares)
        return BudgetSettings(self.ru_per_minute / count, self.ru_per_day / count, self.share)

    @property
    def allowance(self) -> float:
        """Resource units all sweeps together may spend in any 24 hours."""
        return self.ru_per_day * self.share

    def minutes(self, units: float) -> float:
        """How long `units` take at the sweeps' share of the one-minute budget."""
        return units / (self.ru_per_minute * self.share)


SMALLEST_BAND = BudgetSettings()
"""SharePoint's smallest licence band (0-1,000 licences): 1,250 RU a minute, 1.2 M a day."""


LABEL_ID_COLUMN = "_IpLabelId"  # a file's sensitivity label id (graph-facts §18.3)
LABEL_NAME_COLUMN = "_DisplayName"  # the "Sensitivity" column: the label's name
# The names a metadata filter and the change log use beside the columns' internal names:
# what a list item says of a document outside its `fields` (sync.metadata).
DOCUMENT_NAMES = ("content_type", "created_by", "modified_by", "sensitivity_label")


@dataclass(frozen=True)
class MetadataSpec:
    """Which document metadata a target reads, publishes and filters on (issue 21).

    `columns`: the library columns' internal names to read (None: every column the service
    returns). `where`: the files to keep, by their metadata (`ms365sync.where`);
    `exclude_labels`: files whose sensitivity label has one of these names or ids. Files
    the two leave out stay out of the mirror, as a path filter leaves files out.
    """

    columns: tuple[str, ...] | None = ()
    where: Where | None = None
    exclude_labels: tuple[str, ...] = ()

    def request(self, visible: Sequence[str] = ()) -> tuple[str, ...]:
        """The columns the list's delta is asked for: the configured ones (with "all", the
        library's `visible` columns), those `where` reads, and the label's two, which are
        hidden columns and come only when named (graph-facts §18.5)."""
        chosen = visible if self.columns is None else self.columns
        read = sorted(self.where.names) if self.where is not None else []
        wanted = [c for c in (*chosen, *read) if c not in DOCUMENT_NAMES]
        wanted = list(dict.fromkeys(wanted))
        for name in (LABEL_ID_COLUMN, LABEL_NAME_COLUMN):
            if name not in wanted:
                wanted.append(name)
        return tuple(wanted)

    @property
    def filters(self) -> bool:
        """Whether the metadata leaves any file out (`where` or `exclude_labels` is set)."""
        return self.where is not None or bool(self.exclude_labels)

    def excludes_label(self, label_id: str | None, label_name: str | None) -> bool:
        """Whether a file with this label is left out (names compared without case)."""
        if not self.exclude_labels or (label_id is None and label_name is None):
            return False
        wanted = {label.casefold() for label in self.exclude_labels}
        return any(v is not None and v.casefold() in wanted for v in (label_id, label_name))

    @property
    def fingerprint(self) -> str:
        """Changes whenever the settings do (the columns read, the filters)."""
        where = None if self.where is None else str(self.where)
        raw = json.dumps([self.columns, where, list(self.exclude_labels)])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TargetSpec:
    """Everything one target needs; built from the configuration or the library API."""

    name: str
    site: SiteRef
    library: str
    local_root: Path
    filters: Filters = field(default_factory=Filters)
    concurrency: int | None = None  # concurrent downloads; None: they follow the round trips
    max_delete_count: int | None = 1000
    max_delete_percent: float | None = 50.0
    permissions: PermissionPolicy = field(default_factory=PermissionPolicy)
    write_empty_logs: bool = False
    prefer_sharing: bool = True
    page_size: int = 500  # delta $top
    lock_timeout: float = 0.0
    download_give_up: float = DOWNLOAD_GIVE_UP_S  # seconds; see DOWNLOAD_GIVE_UP_S
    verify: VerifyMode = "consistent"
    include_packages: bool = False  # mirror the files inside packages (OneNote notebooks)
    retry_permanent_after: float = RETRY_PERMANENT_AFTER_S  # seconds; see its constant
    metadata: MetadataSpec | None = None  # None: no document metadata is read

    @property
    def state_dir(self) -> Path:
        return self.local_root / STATE_DIR

    @property
    def data_dir(self) -> Path:
        return self.local_root / DATA_DIR

    @property
    def log_dir(self) -> Path:
        return self.local_root / LOG_DIR

    @property
    def own_paths(self) -> tuple[Path, ...]:
        """Everything of the target's own beside data/: what a run reads and writes there."""
        names = (STATE_DIR, LOG_DIR, PERMISSIONS_FILE, GRANTS_FILE, METADATA_FILE)
        return tuple(self.local_root / name for name in names)
