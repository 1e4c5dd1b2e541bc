"""Shared pieces of the reliability suite.

- the tenant's truth per library (`truth`) and the change events a history must produce
  between two truths (`expected_events`), compared with what the change logs say
  (`assert_events`): each event exactly once, none missing, none spurious;
- the mirror compared with the emulator's export (`assert_mirror_equals_export`) and with
  the state store's records (`assert_state_consistent`);
- what a failed run must leave untouched (`TargetSnapshot`);
- clients on an in-process emulator whose throttle gate runs on virtual time, so a
  Retry-After of one second costs nothing (`VirtualTime`, `make_client`), faults aimed at
  one request (`TargetedFaults`), and `ms365sync` child processes (`start_sync`).
Seeded remote changes are in support/changes.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import pprint
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ms365sync.emulator import Drive, Emulator, Item, Tenant, export_tenant
from ms365sync.emulator.control.faults import FaultInjector
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.emulator.tenant.quirks import item_quirks, served_content
from ms365sync.emulator.transport.http import Request
from ms365sync.graph import GLOBAL, ClientSecret, GraphClient, MsalTokenProvider, ThrottleGate
from ms365sync.localfs.names import is_temp_name
from ms365sync.state.store import StateStore
from ms365sync.target import SiteRef, TargetSpec
from support.harness import Recorder, fast_gate

Event = tuple[str, str]  # (change-log section, library-relative path)
SECTIONS = ("added", "modified", "permission_only_changes", "deleted")

# ------------------------------------------------------------------------- virtual time


class VirtualTime:
    """A clock that moves only when someone sleeps on it: Retry-After and back-off are free.

    Waiting threads each add their delay, so virtual time runs ahead of any real schedule;
    only the order of events matters to the gate.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    def gate(self) -> ThrottleGate:
        return ThrottleGate(clock=self.now, sleep=self.sleep)


def make_client(
    emulator: Emulator,
    *,
    recorder: Recorder | None = None,
    gate: ThrottleGate | None = None,
    max_attempts: int = 8,
    secret: str | None = None,
) -> GraphClient:
    """A client on the in-process emulator, signing in as the tenant's first app."""
    creds = emulator.credentials
    session: requests.Session = emulator.session()
    if recorder is not None:
        session.hooks["response"].append(recorder.hook)
    provider = MsalTokenProvider(
        tenant_id=creds.tenant_id,
        client_id=creds.client_id,
        credential=ClientSecret(secret or creds.client_secret),
        cloud=GLOBAL,
        http_client=session,
    )
    return GraphClient(
        GLOBAL.graph_url,
        provider,
        session=session,
        gate=gate or fast_gate(),
        max_attempts=max_attempts,
    )


# ------------------------------------------------------------------------- child processes

_WAIT_LIMIT = 120.0  # seconds a child may take to reach a logged point


def child_env(home: Path) -> dict[str, str]:
    """The environment of a child process: no CA-bundle or proxy settings of this machine
    (the configuration names the emulator's CA), and a home of its own."""
    skip = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
    env = {k: v for k, v in os.environ.items() if k not in skip and "proxy" not in k.lower()}
    home.mkdir(parents=True, exist_ok=True)
    return env | {"HOME": str(home), "PYTHONUNBUFFERED": "1"}


def start_sync(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`python -m ms365sync --config CONFIG -v --log-file LOG`, output next to the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "ms365sync", "--config", str(config), "-v"]
    with log.with_suffix(".out").open("wb") as out, log.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(
            [*command, "--log-file", str(log), *extra],
            cwd=config.parent,
            env=child_env(config.parent / "home"),
            stdout=out,
            stderr=err,
        )


def wait_for_line(log: Path, marker: str, child: subprocess.Popen[bytes]) -> bool:
    """Whether `marker` appeared in the log before the child exited."""
    deadline = time.monotonic() + _WAIT_LIMIT
    offset, pending = 0, b""
    while time.monotonic() < deadline:
        if log.exists():
            with log.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            if any(marker.encode() in line for line in lines):
                return True
        if child.poll() is not None:
            return False
        time.sleep(0.0005)
    child.kill()
    pytest.fail(f"no {marker!r} in {log} within {_WAIT_LIMIT} s")


