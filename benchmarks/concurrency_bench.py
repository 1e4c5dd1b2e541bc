"""Concurrency that follows latency (issue 19, point 4): a fixed 8 against "auto".

For S1's library (5,000 files of 1-256 KiB) and S4's shape (small files of 0.5-4 KiB,
20,000 by default: 100,000 at 100 ms with 8 in flight would take over 20 minutes a run), at
each latency, one emulator serves two initial syncs into separate mirrors, one with
`concurrency = 8` (the default before issue 19) and one with `concurrency = "auto"` (the
default now). Each row says how many downloads were in flight at most (the run's debug
log) and the latency floor at that number: files x latency / in flight.

    python -m benchmarks.concurrency_bench [--latencies 30,100] [--s4-files 20000] [--quick]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_world import ChildRun, World, run_child
from benchmarks.sync_runs import OURS, Measured, fold_reports, measure, ours_argv, ours_env
from benchmarks.sync_scenarios import KIB, check_mirror, library_tenant, local_root, only_drive
from ms365sync.emulator import Tenant, synthetic_tenant

MODES: tuple[int | str, ...] = (8, "auto")
_PEAK = re.compile(r"downloads: at most (\d+) in flight")


@dataclass(frozen=True)
class Shape:
    name: str
    files: int
    tenant: Callable[[], Tenant]


def shapes(s1_files: int, s4_files: int) -> list[Shape]:
    return [
        Shape("S1", s1_files, lambda: library_tenant(s1_files, max(1, s1_files // 20), seed=1)),
        Shape(
            "S4",
            s4_files,
            lambda: synthetic_tenant(
                s4_files,
                folders=max(1, s4_files // 50),
                size_min=512,
                size_max=4 * KIB,
                unique_share=0.05,
                seed=5,
            ),
        ),
    ]


def run_mode(world: World, shape: Shape, latency_ms: float, mode: int | str) -> Measured:
    """One initial sync with `concurrency = mode` into its own mirror."""
    site, library, drive = only_drive(world)
    name = f"{shape.name}-{latency_ms:g}ms-{mode}"
    config = world.write_config(name, defaults={"concurrency": mode})
    log_file = config.parent / "sync.log"

    def run() -> ChildRun:
        return run_child(
            [*ours_argv(config), "--log-file", str(log_file)],
            cwd=config.parent,
            env=ours_env(),
            log_dir=world.workdir / "logs",
            name=name,
        )

    measured = measure(world, f"{shape.name} initial, {latency_ms:g} ms", OURS, shape.files, run)
    fold_reports(measured, [world.workdir / "logs" / f"{name}.stdout"])
    check_mirror(measured, world, local_root(config, site, library), drive)
    peaks = _PEAK.findall(log_file.read_text(encoding="utf-8")) if log_file.exists() else []
    measured.extra["mode"] = mode
    measured.extra["peak"] = int(peaks[-1]) if peaks else 0
    return measured


def table(rows: Sequence[Measured], latencies: dict[str, float]) -> str:
    lines = [
        "| scenario | concurrency | files | in flight at most | floor s | wall s | wall / floor "
        "| CPU s | requests | correct |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        peak = int(row.extra.get("peak", 0))
        latency_s = latencies[row.scenario] / 1000
        floor = row.files * latency_s / peak if peak else 0.0
        versus = f"{row.wall_s / floor:.2f}x" if floor else "-"
        lines.append(
            f"| {row.scenario} | {row.extra['mode']} | {row.files:,} | {peak} | {floor:.1f} "
            f"| {row.wall_s:.2f} | {versus} | {row.cpu_s:.2f} | {row.requests:,} "
            f"| {'yes' if row.ok else 'NO: ' + row.detail} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.concurrency_bench")
    parser.add_argument("--latencies", default="30,100", help="milliseconds per request, a list")
    parser.add_argument("--s1-files", type=int, default=5_000)
    parser.add_argument("--s4-files", type=int, default=20_000)
    parser.add_argument("--only", choices=("S1", "S4"), help="one shape")
    parser.add_argument("--quick", action="store_true", help="smoke-sized (300 and 1,000 files)")
    parser.add_argument("--workdir", type=Path, help="keep the worlds here (default: a temp dir)")
    args = parser.parse_args(argv)
    latencies = [float(value) for value in args.latencies.split(",") if value.strip()]
    s1_files, s4_files = (300, 1_000) if args.quick else (args.s1_files, args.s4_files)
    rows: list[Measured] = []
    scenario_latency: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ms365sync-concurrency-") as scratch:
        workdir = args.workdir or Path(scratch)
        for shape in shapes(s1_files, s4_files):
            if args.only and shape.name != args.only:
                continue
            for latency in latencies:
                folder = workdir / f"{shape.name.lower()}-{latency:g}"
                with World(shape.tenant(), folder, latency_ms=latency) as world:
                    world.warm()
                    for mode in MODES:
                        row = run_mode(world, shape, latency, mode)
                        scenario_latency[row.scenario] = latency
                        rows.append(row)
                        print(
                            f"{row.scenario}, concurrency = {mode}: {row.wall_s:.2f} s, "
                            f"{row.cpu_s:.2f} CPU s, at most {row.extra['peak']} in flight",
                            file=sys.stderr,
                            flush=True,
                        )
    print(table(rows, scenario_latency))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
