"""Which worker syncs which target: a configuration's targets split over N shards.

Every worker reads the same configuration and keeps the targets of its own shard, so no
coordination is needed beyond the shard's number. The split depends only on the targets'
names (`site/library`, case-insensitive) and N, through a hash that is the same in every
process, Python version and machine (BLAKE2b, never `hash()`, which is salted per process).

Rendezvous (highest random weight) hashing with bounded loads: each target ranks the
shards by a hash of (shard, name) and goes to the first one in its ranking that holds
fewer than its share (targets / N rounded down, or up for as many shards as the division
leaves over); the targets are placed in the order of a hash of their names. Plain
rendezvous hashing balances only many targets (12 targets over 4 shards could leave a
shard empty); the bound keeps every shard within one target of the others. A target still
moves only when its shard is gone or full or a better-ranked one appears: going from N to
N+1 shards moves about 1/(N+1) of the targets (with 1,000 targets, 21 % from 4 to 5
shards, 96 % of them into the new one), and adding a target moves a few others (1.1 on
average with 4 shards, 2.4 with 8, measured over random configurations). A target that
moves starts afresh (mirror, state, delta token) on the worker that now holds it, unless
the workers share one volume (examples/kubernetes/).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["MAX_SHARDS", "Shard", "ShardError", "assign", "resolve", "split"]

MAX_SHARDS = 1_000
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(ValueError):
    """A shard or a number of shards that cannot be used; the message says what was expected."""


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _key(name: str) -> str:
    return name.strip().strip("/").casefold()


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_SHARDS:
        raise ShardError(f"a number of shards from 1 to {MAX_SHARDS}, not {count}")


def assign(names: Iterable[str], count: int) -> dict[str, int]:
    """Each name's shard (0 to `count` - 1). The result depends on the set of names only,
    not on their order; names equal but for case share a shard."""
    _check_count(count)
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(_key(name), []).append(name)
    base, extra = divmod(len(by_key), count)  # `extra` shards hold one target more
    load = [0] * count
    grown = 0
    shard_of_key: dict[str, int] = {}
    for key in sorted(by_key, key=lambda k: (_hash(f"order\0{k}"), k)):
        ranking = sorted(range(count), key=lambda s: (-_hash(f"{s}\0{key}"), s))
        chosen = next(s for s in ranking if load[s] < base or (load[s] == base and grown < extra))
        grown += load[chosen] == base
        load[chosen] += 1
        shard_of_key[key] = chosen
    return {name: shard_of_key[key] for key, group in by_key.items() for name in group}


def split(names: Iterable[str], count: int) -> list[list[str]]:
    """`names` in `count` lists, one per shard, each in the order given."""
    ordered = list(names)
    shards: list[list[str]] = [[] for _ in range(count)]
    placed = assign(ordered, count)
    for name in ordered:
        shards[placed[name]].append(name)
    return shards


@dataclass(frozen=True)
class Shard:
    """Shard `index` (0-based) of `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        _check_count(self.count)
        if not 0 <= self.index < self.count:
            raise ShardError(
                f"a shard index from 0 to {self.count - 1} (0-based), not {self.index}"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`I/N`, e.g. `0/4`. Raises ShardError."""
        match = _SHARD.fullmatch(text)
        if match is None:
            raise ShardError(f"I/N with a 0-based index, e.g. 0/4, not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def names(self, every: Iterable[str]) -> set[str]:
        """The names of `every` (all of a configuration's targets) this shard holds."""
        return {name for name, shard in assign(every, self.count).items() if shard == self.index}


def resolve(shard: str | None, shards: str | None, environ: Mapping[str, str]) -> Shard | None:
    """This worker's shard from `--shard I/N` (or MS365SYNC_SHARD), or from `--shards N`
    (or MS365SYNC_SHARDS) with the index Kubernetes gives an Indexed Job's pod in
    JOB_COMPLETION_INDEX; None when neither is given. Raises ShardError, one line naming
    the option or variable and what was expected."""
    count = None
    if shards is not None:
        try:
            count = int(shards.strip())
            _check_count(count)
        except (ValueError, ShardError):
            expected = f"a number of shards from 1 to {MAX_SHARDS}"
            problem = f"--shards / MS365SYNC_SHARDS: expected {expected}, not {shards!r}"
            raise ShardError(problem) from None
    if shard is not None:
        try:
            chosen = Shard.parse(shard)
        except ShardError as exc:
            raise ShardError(f"--shard / MS365SYNC_SHARD: expected {exc}") from None
        if count is not None and count != chosen.count:
            raise ShardError(
                f"--shard {chosen} and --shards {count} disagree on the number of shards"
            )
        return chosen
    if count is None:
        return None
    index = environ.get("JOB_COMPLETION_INDEX")
    if index is None:
        raise ShardError(
            f"--shards {count} needs this worker's shard: --shard I/{count} (or "
            "MS365SYNC_SHARD), or JOB_COMPLETION_INDEX, which a Kubernetes Indexed Job sets"
        )
    if not index.strip().isdigit() or int(index) >= count:
        raise ShardError(
            f"JOB_COMPLETION_INDEX {index!r} is not a shard index from 0 to {count - 1} "
            f"(0-based) of --shards {count}"
        )
    return Shard(int(index), count)