# ------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Library:
    """One library of the tenant and where its mirror goes: `<mirror>/<site>/<library>`,
    the layout of both `ms365sync --config` (sites_toml) and `export_tenant`."""

    drive: Drive
    local_root: Path

    @property
    def name(self) -> str:
        return f"{self.drive.site.name}/{self.drive.url_segment}"

    def spec(self, **overrides: Any) -> TargetSpec:
        site = self.drive.site
        values: dict[str, Any] = {
            "name": self.name,
            "site": SiteRef(host=site.hostname, path=site.path),
            "library": self.drive.url_segment,
            "local_root": self.local_root,
        }
        values.update(overrides)
        return TargetSpec(**values)

    def logs(self) -> set[Path]:
        return log_files(self.local_root)


def libraries(tenant: Tenant, mirror: Path) -> list[Library]:
    """Every non-system library of the tenant, in a stable order."""
    drives = sorted(
        (d for d in tenant.drives() if not d.system), key=lambda d: (d.site.path, d.url_segment)
    )
    return [Library(d, mirror / d.site.name / d.url_segment) for d in drives]


def library_named(tenant: Tenant, mirror: Path, name: str) -> Library:
    """The library `name` ("site/library URL segment") of the tenant, mirrored under `mirror`."""
    (library,) = [lib for lib in libraries(tenant, mirror) if lib.name == name]
    return library


def log_files(local_root: Path) -> set[Path]:
    folder = local_root / "sync_logs"
    return set(folder.glob("sync_changes_*.json")) if folder.is_dir() else set()


# ------------------------------------------------------------------------- the truth


@dataclass(frozen=True)
class FileTruth:
    """One remote file as a perfect mirror would hold it."""

    path: str
    digest: str
    labels: tuple[str, ...]


def segments(item: Item) -> list[str]:
    """The names from the library root down to `item` (names may contain "/")."""
    names: list[str] = []
    node: Item | None = item
    while node is not None and node.parent is not None:
        names.append(node.name)
        node = node.parent
    return names[::-1]


def key(names: Sequence[str]) -> str:
    """A file's key as docs/reliability.md defines it, spelled out here rather than taken
    from the client: the names joined by "/", each with its "\\" and "/" escaped by "\\"."""
    return "/".join(name.replace("\\", "\\\\").replace("/", "\\/") for name in names)


# Files a mirror following graph-facts §17 does not hold (besides those inside packages).
_NOT_HELD = frozenset({"malware", "unstable", "locked", "vanishes"})


def truth(tenant: Tenant, drive: Drive) -> dict[str, FileTruth]:
    """Every file of the library a mirror holds by item id, with its path, content digest
    (of the bytes served, which a rewritten file keeps) and labels; files inside packages,
    flagged as malware or never fetched whole are not held (docs/reliability.md)."""
    with tenant.lock:
        found: dict[str, FileTruth] = {}
        for item in drive.files():
            assert item.content is not None
            if _NOT_HELD.intersection(item_quirks(item)) or any(
                folder.is_package for folder in item.ancestors()
            ):
                continue
            digest = hashlib.sha256(served_content(item).read_all()).hexdigest()
            labels = tuple(expected_labels(tenant, drive, item))
            found[item.id] = FileTruth(key(segments(item)), digest, labels)
        return found


def in_packages(tenant: Tenant, drive: Drive) -> frozenset[str]:
    """The ids of the files inside packages (a mirror leaves them out, as if filtered)."""
    with tenant.lock:
        return frozenset(
            item.id
            for item in drive.files()
            if any(folder.is_package for folder in item.ancestors())
        )


