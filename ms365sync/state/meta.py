"""The state's metadata (the `meta` table) as one typed record, with a setter per datum.

Each entry is stored as a key and a text value; the keys and the text forms are the store's
on-disk format and are spelled here only. Callers read `StateStore.meta` (a `Meta`) and write
through the typed setters of `MetaTables`.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["SWEEP_WINDOW_S", "Deferral", "Meta", "MetaKey", "MetaTables", "SweepRecord"]


class MetaKey(enum.Enum):
    """The key of each meta entry, as stored."""

    SCHEMA_VERSION = "schema_version"
    SITE_ID = "site_id"
    DRIVE_ID = "drive_id"
    TARGET = "target"  # what the ids were resolved from (the syncer's key of site and library)
    DELTA_LINK = "delta_link"
    PREFER_SHARING = "prefer_sharing"  # "1"/"0": the Prefer headers the delta link was taken with
    HIERARCHICAL = "hierarchical"  # "1"/"0": the service honours hierarchical sharing hints
    LAST_SWEEP = "last_sweep"  # str(time) of the last complete permission sweep
    LAST_FULL_SWEEP = "last_full_sweep"  # str(time) of the last complete full sweep
    SWEEPS = "sweeps"  # JSON [[time, kind, RU], ...]: the sweeps of the last 24 hours
    SWEEP_DEFERRED = "sweep_deferred"  # JSON [time, kind, reason]: a due sweep put off
    SWEEP_ESTIMATES = "sweep_estimates"  # JSON {"structure": RU, "full": RU} of the tree
    PERMISSION_RETRY = "permission_retry"  # JSON list of the ids whose permission read failed
    CONVERGED = "converged"  # set when a run left the mirror equal to the tree (sync.shortcut)
    GRANTS_FILE = "grants_file"  # what identifies the grants file as last written
    PERMISSIONS_FILE_STAMP = "permissions_file_stamp"  # "size:mtime_ns" of .permissions.json
    LIST_IDS = "list_ids"  # "1"/"0": the delta link's listing selected sharepointIds
    LIST_ID = "list_id"  # the library's list id (its list's delta takes it)
    FIELDS_LINK = "fields_link"  # the list's delta link
    FIELDS_KEY = "fields_key"  # what the list's delta link was asked for (its columns)
    METADATA_FILE_STAMP = "metadata_file_stamp"  # "size:mtime_ns" of .metadata.json


@dataclass(frozen=True, slots=True)
class SweepRecord:
    """One completed permission sweep: when it ended, its kind and the RU it spent."""

    at: float
    kind: str
    ru: float


@dataclass(frozen=True, slots=True)
class Deferral:
    """A due sweep a run put off: when, which kind, and why (one line)."""

    at: float
    kind: str
    reason: str


SWEEP_WINDOW_S = 24 * 3600.0  # how long sweep records are kept: the daily budget's window


@dataclass(frozen=True, slots=True)
class Meta:
    """Every meta entry, decoded (None or empty: not stored)."""

    schema_version: int | None = None
    site_id: str | None = None
    drive_id: str | None = None
    target: str | None = None
    delta_link: str | None = None
    prefer_sharing: bool | None = None
    hierarchical: bool | None = None
    last_sweep: float | None = None
    last_full_sweep: float | None = None
    sweeps: tuple[SweepRecord, ...] = ()
    sweep_deferred: Deferral | None = None
    sweep_estimates: dict[str, float] = field(default_factory=dict)
    permission_retry: tuple[str, ...] = ()
    converged: str | None = None
    grants_file: str | None = None
    permissions_file_stamp: str | None = None
    list_ids: bool | None = None
    list_id: str | None = None
    fields_link: str | None = None
    fields_key: str | None = None
    metadata_file_stamp: str | None = None

    @classmethod
    def decode(cls, stored: dict[str, str]) -> Meta:
        """The record of the stored `key -> value` entries (unknown keys are ignored)."""

        def text(key: MetaKey) -> str | None:
            return stored.get(key.value)

        version = text(MetaKey.SCHEMA_VERSION)
        sweep = text(MetaKey.LAST_SWEEP)
        full = text(MetaKey.LAST_FULL_SWEEP)
        deferred = json.loads(text(MetaKey.SWEEP_DEFERRED) or "null")
        return cls(
            schema_version=None if version is None else int(version),
            site_id=text(MetaKey.SITE_ID),
            drive_id=text(MetaKey.DRIVE_ID),
            target=text(MetaKey.TARGET),
            delta_link=text(MetaKey.DELTA_LINK),
            prefer_sharing=_flag(text(MetaKey.PREFER_SHARING)),
            hierarchical=_flag(text(MetaKey.HIERARCHICAL)),
            last_sweep=float(sweep) if sweep else None,
            last_full_sweep=float(full) if full else None,
            sweeps=tuple(
                SweepRecord(float(at), str(kind), float(ru))
                for at, kind, ru in json.loads(text(MetaKey.SWEEPS) or "[]")
            ),
            sweep_deferred=None if deferred is None else Deferral(*deferred),
            sweep_estimates=json.loads(text(MetaKey.SWEEP_ESTIMATES) or "{}"),
            permission_retry=tuple(json.loads(text(MetaKey.PERMISSION_RETRY) or "[]")),
            converged=text(MetaKey.CONVERGED),
            grants_file=text(MetaKey.GRANTS_FILE),
            permissions_file_stamp=text(MetaKey.PERMISSIONS_FILE_STAMP),
            list_ids=_flag(text(MetaKey.LIST_IDS)),
            list_id=text(MetaKey.LIST_ID),
            fields_link=text(MetaKey.FIELDS_LINK),
            fields_key=text(MetaKey.FIELDS_KEY),
            metadata_file_stamp=text(MetaKey.METADATA_FILE_STAMP),
        )


def _flag(text: str | None) -> bool | None:
    return {"1": True, "0": False}.get(text) if text is not None else None


def _flag_text(value: bool) -> str:
    return "1" if value else "0"


def read_value(db: sqlite3.Connection, key: MetaKey) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key.value,)).fetchone()
    return None if row is None else str(row[0])


def write_value(db: sqlite3.Connection, key: MetaKey, value: str | None) -> None:
    """Store `value` under `key` (None: remove the entry)."""
    if value is None:
        db.execute("DELETE FROM meta WHERE key = ?", (key.value,))
    else:
        db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key.value, value),
        )


class MetaTables:
    """The meta table of a `StateStore` (a mixin over its connection)."""

    _db: sqlite3.Connection

    @property
    def meta(self) -> Meta:
        """Every entry as stored now (read afresh: triggers remove some as data changes)."""
        return Meta.decode(
            {str(key): str(value) for key, value in self._db.execute("SELECT key, value FROM meta")}
        )

    def set_listing(
        self,
        *,
        delta_link: str | None,
        site_id: str,
        drive_id: str,
        target: str,
        prefer_sharing: bool,
        list_ids: bool = False,
    ) -> None:
        """Record what a run listed: the ids it resolved (from `target`), and the delta link
        to continue from with the same Prefer headers (and, `list_ids`, selection)."""
        write_value(self._db, MetaKey.DELTA_LINK, delta_link)
        write_value(self._db, MetaKey.DRIVE_ID, drive_id)
        write_value(self._db, MetaKey.SITE_ID, site_id)
        write_value(self._db, MetaKey.TARGET, target)
        write_value(self._db, MetaKey.PREFER_SHARING, _flag_text(prefer_sharing))
        write_value(self._db, MetaKey.LIST_IDS, "1" if list_ids else None)

    def set_fields_listing(self, *, list_id: str | None, link: str | None, key: str | None) -> None:
        """Record the list's delta link to continue from, with the list it reads and what
        it was asked for (all None: the target reads no metadata)."""
        write_value(self._db, MetaKey.LIST_ID, list_id)
        write_value(self._db, MetaKey.FIELDS_LINK, link)
        write_value(self._db, MetaKey.FIELDS_KEY, key)

    def set_metadata_file_stamp(self, stamp: str | None) -> None:
        write_value(self._db, MetaKey.METADATA_FILE_STAMP, stamp)

    def set_last_sweep(self, when: float) -> None:
        write_value(self._db, MetaKey.LAST_SWEEP, str(when))

    def set_last_full_sweep(self, when: float) -> None:
        write_value(self._db, MetaKey.LAST_FULL_SWEEP, str(when))

    def record_sweep(self, when: float, kind: str, ru: float) -> None:
        """Add a completed sweep to those of the last 24 hours (older ones are dropped)."""
        kept = [[r.at, r.kind, r.ru] for r in self.meta.sweeps if when - r.at < SWEEP_WINDOW_S]
        kept.append([when, kind, ru])
        write_value(self._db, MetaKey.SWEEPS, json.dumps(kept))

    def set_sweep_estimates(self, structure: float, full: float) -> None:
        """What a sweep of either kind would cost now, for the coordinator's next plan."""
        value = json.dumps({"structure": structure, "full": full})
        write_value(self._db, MetaKey.SWEEP_ESTIMATES, value)

    def set_sweep_deferred(self, deferral: Deferral | None) -> None:
        """Record (or, with None, clear) that a due sweep was put off."""
        value = (
            None if deferral is None else json.dumps([deferral.at, deferral.kind, deferral.reason])
        )
        write_value(self._db, MetaKey.SWEEP_DEFERRED, value)

    def set_hierarchical(self, honoured: bool) -> None:
        write_value(self._db, MetaKey.HIERARCHICAL, _flag_text(honoured))

    def set_permission_retry(self, item_ids: Iterable[str]) -> None:
        """The items whose permission read failed, to read again next run."""
        write_value(self._db, MetaKey.PERMISSION_RETRY, json.dumps(sorted(item_ids)))

    def set_converged(self, key: str | None) -> None:
        """Mark the store converged under `key` (None: not converged)."""
        write_value(self._db, MetaKey.CONVERGED, key)

    def set_grants_file(self, stamp: str) -> None:
        """What identifies the grants file as just written (triggers forget it)."""
        write_value(self._db, MetaKey.GRANTS_FILE, stamp)

    def set_permissions_file_stamp(self, stamp: str | None) -> None:
        write_value(self._db, MetaKey.PERMISSIONS_FILE_STAMP, stamp)
