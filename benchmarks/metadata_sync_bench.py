"""What document metadata costs a sync (issue 21): S1 without it, with four columns, with "all".

S1's library (5,000 files of 1-256 KiB in 250 folders, 5 % with unique permissions), each
file also given the four custom columns of `metadata_cost.COLUMNS`, served by one emulator
at 30 ms a request. Three configurations each sync into a mirror of their own: no
`metadata`, `metadata = ["Department", "Status", "Reviewed", "Score"]` and
`metadata = "all"`. Each one runs the initial sync and a no-op run; then 50 files have a
column edited (once, so every configuration sees the same changes) and each one runs again.

A row is correct when the mirror matches the tenant (files, sizes, permission labels) and,
when metadata is read, `.metadata.json` has one entry per mirrored file with the tenant's
values of the four columns and, after the edits, the change log's `metadata_only_changes`
names exactly the 50 edited files; without metadata, no `.metadata.json` is written.

    python -m benchmarks.metadata_sync_bench [--files 5000] [--latency-ms 30] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_world import ChildRun, World, run_child
from benchmarks.metadata_cost import COLUMNS
from benchmarks.sync_runs import OURS, Measured, fold_reports, measure, ours_argv, ours_env
from benchmarks.sync_scenarios import check_mirror, library_tenant, local_root, only_drive
from ms365sync.emulator import Drive
from ms365sync.target import METADATA_FILE

EDITS = 50
INITIAL, NO_OP, EDITED = "initial", "no-op", f"after {EDITS} column edits"


@dataclass(frozen=True)
class Setting:
    """One configuration: a label for the table and its `metadata` value (None: unset)."""

    label: str
    name: str  # its folder and log names
    metadata: list[str] | str | None


SETTINGS = (
    Setting("none", "none", None),
    Setting("4 columns", "columns", list(COLUMNS)),
    Setting('"all"', "all", "all"),
)


def run_setting(
    world: World, setting: Setting, run: str, files: int, edited: set[str] | None = None
) -> Measured:
    """One sync of `setting`'s configuration into its own mirror, checked."""
    site, library, drive = only_drive(world)
    defaults = {} if setting.metadata is None else {"metadata": setting.metadata}
    config = world.write_config(setting.name, defaults=defaults)
    name = f"{setting.name}-{run}".replace(" ", "_")
    stdout = world.workdir / "logs" / f"{name}.stdout"

    def child() -> ChildRun:
        return run_child(
            ours_argv(config), cwd=config.parent, env=ours_env(), log_dir=stdout.parent, name=name
        )

    measured = measure(world, f"S1 {run}", OURS, files, child)
    fold_reports(measured, [stdout])
    root = local_root(config, site, library)
    check_mirror(measured, world, root, drive)
    measured.extra["metadata"] = setting.label
    if setting.metadata is None:
        if (root / METADATA_FILE).exists():
            _fail(measured, f"{METADATA_FILE} written without metadata")
    else:
        _check_sidecar(measured, world, root, drive)
        if edited is not None:
            _check_metadata_only(measured, stdout, edited)
    return measured


def _fail(measured: Measured, problem: str) -> None:
    measured.ok = False
    measured.detail = (measured.detail + " " + problem).strip()


def _check_sidecar(measured: Measured, world: World, root: Path, drive: Drive) -> None:
    """`.metadata.json` has one entry per mirrored file, with the tenant's column values."""
    try:
        sidecar = json.loads((root / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(measured, f"{METADATA_FILE} unreadable ({exc})")
        return
    truth = world.truth(drive)
    if set(sidecar) != set(truth):
        missing, extra = len(set(truth) - set(sidecar)), len(set(sidecar) - set(truth))
        _fail(measured, f"{METADATA_FILE}: {missing} files missing, {extra} extra")
        return
    with world.tenant.lock:
        wanted = {path: dict(world.tenant.item(drive, path).columns) for path in truth}
    wrong = sorted(
        path
        for path, columns in wanted.items()
        if {name: sidecar[path].get("fields", {}).get(name) for name in COLUMNS} != columns
    )
    if wrong:
        problem = f"{len(wrong)} files with other values (e.g. {wrong[0]!r})"
        _fail(measured, f"{METADATA_FILE}: {problem}")
    measured.extra["metadata_entries"] = len(sidecar)


def _check_metadata_only(measured: Measured, stdout: Path, edited: set[str]) -> None:
    """The run's change log lists exactly the edited files under `metadata_only_changes`."""
    try:
        (target,) = json.loads(stdout.read_text(encoding="utf-8"))["targets"]
        log = json.loads(Path(target["change_log"]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _fail(measured, f"no change log to read ({exc!r})")
        return
    listed = set(log.get("metadata_only_changes") or {})
    measured.extra["metadata_only_changes"] = len(listed)
    if listed != edited:
        _fail(
            measured,
            f"metadata_only_changes: {len(listed - edited)} not edited, "
            f"{len(edited - listed)} edited files missing",
        )


def edit_columns(world: World, drive: Drive, *, seed: int) -> set[str]:
    """`EDITS` files get another Status; returns their library-relative paths."""
    paths = random.Random(seed).sample(sorted(world.truth(drive)), EDITS)
    statuses = COLUMNS["Status"]
    for path in paths:
        current = world.tenant.item(drive, path).columns.get("Status")
        others = [value for value in statuses if value != current]
        world.tenant.set_columns(drive, path, {"Status": others[0]})
    return set(paths)


def measure_all(files: int, latency_ms: float, workdir: Path) -> list[Measured]:
    """Every configuration's three runs, in the order: initial and no-op for each, the
    edits, then the incremental run for each."""
    tenant = library_tenant(files, max(1, files // 20), seed=1, columns=COLUMNS)
    rows: list[Measured] = []
    with World(tenant, workdir, latency_ms=latency_ms) as world:
        world.warm()
        for setting in SETTINGS:
            for run in (INITIAL, NO_OP):
                rows.append(run_setting(world, setting, run, files))
                _progress(rows[-1])
        edited = edit_columns(world, only_drive(world)[2], seed=3)
        for setting in SETTINGS:
            rows.append(run_setting(world, setting, EDITED, files, edited))
            _progress(rows[-1])
    order = {setting.label: n for n, setting in enumerate(SETTINGS)}
    return sorted(rows, key=lambda row: order[str(row.extra["metadata"])])


def _progress(row: Measured) -> None:
    print(
        f"{row.scenario}, metadata {row.extra['metadata']}: {row.requests} requests, "
        f"{row.ru} RU, {row.wall_s:.2f} s, {row.cpu_s:.2f} CPU s, ok={row.ok}",
        file=sys.stderr,
        flush=True,
    )


def table(rows: Sequence[Measured]) -> str:
    lines = [
        "| metadata | run | files | requests | of them list delta | RU | wall s | CPU s "
        "| correct |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.extra['metadata']} | {row.scenario} | {row.files:,} | {row.requests:,} "
            f"| {row.traffic.endpoints.get('list_delta', 0):,} | {row.ru:,} | {row.wall_s:.2f} "
            f"| {row.cpu_s:.2f} | {'yes' if row.ok else 'NO: ' + row.detail} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metadata_sync_bench")
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="smoke-sized (300 files)")
    parser.add_argument("--workdir", type=Path, help="keep the world here (default: a temp dir)")
    args = parser.parse_args(argv)
    files = 300 if args.quick else args.files
    with tempfile.TemporaryDirectory(prefix="ms365sync-metadata-sync-") as scratch:
        rows = measure_all(files, args.latency_ms, args.workdir or Path(scratch))
    print(table(rows))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
