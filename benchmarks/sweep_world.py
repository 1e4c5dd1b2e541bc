"""The sweep benchmark's world: one synthetic library served in-process and targets syncing it.

`Library` serves a tenant's only library through an in-process emulator with a request log,
and syncs targets of it with `Syncer`, one run at a time; each `Run` carries the run's result,
its wall time, and its requests and resource units by kind, cut from the request log (the
emulator's charge) and from the client's wire (the permission reads inside each `$batch`,
which the log records only as the envelope and its total charge).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ms365sync.emulator import Emulator, Item, Tenant
from ms365sync.emulator.tenant.model import PrincipalKind
from ms365sync.emulator.tenant.permissions import expected_labels
from ms365sync.graph.cloud import GLOBAL
from ms365sync.graph.connect import connect
from ms365sync.graph.credentials import AppCredentials, ClientSecret
from ms365sync.sync.result import SyncResult
from ms365sync.sync.syncer import Syncer
from ms365sync.target import PermissionPolicy, SiteRef, TargetSpec

NEVER = PermissionPolicy(mode="never")
STRUCTURE = PermissionPolicy(mode="always", sweep="structure")
FULL = PermissionPolicy(mode="always", sweep="full")


@dataclass
class Wire:
    """Counts the permission reads the client sends inside `$batch` (a `requests` hook)."""

    permission_reads: int = 0

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        if not (request.url or "").endswith("/$batch") or not request.body:
            return
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        members = json.loads(body)["requests"]
        self.permission_reads += sum(
            1 for member in members if str(member["url"]).rstrip("/").endswith("/permissions")
        )


@dataclass(frozen=True)
class Run:
    """One finished sync of one target: its result, wall time and traffic by kind."""

    label: str
    result: SyncResult
    seconds: float
    requests: Counter[str]
    units: Counter[str]
    permission_reads: int

    @property
    def resource_units(self) -> int:
        return sum(self.units.values())

    @property
    def sweep_note(self) -> str:
        """The run's own note on its sweep ("" when it made none)."""
        notes = self.result.counters.notes
        return next((note for note in notes if "permission sweep:" in note), "")

    def reported(self) -> dict[str, list[str]]:
        """Path -> current labels of every permission-only change the run reported."""
        log = self.result.log
        assert log is not None, self.result.error
        return {
            path: list(entry.permission_changes.current)
            for path, entry in log.changes.permission_only_changes.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.label,
            "seconds": round(self.seconds, 2),
            "requests": dict(sorted(self.requests.items())),
            "resource_units": dict(sorted(self.units.items())),
            "total_requests": sum(self.requests.values()),
            "total_resource_units": self.resource_units,
            "permission_reads_in_batches": self.permission_reads,
            "estimate_note": self.sweep_note,
        }


class Library:
    """A tenant's only library, served in-process, and targets of it under `workdir`."""

    def __init__(self, tenant: Tenant, workdir: Path) -> None:
        self.tenant = tenant
        self.workdir = workdir
        self.log_path = workdir / "requests.jsonl"
        self.emulator = Emulator(tenant, request_log=self.log_path)
        (self.drive,) = (drive for drive in tenant.drives() if not drive.system)
        self.wire = Wire()
        creds = self.emulator.credentials
        app = AppCredentials(creds.tenant_id, creds.client_id, ClientSecret(creds.client_secret))
        self.client = connect(app, GLOBAL, session_factory=self._session)

    def _session(self) -> requests.Session:
        session = self.emulator.session()
        session.hooks["response"].append(self.wire.hook)
        return session

    def close(self) -> None:
        self.client.close()
        if self.emulator.app.request_log is not None:
            self.emulator.app.request_log.close()

    # ------------------------------------------------------------------ targets

    def root(self, target: str) -> Path:
        return self.workdir / target

    def spec(self, target: str, policy: PermissionPolicy) -> TargetSpec:
        site = self.drive.site
        return TargetSpec(
            name=f"{site.name}/{target}",
            site=SiteRef(host=site.hostname, path=site.path),
            library=self.drive.title,
            local_root=self.root(target),
            permissions=policy,
        )

    def twin(self, source: str, target: str) -> None:
        """Make `target` a copy of the synced `source`: the same state and mirror, the mirrored
        files hard-linked (a run replaces a file by renaming a new one over it, so the two
        never share a change)."""

        origin = self.root(source)

        def copy(src: str, dst: str) -> object:
            if Path(src).relative_to(origin).parts[0] == "data":
                os.link(src, dst)
                return dst
            return shutil.copy2(src, dst)

        shutil.copytree(self.root(source), self.root(target), copy_function=copy)

    def sync(self, target: str, policy: PermissionPolicy, label: str) -> Run:
        """Sync `target` once with `policy`; the run and what it cost.

        Raises:
            AssertionError: the run failed.
        """
        mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        reads = self.wire.permission_reads
        started = time.perf_counter()
        result = Syncer(self.spec(target, policy), self.client).sync()
        seconds = time.perf_counter() - started
        assert result.ok, f"{label}: {result.error}"
        requests_by_kind, units = self._traffic(mark)
        return Run(
            label, result, seconds, requests_by_kind, units, self.wire.permission_reads - reads
        )

    def _traffic(self, mark: int) -> tuple[Counter[str], Counter[str]]:
        counts: Counter[str] = Counter()
        units: Counter[str] = Counter()
        with self.log_path.open("rb") as handle:
            handle.seek(mark)
            for line in handle:
                if line.strip():
                    entry = json.loads(line)
                    kind = _kind(entry)
                    counts[kind] += 1
                    units[kind] += int(entry["resource_units"])
        return counts, units

    # ------------------------------------------------------------------ truth

    def labels(self, item: Item) -> dict[str, list[str]]:
        """Library-relative path -> the emulator's labels of every file at or under `item`."""
        with self.tenant.lock:
            return {
                node.path: expected_labels(self.tenant, self.drive, node) for node in _files(item)
            }

    def mirror_matches(self, target: str) -> bool:
        """Whether `target`'s `.permissions.json` holds the emulator's labels of every file."""
        stored = json.loads((self.root(target) / ".permissions.json").read_text(encoding="utf-8"))
        return bool(stored == self.labels(self.drive.root))

    def unique_items(self) -> dict[str, int]:
        """How many items have permissions of their own (the library root aside), by kind."""
        found: Counter[str] = Counter()
        with self.tenant.lock:
            for item in self.drive.items.values():
                if item.is_root or item.grants is None:
                    continue
                found["folders" if item.is_folder else "files"] += 1
                if any(kind is PrincipalKind.LINK for kind, _ in item.grants):
                    found["with a sharing link"] += 1
            found["items"] = len(self.drive.items) - 1
        return dict(found)


def _files(item: Item) -> Iterator[Item]:
    if not item.is_folder:
        yield item
        return
    stack = [item]
    while stack:
        node = stack.pop()
        for child in node.children.values():
            if child.is_folder:
                stack.append(child)
            else:
                yield child


def _kind(entry: dict[str, Any]) -> str:
    """A request's kind: sign-in, download, `$batch`, or the Graph route's name."""
    service = entry["service"]
    if service != "graph":
        return "sign-in" if service == "login" else str(service)
    if str(entry["path"]).endswith("/$batch"):
        return "$batch"
    return str(entry["route"] or "graph (unrouted)")
