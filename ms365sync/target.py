"""What one target is (`TargetSpec`, `PermissionPolicy`) and how its run went (`SyncResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ms365sync.errors import MS365SyncError
from ms365sync.filters import Filters
from ms365sync.graph.lookup import SiteRef
from ms365sync.models import RunCounters
from ms365sync.outputs.changelog import ChangeLog, Summary
from ms365sync.outputs.logstream import LogDocument

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
    page_size: int = 500  # delta $top
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
    document: LogDocument | None = field(default=None, repr=False)  # the run's change log
    log_path: Path | None = None
    error: MS365SyncError | None = None
    counters: RunCounters = field(default_factory=RunCounters)
    started: float = 0.0
    finished: float = 0.0
    _log: ChangeLog | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def log(self) -> ChangeLog | None:
        """The run's change log as a model, made on first use (an initial sync's log is tens
        of MB as models; the run itself keeps it serialised and compressed)."""
        if self._log is None and self.document is not None:
            self._log = self.document.to_changelog()
        return self._log

    @property
    def summary(self) -> Summary | None:
        return None if self.document is None else self.document.summary

    def count(self, section: str) -> int:
        return 0 if self.document is None else self.document.count(section)
