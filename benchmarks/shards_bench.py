"""S9: shards sharing one tenant's budget (issue 20, point 4).

One emulator holds 12 libraries (4 sites of 3) and throttles the app to a budget of
resource units a minute (1,250: SharePoint's smallest licence band). Four shard processes
(`ms365sync --shard I/4`) sync them at once, three ways, each against a fresh emulator:

- `redis`: `[run] budget_url` points at a real redis-server started here: one bucket and
  one pause for the four;
- `static`: no budget store; each shard paces itself to a quarter of the budget;
- `none`: the baseline, today's behaviour without sharding: four processes given the same
  targets with `--only`, each pacing itself to the whole budget (they see the tenant's
  RateLimit headers and 429s, nothing else).

Each row says the RU per minute the emulator charged (from the first charged second, the
last minute partial), the share of the budget the full minutes used, the most RU of any
60 seconds, the requests answered 429 (of every charge attempt, $batch members included),
and whether every mirror equals the emulator's export.

    python -m benchmarks.shards_bench [--files-per-library 250] [--budget 1250] [--backend B]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.bench_world import ChildRun, World, mirror_matches, ru_per_minute, run_children
from benchmarks.redis_server import RedisMissingError, RedisServer
from benchmarks.sync_runs import OURS, Measured, fold_reports, measure, ours_argv, ours_env
from benchmarks.sync_scenarios import KIB
from ms365sync.emulator import Tenant, synthetic_tenant

SHARDS = 4
SITES, LIBRARIES = 4, 3  # 12 libraries
BACKENDS = ("redis", "static", "none")
LATENCY_MS = 30.0


@dataclass
class S9Run:
    """One way of running the four shards, measured."""

    backend: str
    measured: Measured
    budget: int
    minutes: list[int] = field(default_factory=list)
    peak_window: int = 0  # the most RU charged in any 60 seconds
    skipped: str = ""

    @property
    def used(self) -> float:
        """The full minutes' RU against the budget (0 without a full minute)."""
        full = self.minutes[:-1]
        return sum(full) / (len(full) * self.budget) if full else 0.0

    @property
    def asked(self) -> int:
        return self.measured.throttle_requests

    @property
    def rejected(self) -> int:
        return self.measured.throttle_rejections

    @property
    def share_429(self) -> float:
        return self.rejected / self.asked if self.asked else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.measured.as_dict(),
            "backend": self.backend,
            "budget_ru_per_minute": self.budget,
            "ru_per_minute": self.minutes,
            "budget_used": round(self.used, 3),
            "peak_ru_in_60_s": self.peak_window,
            "answered_429": self.rejected,
            "share_429": round(self.share_429, 4),
            **({"skipped": self.skipped} if self.skipped else {}),
        }


def s9_tenant(files_per_library: int, *, seed: int = 9) -> Tenant:
    """12 libraries of small to medium files, 5 % of items with unique permissions."""
    return synthetic_tenant(
        files_per_library * SITES * LIBRARIES,
        sites=SITES,
        libraries=LIBRARIES,
        size_min=KIB,
        size_max=64 * KIB,
        unique_share=0.05,
        seed=seed,
    )


def run_s9(
    backend: str,
    workdir: Path,
    *,
    files_per_library: int,
    budget: int = 1_250,
    latency_ms: float = LATENCY_MS,
    redis_url: str | None = None,
    headers: bool = True,
) -> S9Run:
    """Four shards syncing the 12 libraries at once with `backend`, on a fresh emulator
    (which sends RateLimit headers from 80 % of the budget unless `headers` is off:
    SharePoint also throttles without them)."""
    throttle = f"{budget}/min"
    emulated = throttle if headers else f"{throttle},ratelimit-headers=off"
    files = files_per_library * SITES * LIBRARIES
    folder = workdir / f"s9-{backend}-{'headers' if headers else 'no-headers'}"
    with World(
        s9_tenant(files_per_library), folder, latency_ms=latency_ms, throttle=emulated
    ) as world:
        world.warm()
        run_settings: dict[str, Any] = {"ru_per_minute": budget}
        if backend == "redis":
            if redis_url is None:
                raise ValueError("the redis backend needs a redis_url")
            run_settings["budget_url"] = redis_url
        config = world.write_config("shards", run=run_settings)
        commands = _commands(backend, config)
        scenario = _scenario(backend, budget, headers)
        measured = measure(world, scenario, OURS, files, lambda: _run_all(world, config, commands))
        fold_reports(measured, [world.workdir / "logs" / f"{name}.stdout" for _, name in commands])
        for site, library, drive in world.targets():
            same, detail = mirror_matches(
                config.parent / "mirror" / site / library, world.truth(drive)
            )
            if not same:
                measured.ok = False
                measured.detail += f" {site}/{library}: {detail}"
    by_second = measured.traffic.ru_by_second
    return S9Run(
        backend,
        measured,
        budget,
        minutes=ru_per_minute(by_second),
        peak_window=peak_in_window(by_second, 60),
    )


def _scenario(backend: str, budget: int, headers: bool) -> str:
    without = "" if headers else " (no RateLimit headers)"
    return f"S9 4 shards, {budget}/min{without}, {_BACKEND_NAMES[backend]}"


_BACKEND_NAMES = {
    "redis": "budget in Redis",
    "static": "static quarter each",
    "none": "no shared budget (baseline)",
}