def expected_events(
    before: dict[str, FileTruth],
    after: dict[str, FileTruth],
    excluded: Collection[str] = frozenset(),
) -> dict[Event, tuple[Any, ...]]:
    """The change events that take a mirror from `before` to `after`, with the details a
    consumer relies on (see `logged_events` for their shape); a file gone from `after`
    because it is now `excluded` (its id) is deleted for that reason."""
    events: dict[Event, tuple[Any, ...]] = {}
    for item_id, new in after.items():
        old = before.get(item_id)
        if old is None:
            events[("added", new.path)] = (None, new.labels)
        elif old.path != new.path:
            events[("deleted", old.path)] = ("moved", new.path)
            events[("added", new.path)] = (old.path, new.labels)
        elif old.digest != new.digest:
            events[("modified", new.path)] = (old.labels != new.labels, new.labels)
        elif old.labels != new.labels:
            events[("permission_only_changes", new.path)] = (new.labels,)
    for item_id, old in before.items():
        if item_id not in after:
            reason = "excluded" if item_id in excluded else "deleted"
            events[("deleted", old.path)] = (reason, None)
    return events


def logged_events(logs: Iterable[Path]) -> tuple[Counter[Event], dict[Event, tuple[Any, ...]]]:
    """How often each event appears in the change logs, and its details."""
    counts: Counter[Event] = Counter()
    details: dict[Event, tuple[Any, ...]] = {}
    for path in logs:
        changes = json.loads(path.read_text(encoding="utf-8"))["changes"]
        for section in SECTIONS:
            for key, entry in changes[section].items():
                counts[(section, key)] += 1
                details[(section, key)] = _details(section, entry)
    return counts, details


def _details(section: str, entry: dict[str, Any]) -> tuple[Any, ...]:
    if section == "added":
        return (entry.get("moved_from"), tuple(entry["permissions"]))
    if section == "deleted":
        return (entry["reason"], entry.get("moved_to"))
    current = tuple(entry["permission_changes"]["current"])
    if section == "modified":
        return (entry["permissions_changed"], current)
    return (current,)


def assert_events(logs: Iterable[Path], expected: dict[Event, tuple[Any, ...]]) -> None:
    """The logs hold exactly `expected`: each event once, with the right details."""
    counts, details = logged_events(logs)
    repeated = {event: n for event, n in counts.items() if n > 1}
    missing = sorted(expected.keys() - details.keys())
    spurious = sorted(details.keys() - expected.keys())
    wrong = {
        event: {"logged": details[event], "expected": expected[event]}
        for event in expected.keys() & details.keys()
        if details[event] != expected[event]
    }
    problems = {"repeated": repeated, "missing": missing, "spurious": spurious, "wrong": wrong}
    assert not any(problems.values()), _short(problems)


def _short(problems: dict[str, Any], limit: int = 3000) -> str:
    text = pprint.pformat(problems, width=100, compact=True)
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------- the mirror


def digests(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (relative POSIX path -> sha256, or the kind of a non-file)."""
    found: dict[str, str] = {}
    if not folder.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*filenames, *(d for d in dirnames if Path(dirpath, d).is_symlink())]:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink() or not path.is_file():
                found[rel] = "not a regular file"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_mirror_equals_export(
    tenant: Tenant, mirror: Path, scratch: Path, only: Sequence[Library] | None = None
) -> None:
    """Each library's data/ is byte-identical to `export_tenant`'s, and its
    .permissions.json equal to the export's."""
    scratch.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="export-", dir=scratch))
    export_tenant(tenant, out)
    try:
        _compare(out, mirror, only)
    finally:
        shutil.rmtree(out)


def _compare(out: Path, mirror: Path, only: Sequence[Library] | None) -> None:
    roots = [lib.local_root.relative_to(mirror) for lib in only] if only else None
    for library in roots or sorted(p.relative_to(out) for p in out.glob("*/*")):
        want, have = digests(out / library / "data"), digests(mirror / library / "data")
        differ = {
            "missing": sorted(want.keys() - have.keys()),
            "extra": sorted(have.keys() - want.keys()),
            "different": sorted(k for k in want.keys() & have.keys() if want[k] != have[k]),
        }
        assert not any(differ.values()), f"{library}: {_short(differ)}"
        permissions = json.loads((mirror / library / ".permissions.json").read_text("utf-8"))
        expected = json.loads((out / library / ".permissions.json").read_text("utf-8"))
        assert permissions == expected, f"{library}: .permissions.json differs from the export"


