"""Sync benchmarks S1-S7 against the emulator over HTTPS, side by side with ms365sync 0.3.4
and rclone.

Run::

    python -m benchmarks.sync_bench                       # everything (about an hour)
    python -m benchmarks.sync_bench --quick               # smoke-sized, a few minutes
    python -m benchmarks.sync_bench --scenario S1 --scenario S5 [--latency-ms 30]
    python -m benchmarks.sync_bench --scenario S1 --skip-baseline --skip-rclone

Every sync runs as its own process (`python -m ms365sync --config ... --json`), so its peak
RSS is its own; the emulator runs in this process with the injected latency (30 ms per
request by default) and logs every request, from which requests per endpoint, resource
units and bytes are counted. The baseline is ms365sync 0.3.4 from PyPI in
`benchmarks/.baseline-venv/` (created on first use), run through `baseline_shim.py`; S1-S3
on its tenant also run `rclone` when it is on PATH (`rclone_runs.py`; skipped rows and a
note otherwise).
Results: a markdown table on stdout and in `benchmarks/results/sync.md`, JSON in
`benchmarks/results/sync.json`. The exit status is 0 when every ms365sync run succeeded
and left a correct mirror; missed targets are reported, not turned into a failure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.baseline import ensure_venv
from benchmarks.emulator_bench import machine
from benchmarks.rclone_runs import find_rclone, rclone_version
from benchmarks.sync_compare import against_others
from benchmarks.sync_report import markdown
from benchmarks.sync_scale import scenario_s4, scenario_s5, scenario_s6, scenario_s7
from benchmarks.sync_scenarios import Outcome, Sizes, scenarios_s1_s3

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7")


def run_all(args: argparse.Namespace, workdir: Path) -> Outcome:
    sizes = Sizes.quick() if args.quick else Sizes()
    wanted = set(args.scenario or SCENARIOS)
    total = Outcome([], [], [])
    steps: list[tuple[str, Any]] = []
    if wanted & {"S1", "S2", "S3"}:
        steps.append(("S1-S3", lambda: scenarios_s1_s3(workdir, sizes, args.latency_ms, wanted)))
        if not args.skip_baseline:
            ensure_venv()
        if not (args.skip_baseline and args.skip_rclone):
            steps.append(("0.3.4 and rclone", lambda: _against_others(args, workdir, sizes)))
    for name, function in (
        ("S4", scenario_s4),
        ("S5", scenario_s5),
        ("S6", scenario_s6),
        ("S7", scenario_s7),
    ):
        if name in wanted:
            steps.append((name, lambda f=function: f(workdir, sizes, args.latency_ms)))
    for name, step in steps:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        outcome = step()
        print(f"  {name} done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        total.rows += outcome.rows
        total.checks += outcome.checks
        total.notes += outcome.notes
    return total


def _against_others(args: argparse.Namespace, workdir: Path, sizes: Sizes) -> Outcome:
    return against_others(
        workdir,
        sizes,
        args.latency_ms,
        baseline=not args.skip_baseline,
        rclone=not args.skip_rclone,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sync_bench")
    parser.add_argument("--quick", action="store_true", help="smoke-sized scenarios")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument("--latency-ms", type=float, default=30.0, help="latency per request")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run 0.3.4")
    parser.add_argument("--skip-rclone", action="store_true", help="do not run rclone")
    parser.add_argument("--output-dir", type=Path, default=RESULTS, help="where results go")
    parser.add_argument("--keep", action="store_true", help="keep the mirrors and logs")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ms365sync-bench-"))
    started = time.perf_counter()
    try:
        outcome = run_all(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results = {
        "benchmark": "sync",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.sync_bench " + " ".join(argv or sys.argv[1:]),
        "machine": {**machine(), "rclone": rclone_version(find_rclone())},
        "latency_ms": args.latency_ms,
        "seconds": round(time.perf_counter() - started, 1),
        "runs": [row.as_dict() for row in outcome.rows],
        "checks": [check.as_dict() for check in outcome.checks],
        "notes": outcome.notes,
    }
    text = markdown(results)
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "sync.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    (args.output_dir / "sync.md").write_text(text + "\n", "utf-8")
    print(f"\nwritten to {args.output_dir / 'sync.json'}", file=sys.stderr)
    finished = all(run["ok"] or run["tool"] != "ms365sync (this tree)" for run in results["runs"])
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
