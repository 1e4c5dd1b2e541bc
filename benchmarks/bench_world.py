"""The sync benchmark's world: an emulated tenant over HTTPS, its request log, child processes.

`World` serves one tenant (`ms365sync.emulator`) on 127.0.0.1 with injected latency and,
optionally, a resource-unit budget; it writes configurations for ms365sync, takes the
tenant's truth to check a mirror against, and cuts its request log into windows, one per
measured run. `run_child` runs one sync as a separate process and measures its wall time
and peak RSS (its VmHWM, polled from /proc).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from ms365sync.emulator import (
    Drive,
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    Item,
    LatencyConfig,
    Tenant,
    ThrottleConfig,
)
from ms365sync.emulator.cli import sites_toml
from ms365sync.emulator.tenant.permissions import expected_labels

MB = 1_000_000
# Real SharePoint serves far more requests at once than one client sends; the emulator's
# server gets enough threads that its own pool never becomes the bottleneck measured.
SERVER_THREADS = 96


@dataclass
class Traffic:
    """What the emulator answered in one window of its request log."""

    requests: int = 0  # every request except the control API
    graph_requests: int = 0  # Graph only (no login, no pre-authenticated downloads)
    endpoints: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    resource_units: int = 0
    bytes_sent: int = 0
    download_bytes: int = 0
    first: float | None = None  # emulator time of the first and last answer
    last: float | None = None
    ru_by_second: Counter[int] = field(default_factory=Counter)

    def add(self, entry: Mapping[str, Any]) -> None:
        service = entry["service"]
        if service == "control":
            return
        self.requests += 1
        self.endpoints[_endpoint(entry)] += 1
        self.statuses[int(entry["status"])] += 1
        self.resource_units += int(entry["resource_units"])
        self.bytes_sent += int(entry["bytes_sent"])
        if service == "download":
            self.download_bytes += int(entry["bytes_sent"])
        elif service == "graph":
            self.graph_requests += 1
        moment = _epoch(entry["time"])
        self.first = moment if self.first is None else min(self.first, moment)
        self.last = moment if self.last is None else max(self.last, moment)
        if entry["resource_units"]:
            self.ru_by_second[int(moment)] += int(entry["resource_units"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "graph_requests": self.graph_requests,
            "endpoints": dict(sorted(self.endpoints.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "resource_units": self.resource_units,
            "bytes_sent": self.bytes_sent,
            "download_bytes": self.download_bytes,
        }


def _endpoint(entry: Mapping[str, Any]) -> str:
    service = entry["service"]
    if service == "graph":
        if entry["path"].endswith("/$batch"):
            return "$batch"
        return str(entry["route"] or "graph (unrouted)")
    if service == "login":
        return "login token" if entry["path"].endswith("/token") else "login discovery"
    return str(service)  # "download": the pre-authenticated URL


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


@dataclass(frozen=True)
class ChildRun:
    """One finished child process."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None


def run_child(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_dir: Path, name: str
) -> ChildRun:
    """Run `argv` to completion; its wall time and peak RSS.

    The peak is the child's own VmHWM from /proc, polled every 10 ms: `ru_maxrss` from
    `wait4` would not do, because Linux carries the parent's high-water mark (this process
    holds the whole emulated tenant) over fork and exec into the child's.
    """
    (child,) = run_children([(argv, name)], cwd=cwd, env=env, log_dir=log_dir)
    return child