def temp_leftovers(local_root: Path) -> list[str]:
    """Temporary or parked files anywhere under the target (a killed run's leftovers)."""
    found = []
    for dirpath, _, filenames in os.walk(local_root):
        for name in filenames:
            if is_temp_name(name) or ".ms365sync-move-" in name:
                found.append(str(Path(dirpath, name).relative_to(local_root)))
    return found


def assert_state_consistent(local_root: Path) -> None:
    """The state store opens, and its mirror records are exactly the files on disk."""
    state = StateStore.snapshot(local_root / ".ms365sync")
    try:
        records = {r.local_path: (r.disk_size, r.mtime_ns) for r in state.mirror_files()}
    finally:
        state.close()
    data = local_root / "data"
    on_disk: dict[str, tuple[int, int]] = {}
    for dirpath, _, filenames in os.walk(data):
        for name in filenames:
            st = Path(dirpath, name).lstat()
            on_disk[Path(dirpath, name).relative_to(data).as_posix()] = (st.st_size, st.st_mtime_ns)
    mismatched = sorted(k for k in records.keys() & on_disk.keys() if records[k] != on_disk[k])
    problems = {
        "recorded, not on disk": sorted(records.keys() - on_disk.keys()),
        "on disk, not recorded": sorted(on_disk.keys() - records.keys()),
        "size or mtime differ": mismatched,
    }
    assert not any(problems.values()), _short(problems)


# ------------------------------------------------------------------------- targeted faults


class TargetedFaults(FaultInjector):
    """The emulator's fault injector plus faults aimed at chosen requests (a substring of
    the path or query), so one file's download or permission read fails and no other."""

    def __init__(self, base: FaultInjector) -> None:
        super().__init__(base.config, seed=0)
        self._base = base
        self.aimed: list[tuple[str, str]] = []  # (fault kind, substring of path or query)

    def draw(self, kind: str, request: Request) -> float | None:
        target = f"{request.raw_path}?{request.query_string}"
        if any(kind == k and text in target for k, text in self.aimed):
            return 0.5
        return self._base.draw(kind, request)

    @classmethod
    def install(cls, emulator: Emulator) -> TargetedFaults:
        faults = cls(emulator.app.faults)
        emulator.app.faults = faults
        return faults


# ------------------------------------------------------------------------- untouched targets


@dataclass(frozen=True)
class TargetSnapshot:
    """What a failed run must leave exactly as it was: the files under data/, the change
    logs, .permissions.json, and what the state store committed (the mirror's records, the
    delta link, the last run)."""

    data: dict[str, str]
    logs: dict[str, bytes]
    permissions: bytes | None
    records: list[Any]
    delta_link: str | None
    last_run: Any

    @classmethod
    def of(cls, local_root: Path) -> TargetSnapshot:
        state = StateStore.snapshot(local_root / ".ms365sync")
        try:
            records, link, last = (
                list(state.mirror_files()),
                state.meta.delta_link,
                state.last_run(),
            )
        finally:
            state.close()
        permissions = local_root / ".permissions.json"
        return cls(
            digests(local_root / "data"),
            {p.name: p.read_bytes() for p in log_files(local_root)},
            permissions.read_bytes() if permissions.exists() else None,
            records,
            link,
            last,
        )


def assert_mirror_equals_truth(tenant: Tenant, drive: Drive, local_root: Path) -> None:
    """data/ and .permissions.json hold exactly the library's files and labels (what
    `export_tenant` writes, computed in memory; for libraries whose names need no mapping)."""
    files = truth(tenant, drive)
    want = {f.path: f.digest for f in files.values()}
    have = digests(local_root / "data")
    differ = {
        "missing": sorted(want.keys() - have.keys()),
        "extra": sorted(have.keys() - want.keys()),
        "different": sorted(k for k in want.keys() & have.keys() if want[k] != have[k]),
    }
    assert not any(differ.values()), _short(differ)
    permissions = json.loads((local_root / ".permissions.json").read_text("utf-8"))
    assert permissions == {f.path: list(f.labels) for f in files.values()}
