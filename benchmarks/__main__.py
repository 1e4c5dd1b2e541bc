"""`python -m benchmarks [--quick]` (and `nox -s bench`): every benchmark, one after another."""

from __future__ import annotations

import sys

from benchmarks import (
    concurrency_bench,
    emulator_bench,
    metadata_cost,
    metadata_sync_bench,
    qxh_bench,
    shards_bench,
    startup_bench,
    sweep_bench,
    sync_bench,
)

BENCHMARKS = (
    ("quickXorHash", qxh_bench.main),
    ("start-up (--version, imports, a no-op sync)", startup_bench.main),
    ("emulator", emulator_bench.main),
    ("sync (S1-S7, against ms365sync 0.3.4)", sync_bench.main),
    ("permission sweeps (S8)", sweep_bench.main),
    ('concurrency: a fixed 8 against "auto" at 30 and 100 ms', concurrency_bench.main),
    ("shards sharing one tenant's budget (S9)", shards_bench.main),
    ("keeping columns current: the list's delta or per-file reads", metadata_cost.main),
    ('document metadata on S1: none, four columns, "all"', metadata_sync_bench.main),
)


def main(argv: list[str]) -> int:
    worst = 0
    for name, run in BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        worst = max(worst, run(list(argv)))
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