def run_children(
    commands: Sequence[tuple[Sequence[str], str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_dir: Path,
) -> list[ChildRun]:
    """Start every (argv, name) at once and wait for all; each one's wall time (from the
    common start to its exit), CPU seconds and peak RSS, measured as in `run_child`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    running: list[_Running] = []
    for argv, name in commands:
        out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out, stderr=err)
        running.append(_Running(tuple(argv), process, out_path, err_path))
    _wait_polling(running, started)
    return [child.finished() for child in running]


@dataclass
class _Running:
    """A started child and what polling it has seen so far."""

    argv: tuple[str, ...]
    process: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path
    peak_kib: int = 0
    cpu_s: float = 0.0
    wall_s: float | None = None

    def finished(self) -> ChildRun:
        return ChildRun(
            argv=self.argv,
            returncode=int(self.process.returncode),
            wall_s=self.wall_s or 0.0,
            cpu_s=self.cpu_s,
            peak_rss_mb=self.peak_kib * 1024 / MB,
            stdout=self.out_path.read_text(encoding="utf-8", errors="replace"),
            stderr=self.err_path.read_text(encoding="utf-8", errors="replace"),
        )


def _wait_polling(running: Sequence[_Running], started: float) -> None:
    """Wait for every child, noting the largest VmHWM (KiB) seen in /proc/PID/status
    meanwhile, the CPU seconds (user + system) it used and when it exited."""
    while True:
        waiting = [child for child in running if child.wall_s is None]
        if not waiting:
            return
        for child in waiting:
            pid, code, usage = os.wait4(child.process.pid, os.WNOHANG)
            if pid:
                child.process.returncode = os.waitstatus_to_exitcode(code)  # reaped here
                child.cpu_s = usage.ru_utime + usage.ru_stime
                child.wall_s = time.perf_counter() - started
                continue
            try:
                text = Path(f"/proc/{child.process.pid}/status").read_text(
                    encoding="ascii", errors="replace"
                )
            except OSError:
                continue
            found = _HWM.search(text)
            if found:
                child.peak_kib = max(child.peak_kib, int(found.group(1)))
        time.sleep(0.01)


_HWM = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)


class World:
    """One emulated tenant served over HTTPS for the length of a `with` block.

    With `public_names`, the certificate also covers graph.microsoft.com, the login hosts
    and the tenant's SharePoint hosts, so a client reaching the server through the
    emulator's CONNECT proxy (`rclone_runs`) is answered by the same emulator, with the
    same latency, into the same request log.
    """

    def __init__(
        self,
        tenant: Tenant,
        workdir: Path,
        *,
        latency_ms: float,
        throttle: str | None = None,
        seed: int = 0,
        public_names: bool = False,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.tenant = tenant
        self.log_path = workdir / "requests.jsonl"
        self.log_path.unlink(missing_ok=True)
        config = EmulatorConfig(
            seed=seed,
            latency=LatencyConfig(latency_ms),
            throttle=ThrottleConfig.parse(throttle) if throttle else ThrottleConfig(),
        )
        self.emulator = Emulator(tenant, config, request_log=self.log_path)
        self.ca_path = workdir / "ca.pem"
        self.server = EmulatorServer(
            self.emulator.app,
            numthreads=SERVER_THREADS,
            ca_bundle_path=self.ca_path,
            cert_names=self.emulator.public_names if public_names else (),
        )

    def __enter__(self) -> World:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        if self.emulator.app.request_log is not None:
            self.emulator.app.request_log.close()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    # ------------------------------------------------------------------ set-up

    def warm(self) -> None:
        """Compute every file's hashes now, so no measured run pays the emulator's first read."""
        with self.tenant.lock:
            contents = [
                item.content
                for drive in self.tenant.drives()
                for item in drive.items.values()
                if item.content is not None
            ]
        for content in contents:
            _ = content.quick_xor_hash

    def write_config(
        self,
        name: str,
        *,
        sweep: str = "24h",
        run: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        libraries: Sequence[tuple[str, str]] | None = None,
    ) -> Path:
        """A sites.toml syncing the tenant (or only `libraries`: (site, library) pairs) into
        `workdir/name/mirror`; returns its path."""
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        text = sites_toml(self.emulator, self.base_url, str(self.ca_path), "mirror")
        document = tomllib.loads(text)
        document["defaults"]["permission_sweep"] = sweep
        document["defaults"].update(defaults or {})
        if run:
            document["run"] = dict(run)
        if libraries is not None:
            wanted = set(libraries)
            for site in document["sites"]:
                site["libraries"] = [
                    lib for lib in site["libraries"] if (site["name"], lib["name"]) in wanted
                ]
            document["sites"] = [site for site in document["sites"] if site["libraries"]]
        path = folder / "sites.toml"
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        return path

    def targets(self) -> list[tuple[str, str, Drive]]:
        """(site name, library URL segment, drive) of every non-system library."""
        return [
            (drive.site.name, drive.url_segment, drive)
            for drive in self.tenant.drives()
            if not drive.system
        ]

    # ------------------------------------------------------------------ truth

    def truth(self, drive: Drive) -> dict[str, tuple[int, list[str]]]:
        """Library-relative path -> (size, expected permission labels) of every file."""
        with self.tenant.lock:
            return {
                "/".join(segments): (item.size, expected_labels(self.tenant, drive, item))
                for segments, item in _files(drive.root, [])
            }

    # ------------------------------------------------------------------ request log

    def mark(self) -> int:
        """A position in the request log; `traffic_since(mark)` summarises what follows."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def traffic_since(self, mark: int) -> Traffic:
        traffic = Traffic()
        for entry in self._entries(mark):
            traffic.add(entry)
        return traffic

    def _entries(self, mark: int) -> Iterator[dict[str, Any]]:
        with self.log_path.open("rb") as handle:
            handle.seek(mark)
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def throttle_counters(self) -> tuple[int, int]:
        """(charge attempts, rejections) so far over every app, $batch members included."""
        apps = self.emulator.app.throttle.stats()["apps"].values()
        return sum(a["requests"] for a in apps), sum(a["rejections"] for a in apps)


def _files(node: Item, segments: list[str]) -> Iterator[tuple[list[str], Item]]:
    for name, child in node.children.items():
        path = [*segments, name]
        if child.is_folder:
            yield from _files(child, path)
        else:
            yield path, child


def ru_per_minute(by_second: Counter[int]) -> list[int]:
    """RU charged in each minute from the first charged second on (the last one partial)."""
    if not by_second:
        return []
    start = min(by_second)
    minutes = [0] * ((max(by_second) - start) // 60 + 1)
    for second, units in by_second.items():
        minutes[(second - start) // 60] += units
    return minutes


def mirror_matches(
    local_root: Path, truth: Mapping[str, tuple[int, list[str]]], *, permissions: bool = True
) -> tuple[bool, str]:
    """Whether `local_root/data` holds exactly the truth's files (sizes) and, if asked,
    `.permissions.json` their labels; with a short description of the first differences."""
    data = local_root / "data"
    found = {
        path.relative_to(data).as_posix(): path.stat().st_size
        for path in data.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }
    wanted = {path: size for path, (size, _) in truth.items()}
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    wrong = sorted(p for p in set(wanted) & set(found) if wanted[p] != found[p])
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]!r})")
    if extra:
        problems.append(f"{len(extra)} extra (e.g. {extra[0]!r})")
    if wrong:
        problems.append(f"{len(wrong)} of wrong size (e.g. {wrong[0]!r})")
    if permissions:
        problems += _permission_problems(local_root, truth)
    return not problems, "; ".join(problems) or f"{len(found)} files match"


def _permission_problems(local_root: Path, truth: Mapping[str, tuple[int, list[str]]]) -> list[str]:
    try:
        stored = json.loads((local_root / ".permissions.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f".permissions.json unreadable ({exc})"]
    differing = [p for p, (_, labels) in truth.items() if sorted(stored.get(p, [])) != labels]
    if differing:
        return [f"{len(differing)} files with other permissions (e.g. {differing[0]!r})"]
    return []
