"""One measured sync run (ms365sync as a child process, or the 0.3.4 baseline) and its numbers."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.baseline import baseline_summary, run_baseline
from benchmarks.bench_world import ChildRun, Traffic, World, run_child

REPO = Path(__file__).resolve().parent.parent
OURS = "ms365sync (this tree)"
BASELINE = "ms365sync 0.3.4"


@dataclass
class Measured:
    """What one run cost and whether it left the right mirror."""

    scenario: str
    tool: str
    files: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    traffic: Traffic
    ok: bool
    detail: str = ""
    throttle_requests: int = 0  # RU charge attempts, $batch members included
    throttle_rejections: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # why the run did not happen (its numbers are zeros then)

    @classmethod
    def not_run(cls, scenario: str, tool: str, files: int, reason: str) -> Measured:
        """A row for a run that was skipped, saying why."""
        return cls(scenario, tool, files, 0.0, 0.0, 0.0, Traffic(), ok=False, skipped=reason)

    @property
    def requests(self) -> int:
        """Requests to Graph and to download URLs (sign-in requests are not counted)."""
        return self.traffic.graph_requests + self.traffic.endpoints.get("download", 0)

    @property
    def ru(self) -> int:
        return self.traffic.resource_units

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "tool": self.tool,
            "files": self.files,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "requests": self.requests,
            "resource_units": self.ru,
            "ru_per_file": round(self.ru / self.files, 3) if self.files else None,
            "bytes_moved": self.traffic.bytes_sent,
            "ok": self.ok,
            "detail": self.detail,
            "throttle_requests": self.throttle_requests,
            "throttle_rejections": self.throttle_rejections,
            "traffic": self.traffic.as_dict(),
            **({"skipped": self.skipped} if self.skipped else {}),
            **self.extra,
        }


def measure(world: World, scenario: str, tool: str, files: int, run: Any) -> Measured:
    mark, (asked, rejected) = world.mark(), world.throttle_counters()
    child: ChildRun = run()
    traffic = world.traffic_since(mark)
    asked_after, rejected_after = world.throttle_counters()
    measured = Measured(
        scenario=scenario,
        tool=tool,
        files=files,
        wall_s=child.wall_s,
        cpu_s=child.cpu_s,
        peak_rss_mb=child.peak_rss_mb,
        traffic=traffic,
        ok=child.returncode == 0,
        throttle_requests=asked_after - asked,
        throttle_rejections=rejected_after - rejected,
    )
    if child.returncode != 0:
        measured.detail = f"exit {child.returncode}: {_last_line(child.stderr)}"
    return measured


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def ours_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    env["PYTHONPATH"] = str(REPO)
    return env


def ours_argv(config: Path, *only: str) -> list[str]:
    """`python -m ms365sync --config CONFIG [--only NAME ...] --json`."""
    chosen = [arg for name in only for arg in ("--only", name)]
    return [sys.executable, "-m", "ms365sync", "--config", str(config), *chosen, "--json"]


def run_ours(world: World, config: Path, scenario: str, files: int) -> Measured:
    """`python -m ms365sync --config CONFIG --json` as a child process."""
    name = f"{scenario}-ours".replace(" ", "_").replace("/", "_")

    def run() -> ChildRun:
        return run_child(
            ours_argv(config),
            cwd=config.parent,
            env=ours_env(),
            log_dir=world.workdir / "logs",
            name=name,
        )

    measured = measure(world, scenario, OURS, files, run)
    fold_reports(measured, [world.workdir / "logs" / f"{name}.stdout"])
    return measured


def fold_reports(measured: Measured, stdouts: list[Path]) -> None:
    """Fold the `--json` reports in `stdouts` into `measured`: file errors, downloads,
    and not ok when a target failed or a file could not be synced."""
    targets = [
        target
        for path in stdouts
        for target in (_json_of(path) or {"targets": []}).get("targets", [])
    ]
    errors = sum(int(t.get("errors") or 0) for t in targets)
    measured.extra["file_errors"] = errors
    measured.extra["downloaded_files"] = sum(t.get("downloaded_files", 0) for t in targets)
    failed = [t["target"] for t in targets if not t.get("ok")]
    if failed or errors:
        measured.ok = False
        measured.detail = f"failed targets {failed}, {errors} file errors " + measured.detail


def _json_of(path: Path) -> dict[str, Any] | None:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_old(
    world: World, site: str, library: str, *, local_root: Path, scenario: str, files: int
) -> Measured:
    """ms365sync 0.3.4 through the shim, as a child process."""
    name = f"{scenario}-baseline".replace(" ", "_").replace("/", "_")
    holder: list[ChildRun] = []

    def run() -> ChildRun:
        holder.append(run_baseline(world, site, library, local_root, name))
        return holder[0]

    measured = measure(world, scenario, BASELINE, files, run)
    summary = baseline_summary(holder[0])
    if summary is not None:
        measured.extra["baseline_summary"] = summary
    return measured


def ratio(old: float, new: float) -> float:
    """old / new (how many times less the new one needs); inf when new is 0."""
    return old / new if new else math.inf
