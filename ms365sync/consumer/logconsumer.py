"""Consuming change logs in order with a durable checkpoint: `LogConsumer`.

A named consumer lists the change logs of one or more targets that it has not acknowledged
yet, in the order they were written (each target's logs by file name: stamp, then suffix;
several targets merged by stamp, then suffix, then target key), applies each and
acknowledges it. A tenant's principals change logs (`LogSource.for_principals`, membership
changes beside `.principals.json`) can be one of the sources: they are merged into the same
order under the same checkpoint, and `consume` hands them to their own function.

The checkpoint is, per consumer and source, the name of the last acknowledged log, kept in
a `CheckpointStore`:

* `FileCheckpointStore`: one small JSON file per consumer, replaced atomically. Applying
  and acknowledging are two steps, so a consumer killed between them applies that log again
  on its next run (at least once): its application must be idempotent.
* `SQLiteCheckpointStore`: a table in the consumer's own SQLite database.
  `LogConsumer.consume` (or `with store.transaction():` around your writes and `ack`)
  commits the acknowledgement in the same transaction as the consumer's writes, so each log
  takes effect exactly once however the consumer is stopped.

Acknowledging checks, inside that transaction, that the checkpoint is still where `pending()`
found it: two consumers of the same name cannot both apply a log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from ms365sync.consumer.checkpoints import (
    CheckpointStore,
    ConsumerError,
    FileCheckpointStore,
    SQLiteCheckpointStore,
)
from ms365sync.outputs.changelog import (
    CHANGES_PREFIX,
    PRINCIPALS_PREFIX,
    ChangeLog,
    LogPosition,
    parse_log_name,
)
from ms365sync.outputs.principals import PrincipalChanges
from ms365sync.target import LOG_DIR

__all__ = [
    "CheckpointStore",
    "ConsumerError",
    "FileCheckpointStore",
    "LogConsumer",
    "LogSource",
    "PendingLog",
    "SQLiteCheckpointStore",
]

_LogT = TypeVar("_LogT", ChangeLog, PrincipalChanges)
_CONSUMER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class LogSource:
    """The change logs of one target: its `sync_logs/` folder, under a stable key.

    The key names the target in checkpoints; `for_target` uses the resolved local root, so
    the same target gets the same key whichever way it is named.
    """

    key: str
    log_dir: Path
    name: str | None = None  # for people: e.g. the target's "site/library"
    prefix: str = CHANGES_PREFIX  # which logs: a target's changes, or principals changes

    @classmethod
    def for_target(cls, local_root: str | Path, name: str | None = None) -> LogSource:
        """The source of the target whose local root (holding `sync_logs/`) is `local_root`."""
        root = Path(local_root).expanduser().resolve()
        return cls(key=str(root), log_dir=root / LOG_DIR, name=name)

    @classmethod
    def for_principals(cls, data_root: str | Path) -> LogSource:
        """The principals change logs of the tenant whose snapshot is in `data_root`."""
        root = Path(data_root).expanduser().resolve()
        return cls(
            key=f"principals:{root}",
            log_dir=root / LOG_DIR,
            name="principals",
            prefix=PRINCIPALS_PREFIX,
        )

    @property
    def principals(self) -> bool:
        """Whether these are a tenant's principals change logs."""
        return self.prefix == PRINCIPALS_PREFIX

    @property
    def target_root(self) -> Path:
        """The target's local root: data/, .permissions.json, .permissions.grants.json."""
        return self.log_dir.parent

    @property
    def label(self) -> str:
        return self.name or self.key

    def logs(self) -> list[tuple[LogPosition, Path]]:
        """Every change log of the target, in the order they were written.

        Raises:
            ConsumerError: the folder exists but cannot be read.
        """
        try:
            names = [entry.name for entry in self.log_dir.iterdir() if entry.is_file()]
        except FileNotFoundError:
            return []  # no run has written a log yet
        except OSError as exc:
            raise ConsumerError(f"{self.log_dir}: cannot list the change logs ({exc})") from exc
        found = [(parse_log_name(n, self.prefix), self.log_dir / n) for n in names]
        return sorted((position, path) for position, path in found if position is not None)


@dataclass(frozen=True)
class PendingLog:
    """A change log a consumer has not acknowledged yet."""

    source: LogSource
    position: LogPosition
    path: Path

    @property
    def id(self) -> str:
        """A stable id: the source's key and the log's file name."""
        return f"{self.source.key}::{self.path.name}"

    def sort_key(self) -> tuple[str, int, str]:
        return (self.position.stamp, self.position.suffix, self.source.key)

    def read(self) -> ChangeLog:
        """The log, parsed.

        Raises:
            ConsumerError: the file is gone, unreadable, or not a change log of this version
                (a principals change log: `read_principals`).
        """
        if self.source.principals:
            raise ConsumerError(f"{self.path}: a principals change log (read_principals)")
        return self._parse(ChangeLog)

    def read_principals(self) -> PrincipalChanges:
        """The principals change log, parsed.

        Raises:
            ConsumerError: the file is gone, unreadable, or not a principals change log.
        """
        return self._parse(PrincipalChanges)

    def _parse(self, model: type[_LogT]) -> _LogT:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConsumerError(f"{self.path}: cannot read the change log ({exc})") from exc
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            problem = f"{exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}"
            raise ConsumerError(
                f"{self.path}: not a change log ({problem})",
                hint="fix or move the file, or acknowledge it to skip it",
            ) from exc


