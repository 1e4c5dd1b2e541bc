"""`ms365sync shards`: how a configuration's targets split over N workers, and how evenly.

The files per target come from each target's state store, read-only (a target never
synced, or whose store this machine cannot see, counts as unknown): a worker with a volume
of its own sees only its own targets' stores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ms365sync.cli.main import Options, load
from ms365sync.config import Target
from ms365sync.shards import MAX_SHARDS, split
from ms365sync.state.store import StateStore

IMBALANCE = 2.0  # `check` warns when the largest shard holds more than this times the mean


@dataclass(frozen=True)
class ShardLoad:
    """One shard's targets and the files their stores record (None: not known)."""

    index: int
    count: int
    targets: list[tuple[str, int | None]]

    @property
    def files(self) -> int:
        return sum(files or 0 for _, files in self.targets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "shard": f"{self.index}/{self.count}",
            "files": self.files,
            "targets": [{"name": name, "files": files} for name, files in self.targets],
        }


def shard_loads(targets: Sequence[Target], count: int) -> list[ShardLoad]:
    """Every shard of `count` with its targets (all of the configuration's) and files."""
    files = {t.name: StateStore.read_file_count(t.spec.state_dir) for t in targets}
    return [
        ShardLoad(index, count, [(name, files[name]) for name in names])
        for index, names in enumerate(split([t.name for t in targets], count))
    ]


def spread(loads: Sequence[ShardLoad]) -> float | None:
    """The largest shard's files over the mean (None when no files are known)."""
    total = sum(load.files for load in loads)
    if not total:
        return None
    return max(load.files for load in loads) / (total / len(loads))


def imbalance_warning(loads: Sequence[ShardLoad], config: Path | None) -> str | None:
    """One line when the largest shard holds more than IMBALANCE times the mean."""
    ratio = spread(loads)
    if ratio is None or ratio <= IMBALANCE:
        return None
    largest = max(loads, key=lambda load: load.files)
    total = sum(load.files for load in loads)
    return (
        f"shard {largest.index}/{largest.count} holds {largest.files:,} of the {total:,} files "
        f"the state stores of {config or 'the configuration'} record ({ratio:.1f}x the mean of "
        f"{len(loads)} shards): give it fewer targets (split a large library's site over "
        "targets) or use more shards; `ms365sync shards` shows the split"
    )


@click.command()
@click.option(
    "--shards", "count", required=True, type=click.IntRange(1, MAX_SHARDS), metavar="N",
    help="How many workers the targets are split over.",
)  # fmt: skip
@click.option(
    "--config", "sub_config", type=click.Path(path_type=Path), default=None,
    help="The configuration file (default: the global --config, else $MS365SYNC_CONFIG, "
    "else sites.toml).",
)  # fmt: skip
@click.pass_context
def shards(ctx: click.Context, count: int, sub_config: Path | None) -> None:
    """Show which targets each of N shards syncs, with the files each target's state records.

    Every worker given the same configuration and `--shard I/N` (or `--shards N` with
    JOB_COMPLETION_INDEX) syncs exactly the targets listed here for shard I.
    """
    options: Options = ctx.obj
    config_path = sub_config if sub_config is not None else options.config
    everything = Options(config_path, (), False, False, options.verbose, options.quiet,
                         options.json, options.log_file)  # fmt: skip
    config, targets = load(everything)
    loads = shard_loads(targets, count)
    ratio = spread(loads)
    if options.json:
        document = {
            "config": str(config_path),
            "shards": [load.as_dict() for load in loads],
            "files": sum(load.files for load in loads),
            "largest_over_mean": None if ratio is None else round(ratio, 3),
        }
        click.echo(json.dumps(document, indent=2))
        return
    console = options.console
    for load_ in loads:
        known = sum(files is not None for _, files in load_.targets)
        console.print(
            f"shard {load_.index}/{count}: {len(load_.targets)} targets, "
            f"{load_.files:,} files ({known} of them synced here)"
        )
        for name, files in load_.targets:
            console.print(f"  {name}: {'not synced here' if files is None else f'{files:,} files'}")
    if ratio is not None:
        console.print(f"largest shard over the mean: {ratio:.2f}x")
    warning = imbalance_warning(loads, config.file)
    if warning:
        console.print(f"warning: {warning}")
