"""S1-S3 on one tenant, this tree side by side with ms365sync 0.3.4 and with rclone.

Each step runs this tree, then 0.3.4, then rclone with its default flags and with
`--transfers 8 --checkers 16` (`rclone_runs.VARIANTS`), every tool into a folder of its
own; S3's changes are made once, before the step, so every tool syncs the same changes.
This tree's rows carry the ratios other tool / this tree (time, requests, RU): `vs_0_3_4`,
and `vs_rclone` per rclone variant (None when rclone was skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.bench_world import World, mirror_matches
from benchmarks.rclone_runs import MISSING, VARIANTS, RcloneRuns, find_rclone
from benchmarks.sync_runs import Measured, ratio, run_old, run_ours
from benchmarks.sync_scenarios import (
    Check,
    Outcome,
    Sizes,
    check_mirror,
    library_tenant,
    local_root,
    mutate,
    only_drive,
)
from ms365sync.emulator import Drive

STEPS = (("S1", "initial"), ("S2", "no-op"), ("S3", "incremental"))
WIDER = 16  # per-target download workers of the extra S1 run (the default is 8)


@dataclass
class Step:
    """One scenario's runs on the shared tenant."""

    label: str
    ours: Measured
    old: Measured | None = None
    rclone: dict[str, Measured] = field(default_factory=dict)  # by variant label


def ratios(other: Measured, ours: Measured) -> dict[str, float] | None:
    """other / ours for time, requests and RU (None when the other run was skipped)."""
    if other.skipped:
        return None
    return {
        "time": round(ratio(other.wall_s, ours.wall_s), 2),
        "requests": round(ratio(other.requests, ours.requests), 2),
        "resource_units": round(ratio(other.ru, ours.ru), 2),
    }


def against_others(
    workdir: Path, sizes: Sizes, latency_ms: float, *, baseline: bool, rclone: bool
) -> Outcome:
    """S1, S2 (sweep not due) and S3 on one tenant: this tree, 0.3.4 (if `baseline`) and
    rclone (if `rclone`; its rows say they were skipped when it is not on PATH)."""
    out = Outcome([], [], [])
    tenant = library_tenant(sizes.baseline_files, sizes.baseline_folders, seed=2)
    files = sizes.baseline_files
    binary = find_rclone() if rclone else None
    if rclone and binary is None:
        out.notes.append(MISSING)
    with World(tenant, workdir / "baseline", latency_ms=latency_ms, public_names=rclone) as world:
        world.warm()
        _, _, drive = only_drive(world)
        with RcloneRuns(world, drive, binary) as others:
            steps, wider = _run_steps(world, drive, files, others, baseline=baseline, rclone=rclone)
    for step in steps:
        out.rows.append(step.ours)
        out.rows += [run for run in (step.old, *step.rclone.values()) if run is not None]
        if step.label == "S1":
            out.rows.append(wider)
        if step.old is not None and step.old.detail:
            out.notes.append(f"0.3.4 {step.label}: {step.old.detail}")
    s1 = steps[0]
    for step in steps:
        _compare(step.ours, step)
    _compare(wider, s1)
    if s1.old is not None:
        out.checks.append(_ten_times(s1.ours, s1.old, wider, files))
    return out


def _run_steps(
    world: World, drive: Drive, files: int, others: RcloneRuns, *, baseline: bool, rclone: bool
) -> tuple[list[Step], Measured]:
    """Every step in order, and the wider S1 run (made right after S1, on its tenant)."""
    site, library, _ = only_drive(world)
    config = world.write_config("ours", sweep="24h")
    old_root = world.workdir / "old"
    old_root.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    for label, name in STEPS:
        changes = mutate(world.tenant, drive, seed=4) if label == "S3" else None
        step = Step(label, run_ours(world, config, f"{label} {name} vs 0.3.4", files))
        check_mirror(step.ours, world, local_root(config, site, library), drive)
        if baseline:
            step.old = _run_old(world, drive, old_root, f"{label} {name} (0.3.4)", files)
        if rclone:
            for index, variant in enumerate(VARIANTS):
                root = world.workdir / f"rclone-{index}"
                scenario = f"{label} {name} (rclone)"
                step.rclone[variant.label] = others.run(variant, root, scenario, files)
        if changes is not None:
            for run in (step.ours, step.old, *step.rclone.values()):
                if run is not None and not run.skipped:
                    run.extra["changes"] = changes
        steps.append(step)
        if label == "S1":
            wider = _wider(world, drive, files)
    return steps, wider


def _run_old(world: World, drive: Drive, root: Path, scenario: str, files: int) -> Measured:
    site, _, _ = only_drive(world)
    old = run_old(world, site, drive.title, local_root=root, scenario=scenario, files=files)
    same, detail = mirror_matches(root, world.truth(drive), permissions=False)
    old.extra["mirror"] = detail  # 0.3.4's correctness is noted, not required
    if not same:
        old.detail = f"{old.detail} its mirror differs from the tenant: {detail}".strip()
    return old


def _wider(world: World, drive: Drive, files: int) -> Measured:
    """S1 again from empty, with `concurrency = WIDER`: what the default of 8 workers costs."""
    site, library, _ = only_drive(world)
    config = world.write_config("wider", defaults={"concurrency": WIDER})
    run = run_ours(world, config, f"S1 initial vs 0.3.4, concurrency = {WIDER}", files)
    check_mirror(run, world, local_root(config, site, library), drive)
    return run


def _compare(ours: Measured, step: Step) -> None:
    if step.old is not None:
        ours.extra["vs_0_3_4"] = ratios(step.old, ours)
    if step.rclone:
        ours.extra["vs_rclone"] = {label: ratios(run, ours) for label, run in step.rclone.items()}


def _ten_times(ours: Measured, old: Measured, wider: Measured, files: int) -> Check:
    speed = ratio(old.wall_s, ours.wall_s)
    value = (
        f"{speed:.1f}x ({old.wall_s:.1f} s vs {ours.wall_s:.1f} s, {files} files); "
        f"with concurrency = {WIDER}: {ratio(old.wall_s, wider.wall_s):.1f}x "
        f"({wider.wall_s:.1f} s)"
    )
    return Check("S1", ">= 10x faster than 0.3.4", value, speed >= 10 and ours.ok)