def _commands(backend: str, config: Path) -> list[tuple[list[str], str]]:
    """The four processes' argv and names."""
    if backend == "none":
        groups = shard_assignment(config, SHARDS)
        return [
            (ours_argv(config, *names), f"S9-{backend}-{index}")
            for index, names in enumerate(groups)
            if names
        ]
    return [
        ([*ours_argv(config), "--shard", f"{index}/{SHARDS}"], f"S9-{backend}-{index}")
        for index in range(SHARDS)
    ]


def shard_assignment(config: Path, shards: int) -> list[list[str]]:
    """Each shard's target names, as `ms365sync shards --shards N --json` prints them."""
    argv = [sys.executable, "-m", "ms365sync", "shards", "--config", str(config)]
    argv += ["--shards", str(shards), "--json"]
    done = subprocess.run(argv, env=ours_env(), capture_output=True, text=True, check=True)
    document = json.loads(done.stdout)
    groups = [[str(t["name"]) for t in shard["targets"]] for shard in document["shards"]]
    return groups


def _run_all(world: World, config: Path, commands: list[tuple[list[str], str]]) -> ChildRun:
    children = run_children(
        commands, cwd=config.parent, env=ours_env(), log_dir=world.workdir / "logs"
    )
    failed = [child for child in children if child.returncode != 0]
    return ChildRun(
        argv=("four shards",),
        returncode=failed[0].returncode if failed else 0,
        wall_s=max(child.wall_s for child in children),
        cpu_s=sum(child.cpu_s for child in children),
        peak_rss_mb=sum(child.peak_rss_mb for child in children),
        stdout="",
        stderr="\n".join(child.stderr for child in failed),
    )


def peak_in_window(by_second: Counter[int], seconds: int) -> int:
    """The most RU charged in any `seconds` consecutive seconds."""
    if not by_second:
        return 0
    start, end = min(by_second), max(by_second)
    series = [by_second.get(second, 0) for second in range(start, end + 1)]
    best = current = sum(series[:seconds])
    for index in range(seconds, len(series)):
        current += series[index] - series[index - seconds]
        best = max(best, current)
    return best


def table(runs: Sequence[S9Run]) -> str:
    lines = [
        "| scenario | files | wall s | CPU s (4 processes) | requests | RU | RU per minute "
        "| budget used (full minutes) | most RU in 60 s | answered 429 | mirrors equal |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for run in runs:
        row = run.measured
        if run.skipped:
            lines.append(f"| {row.scenario} | {row.files:,} | skipped: {run.skipped} |||||||||")
            continue
        lines.append(
            f"| {row.scenario} | {row.files:,} | {row.wall_s:.1f} | {row.cpu_s:.1f} "
            f"| {row.requests:,} | {row.ru:,} | {run.minutes} | {100 * run.used:.0f} % "
            f"| {run.peak_window:,} | {run.rejected:,} of {run.asked:,} "
            f"({100 * run.share_429:.1f} %) | {'yes' if row.ok else 'NO: ' + row.detail} |"
        )
    return "\n".join(lines)


def run_backends(
    backends: Sequence[str],
    workdir: Path,
    *,
    files_per_library: int,
    budget: int,
    headers: Sequence[bool] = (True, False),
) -> list[S9Run]:
    """Every backend asked for under each emulator behaviour asked for (with and without
    RateLimit headers), one after another; redis skipped (saying why) without a
    redis-server on the PATH."""
    runs: list[S9Run] = []
    for with_headers in headers:
        for backend in backends:
            runs.append(
                _run_backend(backend, workdir, files_per_library, budget, headers=with_headers)
            )
    return runs


def _run_backend(
    backend: str, workdir: Path, files_per_library: int, budget: int, *, headers: bool
) -> S9Run:
    if backend != "redis":
        return run_s9(
            backend, workdir, files_per_library=files_per_library, budget=budget, headers=headers
        )
    try:
        server = RedisServer(workdir)
    except RedisMissingError as missing:
        files = files_per_library * SITES * LIBRARIES
        not_run = Measured.not_run(_scenario(backend, budget, headers), OURS, files, str(missing))
        return S9Run(backend, not_run, budget, skipped=str(missing))
    server.start()
    try:
        return run_s9(
            backend,
            workdir,
            files_per_library=files_per_library,
            budget=budget,
            redis_url=server.url,
            headers=headers,
        )
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shards_bench")
    parser.add_argument("--files-per-library", type=int, default=250)
    parser.add_argument("--budget", type=int, default=1_250, help="RU a minute")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="default: all")
    parser.add_argument(
        "--headers",
        default="on,off",
        help="the emulator's RateLimit headers: on, off or on,off (default: both)",
    )
    parser.add_argument("--quick", action="store_true", help="60 files a library")
    parser.add_argument("--workdir", type=Path, help="keep the worlds here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    args = parser.parse_args(argv)
    files_per_library = 60 if args.quick else args.files_per_library
    with tempfile.TemporaryDirectory(prefix="ms365sync-s9-") as scratch:
        workdir = args.workdir or Path(scratch)
        runs = run_backends(
            args.backend or BACKENDS,
            workdir,
            files_per_library=files_per_library,
            budget=args.budget,
            headers=[part.strip() == "on" for part in args.headers.split(",") if part.strip()],
        )
    print(table(runs))
    if args.json:
        args.json.write_text(
            json.dumps([run.as_dict() for run in runs], indent=2), encoding="utf-8"
        )
    return 0 if all(run.measured.ok or run.skipped for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
