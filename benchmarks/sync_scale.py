"""Scenarios S4-S7: scale, throughput, a throttled tenant, and many targets at once."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks.bench_world import (
    MB,
    ChildRun,
    World,
    mirror_matches,
    ru_per_minute,
    run_child,
    run_children,
)
from benchmarks.emulator_bench import fetch_token
from benchmarks.qxh_bench import measure as qxh_rate
from benchmarks.sync_runs import (
    OURS,
    Measured,
    fold_reports,
    measure,
    ours_argv,
    ours_env,
    ratio,
    run_ours,
)
from benchmarks.sync_scenarios import (
    KIB,
    Check,
    Outcome,
    Sizes,
    check_mirror,
    library_tenant,
    local_root,
    only_drive,
)
from ms365sync.config import load_config
from ms365sync.emulator import GeneratedContent, synthetic_tenant

# S7's second coordinator run: every target at once, and enough global download slots for
# each target's 8 workers (the default [run] allows 4 targets and 16 downloads in all).
WIDE = {"parallel_targets": 6, "max_connections": 48}


def _settings(values: dict[str, int]) -> str:
    return ", ".join(f"{key} = {value}" for key, value in values.items())


def scenario_s4(workdir: Path, sizes: Sizes, latency_ms: float) -> Outcome:
    """100,000 small files: initial sync (peak RSS) and a no-op resync (wall time)."""
    out = Outcome([], [], [])
    tenant = synthetic_tenant(
        sizes.s4_files,
        folders=sizes.s4_folders,
        size_min=512,
        size_max=4 * KIB,
        unique_share=0.05,
        seed=5,
    )
    with World(tenant, workdir / "s4", latency_ms=latency_ms) as world:
        world.warm()
        site, library, drive = only_drive(world)
        config = world.write_config("ours")
        root = local_root(config, site, library)
        first = run_ours(world, config, "S4 initial", sizes.s4_files)
        check_mirror(first, world, root, drive)
        again = run_ours(world, config, "S4 no-op", sizes.s4_files)
        check_mirror(again, world, root, drive)
    out.rows += [first, again]
    out.checks.append(
        Check("S4", "no-op resync < 3 s", f"{again.wall_s:.2f} s", again.wall_s < 3 and again.ok)
    )
    out.checks.append(
        Check(
            "S4",
            "peak RSS < 250 MB during the initial sync",
            f"{first.peak_rss_mb:.0f} MB",
            first.peak_rss_mb < 250 and first.ok,
        )
    )
    return out


def scenario_s5(workdir: Path, sizes: Sizes, latency_ms: float) -> Outcome:
    """Large files: ms365sync's MB/s against a plain streaming GET, and quickXorHash MB/s."""
    out = Outcome([], [], [])
    tenant = synthetic_tenant(0, seed=6)
    drive = tenant.drives()[0]
    for number in range(sizes.s5_files):
        content = GeneratedContent(6000 + number, sizes.s5_size)
        tenant.add_file(drive, f"Large/video-{number:02d}.bin", content)
    total = sizes.s5_files * sizes.s5_size
    with World(tenant, workdir / "s5", latency_ms=latency_ms) as world:
        world.warm()
        site, library, drive = only_drive(world)
        plain = _plain_get(world, drive.id, [i.id for i in drive.items.values() if i.content])
        config = world.write_config("ours")
        root = local_root(config, site, library)
        ours = run_ours(world, config, "S5 20 large files", sizes.s5_files)
        check_mirror(ours, world, root, drive)
        noop = run_ours(world, config, "S5 no-op (fixed costs)", sizes.s5_files)
    end_to_end = total / MB / ours.wall_s
    transfer = total / MB / max(ours.wall_s - noop.wall_s, 1e-6)
    ours.extra.update(
        mb_per_s=round(end_to_end, 1),
        transfer_mb_per_s=round(transfer, 1),
        plain_get_mb_per_s=round(plain, 1),
    )
    out.rows += [ours, noop]
    share = transfer / plain
    out.checks.append(
        Check(
            "S5",
            ">= 80 % of a plain streaming GET",
            f"{transfer:,.0f} MB/s vs {plain:,.0f} MB/s ({100 * share:.0f} %); "
            f"whole process incl. start-up {end_to_end:,.0f} MB/s",
            share >= 0.8 and ours.ok,
        )
    )
    data = os.urandom(64 * (1 << 20))
    rate = qxh_rate(data, 1 << 20, 3)
    out.checks.append(Check("S5", "quickXorHash >= 500 MB/s", f"{rate:,.0f} MB/s", rate >= 500))
    return out


def _plain_get(world: World, drive_id: str, item_ids: list[str]) -> float:
    """MB/s of benchmarks.plain_get over the files (as many streams as a target's workers)."""
    token = fetch_token(world.emulator, world.server.port, str(world.ca_path))
    paths = world.workdir / "plain-paths.txt"
    paths.write_text(
        "\n".join(f"/v1.0/drives/{drive_id}/items/{item}/content" for item in item_ids),
        encoding="utf-8",
    )
    argv = [
        sys.executable,
        "-m",
        "benchmarks.plain_get",
        world.base_url,
        str(world.ca_path),
        token,
        str(paths),
        str(world.workdir / "plain"),
        "--threads",
        "8",
    ]
    child = run_child(
        argv,
        cwd=Path(__file__).resolve().parent.parent,
        env=ours_env(),
        log_dir=world.workdir / "logs",
        name="S5-plain-get",
    )
    result = json.loads(child.stdout)
    return float(result["bytes"]) / MB / float(result["seconds"])


