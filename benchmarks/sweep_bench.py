"""What a permission sweep by structure costs against a full one, and which changes each finds.

Run::

    python -m benchmarks.sweep_bench            # S8: one library of 100,000 files
    python -m benchmarks.sweep_bench --quick    # 2,000 files (under a minute)

A synthetic library (files in folders of about 50, 2 % of the files giving themselves or
their folder unique permissions: user grants, sharing links, group-only folders, Visitors
removed) is served in-process and synced by `Syncer` without a sweep. Then, with nothing
changed, one run makes a structure sweep and one a full sweep: requests and resource units
by kind from the emulator's request log, permission reads inside `$batch` from the client's
wire, wall time (the emulator's own work on the same cores included: an upper bound) and
the run's own estimate. Last, the detection table (`benchmarks.sweep_detection`): each kind
of permission change the emulator can make, and which run reports it.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.sweep_detection import TWINS, detection_table
from benchmarks.sweep_world import FULL, NEVER, STRUCTURE, Library
from ms365sync.emulator import Tenant, synthetic_tenant

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"
FILE_SIZE = 512  # bytes: the sweeps read no content, so the initial sync is kept cheap
RATIO_TARGET = 20  # a structure sweep costs at most a twentieth of a full one


def library_tenant(files: int, *, seed: int = 8) -> Tenant:
    """S8's library: `files` files of `FILE_SIZE` bytes, one folder per 50 files (at least 24)."""
    return synthetic_tenant(
        files,
        folders=max(files // 50, 24),
        size_min=FILE_SIZE,
        size_max=FILE_SIZE,
        size_distribution="fixed",
        unique_share=0.02,
        seed=seed,
    )


def measure(files: int, workdir: Path, *, detection: bool = True) -> dict[str, Any]:
    """Sync a library of `files` files, sweep it both ways, then (if asked) fill the
    detection table; every number, and whether the checks hold."""
    started = time.perf_counter()
    library = Library(library_tenant(files), workdir)
    try:
        load = library.unique_items()
        initial = library.sync("a", NEVER, "initial sync (no sweep)")
        structure = library.sync("a", STRUCTURE, "structure sweep")
        full = library.sync("a", FULL, "full sweep")
        rows = detection_table(library) if detection else []
        matches = all(library.mirror_matches(name) for name, _ in TWINS) if detection else True
    finally:
        library.close()
    ratio = full.resource_units / max(structure.resource_units, 1)
    checks = {
        f"structure RU <= full RU / {RATIO_TARGET}": ratio >= RATIO_TARGET,
        "nothing reported by either sweep": not structure.reported() and not full.reported(),
        "every change reported correctly": all(
            row.twins[name].correct for row in rows for name, _ in TWINS
        ),
        "the same detection for structure and full": all(row.same for row in rows),
        "both twins' .permissions.json match the tenant at the end": matches,
    }
    return {
        "files": files,
        "load": load,
        "initial": initial.as_dict(),
        "structure": structure.as_dict(),
        "full": full.as_dict(),
        "full_to_structure_ru": round(ratio, 1),
        "detection": [row.as_dict() for row in rows],
        "checks": checks,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": _machine(),
    }


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform()}


def table(result: dict[str, Any]) -> str:
    """The cost table and the detection table, as markdown."""
    lines = [
        "| sweep | delta pages | $batch posts | permission reads | RU | wall s | the run's note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("structure", "full"):
        run = result[name]
        lines.append(
            f"| {name} | {run['requests'].get('delta', 0):,} | {run['requests'].get('$batch', 0):,}"
            f" | {run['permission_reads_in_batches']:,} | {run['total_resource_units']:,}"
            f" | {run['seconds']:.1f} | {run['estimate_note']} |"
        )
    lines += [
        "",
        "| change | files affected | structure: reported by | RU"
        " | full: reported by | RU | correct |",
        "|---|---:|---|---:|---|---:|---|",
    ]
    for row in result["detection"]:
        twins = [row[name] for name, _ in TWINS]
        correct = all(t["correct"] for t in twins)
        lines.append(
            f"| {row['kind']} | {row['affected_files']:,} | "
            + " | ".join(f"{t['reported_by']} | {t['resource_units']:,}" for t in twins)
            + f" | {'yes' if correct else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 files instead of 100,000")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        result = measure(2_000 if args.quick else 100_000, Path(work))
    print(table(result))
    print(json.dumps(result["checks"], indent=2))
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
