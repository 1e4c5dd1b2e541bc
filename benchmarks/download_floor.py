"""CPU per downloaded file: ms365sync against what CPython spends on the bare minimum
(issue 19, point 3).

One emulator at 0 ms latency serves a library of small files (S4's shape: 0.5-4 KiB). The
pre-authenticated URLs come from one delta listing made here; then, each as its own
process and `--runs` times in turn (best run kept):

- `urllib3`: a pooled `urllib3` GET of each URL, 8 threads, the body read in 1 MiB chunks
  into a file: no hashing, no temporary name, no state. The floor of any Python client.
- `requests`: the same through `requests.Session.get(stream=True)`.
- ms365sync: an initial sync of the library (`concurrency = 8`) into a fresh mirror, minus
  a no-op sync of the same mirror (start-up, sign-in and the listing), divided by the files.

The floor processes measure their own CPU (user + system, `getrusage`) around the
downloads only. rclone's figure is in docs/performance.md's full run (two requests a file).

    python -m benchmarks.download_floor [--files 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHUNK = 1 << 20
THREADS = 8


# ---------------------------------------------------------------------------- the child


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _download_urllib3(urls: list[str], ca: str, out: Path) -> None:
    import urllib3

    pool = urllib3.PoolManager(maxsize=THREADS, ca_certs=ca, retries=False)

    def one(job: tuple[int, str]) -> None:
        index, url = job
        response = pool.request("GET", url, preload_content=False)
        with (out / str(index)).open("wb") as handle:
            for chunk in response.stream(CHUNK):
                handle.write(chunk)
        response.release_conn()

    with ThreadPoolExecutor(THREADS) as workers:
        list(workers.map(one, enumerate(urls)))


def _download_requests(urls: list[str], ca: str, out: Path) -> None:
    import requests

    local = threading.local()

    def one(job: tuple[int, str]) -> None:
        index, url = job
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False
            session.verify = ca
        with session.get(url, stream=True) as response, (out / str(index)).open("wb") as handle:
            for chunk in response.iter_content(CHUNK):
                handle.write(chunk)

    with ThreadPoolExecutor(THREADS) as workers:
        list(workers.map(one, enumerate(urls)))


def child(mode: str, urls_file: Path, ca: str, out: Path) -> int:
    urls = urls_file.read_text(encoding="utf-8").split()
    out.mkdir(parents=True, exist_ok=True)
    download = _download_urllib3 if mode == "urllib3" else _download_requests
    if mode == "urllib3":
        import urllib3  # noqa: F401  (imported before the clock starts, like requests)
    else:
        import requests  # noqa: F401
    cpu, wall = _cpu(), time.perf_counter()
    download(urls, ca, out)
    result = {"files": len(urls), "cpu_s": _cpu() - cpu, "wall_s": time.perf_counter() - wall}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


# ---------------------------------------------------------------------------- the parent


def _download_urls(world: object, drive_id: str) -> list[str]:
    import requests

    from benchmarks.bench_world import World
    from benchmarks.emulator_bench import fetch_token

    assert isinstance(world, World)
    token = fetch_token(world.emulator, world.server.port, str(world.ca_path))
    session = requests.Session()
    session.trust_env = False
    session.verify = str(world.ca_path)
    session.headers["Authorization"] = f"Bearer {token}"
    url: str | None = f"{world.base_url}/v1.0/drives/{drive_id}/root/delta"
    urls: list[str] = []
    while url:
        page = session.get(url).json()
        urls += [item["@microsoft.graph.downloadUrl"] for item in page["value"] if "file" in item]
        url = page.get("@odata.nextLink")
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.download_floor")
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=4, metavar=("MODE", "URLS", "CA", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        mode, urls, ca, out = args.child
        return child(mode, Path(urls), ca, Path(out))
    return _parent(args.files, args.runs)


def _parent(files: int, runs: int) -> int:
    from benchmarks.bench_world import World, run_child
    from benchmarks.sync_runs import ours_env, run_ours
    from benchmarks.sync_scenarios import KIB, check_mirror, local_root, only_drive
    from ms365sync.emulator import synthetic_tenant

    tenant = synthetic_tenant(
        files, folders=max(1, files // 50), size_min=512, size_max=4 * KIB, seed=5
    )
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ms365sync-floor-") as scratch:
        workdir = Path(scratch)
        with World(tenant, workdir, latency_ms=0) as world:
            world.warm()
            site, library, drive = only_drive(world)
            urls_file = workdir / "urls.txt"
            for turn in range(runs):
                for mode in ("urllib3", "requests"):
                    # URLs are fetched fresh each turn: a pre-authenticated URL is short-lived.
                    urls_file.write_text("\n".join(_download_urls(world, drive.id)), "utf-8")
                    out = workdir / f"{mode}-{turn}"
                    argv = [sys.executable, "-m", "benchmarks.download_floor", "--child", mode]
                    argv += [str(urls_file), str(world.ca_path), str(out)]
                    ran = run_child(argv, cwd=workdir, env=ours_env(), log_dir=workdir, name=mode)
                    shutil.rmtree(out, ignore_errors=True)
                    if ran.returncode != 0:
                        print(f"{mode}: exit {ran.returncode}: {ran.stderr[-300:]}")
                        return 1
                    result = json.loads(ran.stdout)
                    _keep(best, mode, result["cpu_s"], result["wall_s"])
                name = f"ours-{turn}"
                config = world.write_config(name, defaults={"concurrency": 8})
                initial = run_ours(world, config, "initial", files)
                check_mirror(initial, world, local_root(config, site, library), drive)
                noop = run_ours(world, config, "no-op", files)
                if not (initial.ok and noop.ok):
                    print(f"ms365sync: {initial.detail or noop.detail}")
                    return 1
                _keep(best, "ms365sync", initial.cpu_s - noop.cpu_s, initial.wall_s - noop.wall_s)
                shutil.rmtree(config.parent, ignore_errors=True)
                subprocess.run(["sync"], check=False)
    print(
        f"| client ({files:,} files of 0.5-4 KiB, 0 ms, 8 at once, best of {runs}) "
        "| CPU ms a file | wall s |"
    )
    print("|---|---:|---:|")
    labels = {
        "urllib3": "bare urllib3 GET + write (the floor)",
        "requests": "requests.Session.get(stream=True) + write",
        "ms365sync": "ms365sync initial minus no-op",
    }
    for mode, (cpu, wall) in best.items():
        print(f"| {labels[mode]} | {1000 * cpu / files:.2f} | {wall:.2f} |")
    return 0


def _keep(best: dict[str, tuple[float, float]], mode: str, cpu: float, wall: float) -> None:
    if mode not in best or cpu < best[mode][0]:
        best[mode] = (cpu, wall)


if __name__ == "__main__":
    sys.exit(main())