def scenario_s6(workdir: Path, sizes: Sizes, latency_ms: float) -> Outcome:
    """An initial sync against a 1,250 RU/min budget: how much of it is used, how many 429s."""
    out = Outcome([], [], [])
    tenant = library_tenant(sizes.s6_files, max(1, sizes.s6_files // 20), seed=7)
    throttle = f"{sizes.s6_budget}/min"
    with World(tenant, workdir / "s6", latency_ms=latency_ms, throttle=throttle) as world:
        world.warm()
        site, library, drive = only_drive(world)
        config = world.write_config("ours")
        run = run_ours(world, config, f"S6 initial, {throttle}", sizes.s6_files)
        check_mirror(run, world, local_root(config, site, library), drive)
    minutes = ru_per_minute(run.traffic.ru_by_second)
    full = minutes[:-1] if len(minutes) > 1 else minutes
    used = sum(full) / (len(full) * sizes.s6_budget) if full else 0.0
    asked, rejected = run.throttle_requests, run.throttle_rejections
    share_429 = rejected / asked if asked else 0.0
    run.extra.update(
        ru_per_minute=minutes,
        budget_used=round(used, 3),
        answered_429=rejected,
        share_429=round(share_429, 4),
    )
    out.rows.append(run)
    out.checks.append(
        Check(
            "S6",
            ">= 85 % of the RU budget used",
            f"{100 * used:.0f} % (RU per minute: {minutes})",
            used >= 0.85,
        )
    )
    out.checks.append(
        Check(
            "S6",
            "< 5 % of requests answered 429",
            f"{rejected} of {asked} ({100 * share_429:.1f} %)",
            share_429 < 0.05,
        )
    )
    out.checks.append(Check("S6", "no file failed", run.extra.get("mirror", run.detail), run.ok))
    return out


def scenario_s7(workdir: Path, sizes: Sizes, latency_ms: float) -> Outcome:
    """6 libraries over 3 sites: the coordinator against one target after another."""
    out = Outcome([], [], [])
    files = 6 * sizes.s7_files_per_library
    tenant = synthetic_tenant(
        files, sites=3, libraries=2, size_min=KIB, size_max=256 * KIB, unique_share=0.05, seed=8
    )
    with World(tenant, workdir / "s7", latency_ms=latency_ms) as world:
        world.warm()
        sequential_config = world.write_config("sequential", run={"parallel_targets": 1})
        sequential = run_ours(world, sequential_config, "S7 one after another", files)
        coordinated_config = world.write_config("coordinator")
        coordinated = run_ours(world, coordinated_config, "S7 coordinator", files)
        wide_config = world.write_config("wide", run=WIDE)
        wide = run_ours(world, wide_config, "S7 coordinator, " + _settings(WIDE), files)
        separate_config = world.write_config("separate")
        separate = _one_process_per_target(world, separate_config, files)
        runs = ((sequential, sequential_config), (coordinated, coordinated_config))
        for run, config in (*runs, (wide, wide_config), (separate, separate_config)):
            for site, library, drive in world.targets():
                same, detail = mirror_matches(local_root(config, site, library), world.truth(drive))
                if not same:
                    run.ok = False
                    run.detail += f" {site}/{library}: {detail}"
    speed = ratio(sequential.wall_s, coordinated.wall_s)
    coordinated.extra["speedup"] = round(speed, 2)
    wide_speed = ratio(sequential.wall_s, wide.wall_s)
    wide.extra["speedup"] = round(wide_speed, 2)
    separate.extra["speedup"] = round(ratio(sequential.wall_s, separate.wall_s), 2)
    out.rows += [sequential, coordinated, wide, separate]
    value = (
        f"{speed:.1f}x ({sequential.wall_s:.1f} s vs {coordinated.wall_s:.1f} s) with the "
        f"default [run]; {wide_speed:.1f}x ({wide.wall_s:.1f} s) with {_settings(WIDE)}"
    )
    out.checks.append(
        Check(
            "S7",
            "coordinator >= 3x faster than one after another",
            value,
            speed >= 3 and sequential.ok and coordinated.ok,
        )
    )
    return out


SEPARATE = "S7 one process per target (6 at once; CPU and peak RSS summed)"


def _one_process_per_target(world: World, config: Path, files: int) -> Measured:
    """Every target as its own `ms365sync --config CONFIG --only SITE/LIBRARY --json`, all
    started at once: what separate processes give against one coordinator. Wall time runs
    until the last one exits; CPU seconds and peak RSS are the sums over the processes (the
    largest single peak is kept as `peak_rss_mb_max`)."""
    names = [target.name for target in load_config(config).targets()]
    commands = [
        (ours_argv(config, name), f"S7-separate-{index}") for index, name in enumerate(names)
    ]
    children: list[ChildRun] = []

    def run() -> ChildRun:
        log_dir = world.workdir / "logs"
        children.extend(run_children(commands, cwd=config.parent, env=ours_env(), log_dir=log_dir))
        failed = [child.returncode for child in children if child.returncode != 0]
        return ChildRun(
            argv=("one process per target",),
            returncode=failed[0] if failed else 0,
            wall_s=max(child.wall_s for child in children),
            cpu_s=sum(child.cpu_s for child in children),
            peak_rss_mb=sum(child.peak_rss_mb for child in children),
            stdout="",
            stderr="\n".join(child.stderr for child in children if child.returncode != 0),
        )

    measured = measure(world, SEPARATE, OURS, files, run)
    fold_reports(measured, [world.workdir / "logs" / f"{name}.stdout" for _, name in commands])
    measured.extra["processes"] = len(children)
    measured.extra["peak_rss_mb_max"] = round(max(c.peak_rss_mb for c in children), 1)
    return measured
