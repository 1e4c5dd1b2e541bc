"""Scenarios S1-S3 (initial sync, no-op resync, incremental) on the 5,000-file tenant.

Each scenario function builds or reuses a `World`, runs syncs as child processes and returns
`Measured` rows plus `Check`s against the issue's targets. Sizes come from `Sizes`
(full or `--quick`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_world import World, mirror_matches
from benchmarks.sync_runs import Measured, run_ours
from ms365sync.emulator import Drive, GeneratedContent, Item, Tenant, synthetic_tenant

KIB = 1024


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is (the issue's sizes, or smoke-sized ones for --quick)."""

    s1_files: int = 5_000
    s1_folders: int = 250
    baseline_files: int = 2_000
    baseline_folders: int = 100
    s4_files: int = 100_000
    s4_folders: int = 2_000
    s5_files: int = 20
    s5_size: int = 50 * 1_000_000
    s6_files: int = 3_500
    s6_budget: int = 1_250
    s7_files_per_library: int = 500

    @classmethod
    def quick(cls) -> Sizes:
        return cls(300, 15, 150, 8, 3_000, 60, 4, 8 * 1_000_000, 200, 150, 60)


@dataclass(frozen=True)
class Check:
    """One target of the issue, measured."""

    scenario: str
    target: str
    value: str
    met: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "target": self.target,
            "value": self.value,
            "met": self.met,
        }


@dataclass
class Outcome:
    """Rows and checks of one or more scenarios."""

    rows: list[Measured]
    checks: list[Check]
    notes: list[str]


UNPACED = 10**9  # [run] ru_per_minute that never makes a sweep wait


def library_tenant(
    files: int, folders: int, *, seed: int, columns: Mapping[str, Sequence[Any]] | None = None
) -> Tenant:
    """S1's shape: one library, files of 1-256 KiB, 5 % of items with unique permissions;
    with `columns`, each file also has a value of each custom column (drawn apart from the
    rest, so the files and permissions are the same either way)."""
    return synthetic_tenant(
        files,
        folders=folders,
        size_min=KIB,
        size_max=256 * KIB,
        unique_share=0.05,
        seed=seed,
        columns=columns,
    )


def only_drive(world: World) -> tuple[str, str, Drive]:
    (site, library, drive), *_ = world.targets()
    return site, library, drive


def local_root(config: Path, site: str, library: str) -> Path:
    return config.parent / "mirror" / site / library


def check_mirror(measured: Measured, world: World, root: Path, drive: Drive) -> None:
    """Fold the comparison of `root` with the tenant's truth into `measured`."""
    same, detail = mirror_matches(root, world.truth(drive))
    measured.extra["mirror"] = detail
    if not same:
        measured.ok = False
        measured.detail = (measured.detail + " " + detail).strip()


# ---------------------------------------------------------------------- S3's changes


def mutate(tenant: Tenant, drive: Drive, *, seed: int) -> dict[str, int]:
    """S3: 1 % of files edited, 1 % moved, 0.5 % deleted, 1 % given a new sharing link."""
    rng = random.Random(seed)
    with tenant.lock:
        files = sorted((i for i in drive.items.values() if not i.is_folder), key=lambda i: i.id)
        folders = sorted((i for i in drive.items.values() if i.is_folder), key=lambda i: i.id)
    count = len(files)
    edits, moves = max(1, count // 100), max(1, count // 100)
    deletes, grants = max(1, count // 200), max(1, count // 100)
    chosen = rng.sample(files, edits + moves + deletes + grants)
    for item in chosen[:edits]:
        size = rng.randint(KIB, 256 * KIB)
        tenant.edit_file(drive, item.path, GeneratedContent(rng.getrandbits(32), size, text=True))
    for item in chosen[edits : edits + moves]:
        tenant.move(drive, item.path, _other_folder(item, folders, rng).path)
    for item in chosen[edits + moves : edits + moves + deletes]:
        tenant.delete(drive, item.path)
    for item in chosen[edits + moves + deletes :]:
        tenant.add_link(drive, item.path, "view", "organization")
    return {"edited": edits, "moved": moves, "deleted": deletes, "permissions": grants}


def _other_folder(item: Item, folders: list[Item], rng: random.Random) -> Item:
    while True:
        folder = rng.choice(folders)
        if folder is not item.parent:
            return folder


# ---------------------------------------------------------------------- S1-S3, ours


def scenarios_s1_s3(workdir: Path, sizes: Sizes, latency_ms: float, wanted: set[str]) -> Outcome:
    """S1 (initial), S2 (no-op, sweep not due and due), S3 (incremental) on one library."""
    out = Outcome([], [], [])
    tenant = library_tenant(sizes.s1_files, sizes.s1_folders, seed=1)
    with World(tenant, workdir / "s1", latency_ms=latency_ms) as world:
        world.warm()
        site, library, drive = only_drive(world)
        config = world.write_config("ours", sweep="24h")
        root = local_root(config, site, library)
        files = sizes.s1_files
        s1 = run_ours(world, config, "S1 initial", files)
        check_mirror(s1, world, root, drive)
        out.rows.append(s1)
        per_file = s1.ru / files
        out.checks.append(
            Check("S1", "<= 1.3 RU per file", f"{per_file:.3f} RU/file", per_file <= 1.3 and s1.ok)
        )
        if not wanted & {"S2", "S3"}:
            return out
        s2 = run_ours(world, config, "S2 no-op, sweep not due", files)
        check_mirror(s2, world, root, drive)
        graph = s2.traffic.graph_requests
        out.rows.append(s2)
        out.checks.append(
            Check(
                "S2",
                "sweep not due: <= 3 requests, <= 3 RU per library",
                f"{graph} Graph requests, {s2.ru} RU",
                graph <= 3 and s2.ru <= 3,
            )
        )
        # A full sweep, as S2 has always measured (S8 compares it with a structure sweep),
        # not paced to a licence band: the emulator here has no budget to keep.
        config = world.write_config(
            "ours",
            sweep="always",
            defaults={"permission_sweep_mode": "full"},
            run={"ru_per_minute": UNPACED},
        )
        s2b = run_ours(world, config, "S2 no-op, sweep due", files)
        check_mirror(s2b, world, root, drive)
        out.rows.append(s2b)
        out.checks.append(_sweep_check(s2b, files))
        if "S3" not in wanted:
            return out
        config = world.write_config("ours", sweep="24h")
        changes = mutate(world.tenant, drive, seed=3)
        s3 = run_ours(world, config, "S3 incremental", files)
        check_mirror(s3, world, root, drive)
        s3.extra["changes"] = changes
        out.rows.append(s3)
        out.checks.append(_incremental_check(s3, changes))
    return out


def _sweep_check(run: Measured, files: int) -> Check:
    batches = run.traffic.endpoints.get("$batch", 0)
    reads = run.traffic.resource_units // 5
    wanted = math.ceil(files / 20)
    run.extra["permission_reads"] = reads
    value = f"{batches} $batch for {files} files ({reads} permission reads; files/20 = {wanted})"
    return Check(
        "S2",
        "sweep due: one $batch per 20 files",
        value,
        batches <= math.ceil(reads / 20) and reads <= files * 1.1,
    )


def _incremental_check(run: Measured, changes: dict[str, int]) -> Check:
    changed = sum(changes.values())
    pages = run.traffic.endpoints.get("delta", 0)
    limit = 2 * changed + pages
    value = f"{run.requests} requests for {changed} changed items + {pages} delta pages"
    return Check(
        "S3", "requests <= 2 x changed items + delta pages", value, run.requests <= limit and run.ok
    )