class LogConsumer:
    """The change logs of `sources` that consumer `name` has not acknowledged, in order.

    `checkpoints` is a `CheckpointStore`, or a folder for a `FileCheckpointStore`.
    """

    def __init__(
        self,
        name: str,
        sources: Sequence[LogSource | str | Path],
        checkpoints: CheckpointStore | str | Path,
    ) -> None:
        """A consumer of `sources` (`LogSource`s, or target local roots).

        Raises:
            ValueError: `name` is not 1-100 letters, digits, '.', '_' or '-', or two sources
                share a key.
        """
        if not _CONSUMER_NAME.match(name):
            raise ValueError(f"consumer name {name!r}: use letters, digits, '.', '_' and '-'")
        self.name = name
        self.sources = [s if isinstance(s, LogSource) else LogSource.for_target(s) for s in sources]
        keys = [s.key for s in self.sources]
        if len(set(keys)) != len(keys):
            raise ValueError(f"the same target is listed twice: {sorted(keys)}")
        self._listed: dict[str, list[LogPosition]] = {}  # by pending(): what ack checks
        self.store: CheckpointStore = (
            checkpoints
            if not isinstance(checkpoints, str | Path)
            else FileCheckpointStore(checkpoints)
        )

    def checkpoints(self) -> dict[str, LogPosition | None]:
        """Each source's last acknowledged log position (None: nothing acknowledged).

        Raises:
            ConsumerError: a stored checkpoint is not a change log name.
        """
        stored = self.store.load(self.name)
        return {s.key: _position(stored.get(s.key), s) for s in self.sources}

    def pending(self) -> list[PendingLog]:
        """The logs not acknowledged yet: by stamp, then suffix, then source key.

        Raises:
            ConsumerError: a log folder cannot be listed or a checkpoint is unusable.
        """
        done = self.checkpoints()
        found = []
        for source in self.sources:
            logs = source.logs()
            self._listed[source.key] = [position for position, _ in logs]
            found += [
                PendingLog(source, p, path) for p, path in logs if _after(p, done[source.key])
            ]
        return sorted(found, key=PendingLog.sort_key)

    def ack(self, log: PendingLog) -> None:
        """Acknowledge `log` (inside `store.transaction()` for exactly-once effect).

        Raises:
            ConsumerError: `log` is acknowledged already, an earlier log of its target is
                not, or the checkpoint moved since it was read (another process).
        """
        source = log.source
        stored = self.store.load(self.name).get(source.key)
        current = _position(stored, source)
        if not _after(log.position, current):
            raise ConsumerError(f"consumer {self.name!r}: {log.path} is acknowledged already")
        # Names only ever grow (changelog.log_name), so the listing pending() made suffices.
        listed = self._listed.get(source.key)
        if listed is None:
            listed = [position for position, _ in source.logs()]
        earlier = [p for p in listed if _after(p, current) and p < log.position]
        if earlier:
            raise ConsumerError(
                f"consumer {self.name!r}: {log.path.name} cannot be acknowledged before "
                f"{earlier[0].name}",
                hint="apply and acknowledge the logs in the order pending() returns them",
            )
        self.store.save(self.name, source.key, log.path.name, stored)

    def consume(
        self,
        apply: Callable[[PendingLog, ChangeLog], None],
        *,
        on_acknowledged: Callable[[PendingLog], None] | None = None,
        apply_principals: Callable[[PendingLog, PrincipalChanges], None] | None = None,
    ) -> int:
        """Apply every pending log in order, each in one `store.transaction()` with its
        acknowledgement; returns how many. Principals change logs go to `apply_principals`.
        Stops at the first exception (that log stays pending).

        Raises:
            ConsumerError: as `pending`, `PendingLog.read` and `ack`; a principals change
                log is pending and there is no `apply_principals`; and whatever `apply` or
                `apply_principals` raises.
        """
        count = 0
        for log in self.pending():
            if log.source.principals:
                if apply_principals is None:
                    raise ConsumerError(
                        f"consumer {self.name!r}: {log.path.name} is a principals change log",
                        hint="pass apply_principals to consume()",
                    )
                principal_changes = log.read_principals()
                with self.store.transaction():
                    apply_principals(log, principal_changes)
                    self.ack(log)
            else:
                changes = log.read()
                with self.store.transaction():
                    apply(log, changes)
                    self.ack(log)
            count += 1
            if on_acknowledged is not None:
                on_acknowledged(log)
        return count

    def status(self) -> Mapping[str, tuple[LogPosition | None, int]]:
        """Per source key: the last acknowledged position and how many logs are pending."""
        pending = self.pending()
        done = self.checkpoints()
        return {
            s.key: (done[s.key], sum(1 for p in pending if p.source.key == s.key))
            for s in self.sources
        }


def _position(name: str | None, source: LogSource) -> LogPosition | None:
    if name is None:
        return None
    position = parse_log_name(name, source.prefix)
    if position is None:
        raise ConsumerError(f"checkpoint of {source.label}: {name!r} is not a change log name")
    return position


def _after(position: LogPosition, checkpoint: LogPosition | None) -> bool:
    return checkpoint is None or position > checkpoint
