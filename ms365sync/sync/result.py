"""How one target's run went: `SyncResult`, with its change log parsed only when asked for."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ms365sync.errors import MS365SyncError, SafetyError
from ms365sync.models import RunCounters
from ms365sync.outputs.changelog import ChangeLog, Summary
from ms365sync.outputs.logstream import LogDocument


@dataclass
class SyncResult:
    """How one target's run went."""

    target: str
    ok: bool
    dry_run: bool
    document: LogDocument | None = field(default=None, repr=False)  # the run's change log
    log_path: Path | None = None
    error: MS365SyncError | None = None
    refused: SafetyError | None = None  # a dry run: why the real run would be refused
    # A stop cut the run short: what was done is recorded, the rest is left for the next run.
    interrupted: bool = False
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
