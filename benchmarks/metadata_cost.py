"""What keeping every file's columns current costs, two ways (issue 21, point 1).

One emulated library of S1's shape (5,000 files by default, each with four custom
columns), 30 ms a request, one process, the requests made here with `requests` (no
ms365sync client yet reads columns):

- **list delta**: the library's list delta with `$expand=fields($select=...)` read whole,
  then again from its deltaLink after the changes;
- **per-file reads**: the drive's delta (which the sync reads anyway) names the files, and
  each one's `listItem?$expand=fields($select=...)` is read in `$batch` requests of 20.

Both are measured for the first run (every file) and for a run after 20 files had a
column edited, 20 their content edited and 10 were deleted. Requests, resource units (the
emulator's count) and wall time of the extra work each way; the drive's own delta round
is not counted for either (the sync reads it in any case).

    python -m benchmarks.metadata_cost [--files 5000] [--latency-ms 30] [--quick]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from benchmarks.bench_world import World
from benchmarks.emulator_bench import fetch_token
from benchmarks.sync_scenarios import KIB
from ms365sync.emulator import GeneratedContent, synthetic_tenant

COLUMNS: dict[str, list[Any]] = {
    "Department": ["Finance", "Sales", "Legal", "Engineering"],
    "Status": ["Draft", "Final", "Archived"],
    "Reviewed": [True, False],
    "Score": [1, 2, 3, 4, 5],
}
SELECT = ",".join(COLUMNS)
BATCH = 20


@dataclass
class Cost:
    way: str
    run: str
    requests: int
    ru: int
    wall_s: float
    rows: int


def _session(world: World) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(world.ca_path)
    token = fetch_token(world.emulator, world.server.port, str(world.ca_path))
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _walk(session: requests.Session, url: str) -> tuple[list[dict[str, Any]], str]:
    """Every entry of a delta round from `url`, and its deltaLink."""
    entries: list[dict[str, Any]] = []
    while True:
        page = session.get(url).json()
        entries += page["value"]
        if "@odata.deltaLink" in page:
            return entries, str(page["@odata.deltaLink"])
        url = page["@odata.nextLink"]


def _batched_reads(session: requests.Session, base: str, drive_id: str, ids: list[str]) -> int:
    """Each item's list item with its fields, 20 to a `$batch` (retrying throttled members
    is not needed: the emulator here has no budget). Returns the rows read."""
    rows = 0
    path = f"listItem?$expand=fields($select={SELECT})"
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        body = {
            "requests": [
                {"id": str(n), "method": "GET", "url": f"/drives/{drive_id}/items/{i}/{path}"}
                for n, i in enumerate(chunk)
            ]
        }
        answer = session.post(f"{base}/v1.0/$batch", json=body).json()
        rows += sum(1 for r in answer["responses"] if r["status"] == 200)
    return rows


def _measure(world: World, way: str, run: str, work: Callable[[], int]) -> Cost:
    mark = world.mark()
    started = time.perf_counter()
    rows = work()
    wall = time.perf_counter() - started
    traffic = world.traffic_since(mark)
    return Cost(way, run, traffic.graph_requests, traffic.resource_units, wall, rows)


def _change(world: World, seed: int) -> None:
    """20 column edits, 20 content edits and 10 deletions among the library's files."""
    tenant = world.tenant
    (drive,) = [d for d in tenant.drives() if not d.system]
    files = sorted((i for i in drive.root.walk() if not i.is_folder), key=lambda i: i.path)
    picked = random.Random(seed).sample(files, 50)
    for item in picked[:20]:
        tenant.set_columns(drive, item.path, {"Status": "Final"})
    for number, item in enumerate(picked[20:40]):
        tenant.edit_file(drive, item.path, GeneratedContent(90_000 + number, 2 * KIB))
    for item in picked[40:]:
        tenant.delete(drive, item.path)


def measure(files: int, latency_ms: float, workdir: Path) -> list[Cost]:
    tenant = synthetic_tenant(
        files, folders=max(1, files // 20), size_min=KIB, size_max=4 * KIB, seed=1,
        columns=COLUMNS,
    )  # fmt: skip
    with World(tenant, workdir, latency_ms=latency_ms) as world:
        session = _session(world)
        base = world.base_url
        drive = world.targets()[0][2]
        site_id = drive.site.id
        list_id = session.get(f"{base}/v1.0/drives/{drive.id}/list").json()["id"]
        list_delta = f"{base}/v1.0/sites/{site_id}/lists/{list_id}/items/delta"
        drive_delta = f"{base}/v1.0/drives/{drive.id}/root/delta?$select=id,file,deleted"
        first_drive, drive_link = _walk(session, drive_delta)
        holder: dict[str, str] = {}

        def list_round(url: str) -> Callable[[], int]:
            def run() -> int:
                entries, link = _walk(session, url)
                holder["list"] = link
                return len(entries)

            return run

        def reads(entries: list[dict[str, Any]]) -> Callable[[], int]:
            ids = [e["id"] for e in entries if "file" in e and "deleted" not in e]
            return lambda: _batched_reads(session, base, drive.id, ids)

        costs = [
            _measure(world, "list delta", "first run", list_round(
                f"{list_delta}?$expand=fields($select={SELECT})")),
            _measure(world, "per-file reads", "first run", reads(first_drive)),
        ]  # fmt: skip
        _change(world, seed=3)
        changed, _ = _walk(session, drive_link)
        costs += [
            _measure(world, "list delta", "after 50 changes", list_round(holder["list"])),
            _measure(world, "per-file reads", "after 50 changes", reads(changed)),
        ]
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metadata_cost")
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="smoke-sized (300 files)")
    args = parser.parse_args(argv)
    files = 300 if args.quick else args.files
    with tempfile.TemporaryDirectory(prefix="ms365sync-metadata-") as scratch:
        costs = measure(files, args.latency_ms, Path(scratch))
    shape = f"{files:,} files, {args.latency_ms:g} ms"
    print(f"| way ({shape}) | run | requests | RU | wall s | rows |")
    print("|---|---|---:|---:|---:|---:|")
    for cost in costs:
        print(
            f"| {cost.way} | {cost.run} | {cost.requests:,} | {cost.ru:,} | {cost.wall_s:.2f} "
            f"| {cost.rows:,} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
