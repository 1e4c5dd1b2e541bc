"""How fast the emulator answers over real HTTPS: metadata GETs per second and download MB/s.

Run::

    python -m benchmarks.emulator_bench            # full run (about a minute)
    python -m benchmarks.emulator_bench --quick    # smoke-sized run (a few seconds)

It starts `Emulator(synthetic tenant).server()` on 127.0.0.1 and drives it from separate
client *processes* (so the clients' own Python work does not share the server's GIL):

* metadata: `--processes` x `--connections` keep-alive `http.client.HTTPSConnection`s, each
  in its own thread, GET `/v1.0/drives/{drive}/items/{random item}` back to back for
  `--seconds` after a warm-up; the number is successful responses per second overall;
* downloads: `/content` answers 302 with a pre-authenticated URL on another origin, which is
  fetched without Authorization and read to the end; the numbers are MB/s (10^6 bytes) for
  one stream and for one stream per client process at once.

Results are printed as a markdown table and written to benchmarks/results/emulator.json.
Targets on the 2-core CI machine: >= 1,000 metadata GETs/s and >= 200 MB/s.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import random
import ssl
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ms365sync.emulator import Emulator, GeneratedContent, synthetic_tenant

RESULTS = Path(__file__).resolve().parent / "results" / "emulator.json"
METADATA_TARGET = 1000.0
DOWNLOAD_TARGET = 200.0
MB = 1_000_000
READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Plan:
    """The knobs of one run."""

    files: int
    big_files: int
    big_size: int
    processes: int
    connections: int
    warmup_s: float
    seconds: float

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Plan:
        if args.quick:
            return cls(500, 2, 50 * 1024 * 1024, args.processes, args.connections, 0.5, 2.0)
        return cls(
            args.files, 4, 50 * 1024 * 1024, args.processes, args.connections, 2.0, args.seconds
        )


@dataclass(frozen=True)
class Target:
    """Where the client processes connect and what they may ask for; with `graph_host`
    (public names) every request names its public host, as a client behind the proxy
    does, and the connections still go to 127.0.0.1 (which the certificate covers too)."""

    port: int
    ca_path: str
    token: str
    item_paths: tuple[str, ...]
    content_paths: tuple[str, ...]
    graph_host: str | None = None

    def headers(self, host: str | None = None, **more: str) -> dict[str, str]:
        """Request headers, with `Host` naming the public host when there is one."""
        named = host or self.graph_host
        return {**more, **({"Host": named} if named else {})}


# ---------------------------------------------------------------------- client side


def _connection(ca_path: str, host: str, port: int) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=ca_path)
    return http.client.HTTPSConnection(host, port, context=context, timeout=60)


def _metadata_thread(target: Target, seed: int, start: float, stop: float, out: list[Any]) -> None:
    rng = random.Random(seed)
    conn = _connection(target.ca_path, "127.0.0.1", target.port)
    headers = target.headers(Authorization=f"Bearer {target.token}", Accept="application/json")
    ok = failed = 0
    latencies: list[float] = []
    while True:
        began = time.perf_counter()
        if began >= stop:
            break
        conn.request("GET", rng.choice(target.item_paths), headers=headers)
        response = conn.getresponse()
        response.read()
        ended = time.perf_counter()
        if began >= start:
            if response.status == 200:
                ok += 1
                latencies.append(ended - began)
            else:
                failed += 1
    conn.close()
    out.append((ok, failed, latencies))


def metadata_worker(target: Target, worker: int, threads: int, start: float, stop: float) -> Any:
    """One client process: `threads` keep-alive connections issuing GETs in [start, stop).

    `start` and `stop` are time.perf_counter() values shifted to this process's clock by
    the caller through `_to_local`; requests that began before `start` are warm-up.
    """
    local_start, local_stop = _to_local(start), _to_local(stop)
    out: list[Any] = []
    pool = [
        threading.Thread(
            target=_metadata_thread,
            args=(target, worker * 1000 + index, local_start, local_stop, out),
        )
        for index in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    ok = sum(entry[0] for entry in out)
    failed = sum(entry[1] for entry in out)
    latencies = [value for entry in out for value in entry[2]]
    return ok, failed, latencies


def _to_local(wall: float) -> float:
    """A time.time() instant as this process's perf_counter() value."""
    return time.perf_counter() + (wall - time.time())


def _redirect(conn: http.client.HTTPSConnection, target: Target, path: str) -> str:
    conn.request("GET", path, headers=target.headers(Authorization=f"Bearer {target.token}"))
    response = conn.getresponse()
    response.read()
    location = response.getheader("Location")
    if response.status != 302 or not location:
        raise RuntimeError(f"/content answered {response.status} without a Location")
    return location


def download_worker(target: Target, paths: tuple[str, ...], start_wall: float) -> Any:
    """Download each file through its pre-authenticated URL; (bytes, seconds) per file."""
    api = _connection(target.ca_path, "127.0.0.1", target.port)
    buffer = memoryview(bytearray(READ_SIZE))
    delay = start_wall - time.time()
    if delay > 0:
        time.sleep(delay)
    results = []
    for path in paths:
        url = urlsplit(_redirect(api, target, path))
        if url.hostname == "127.0.0.1" and url.port == target.port:
            raise RuntimeError("the download URL must be on another origin than the API")
        began = time.perf_counter()
        if target.graph_host is None:
            conn = _connection(target.ca_path, url.hostname or "", url.port or 443)
            conn.request("GET", f"{url.path}?{url.query}")
        else:  # https://<tenant>.sharepoint.com/...: the proxy's job, done by hand
            conn = _connection(target.ca_path, "127.0.0.1", target.port)
            conn.request("GET", f"{url.path}?{url.query}", headers={"Host": url.netloc})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"download answered {response.status}")
        expected = int(response.getheader("Content-Length") or -1)
        received = 0
        while True:
            count = response.readinto(buffer)
            if not count:
                break
            received += count
        conn.close()
        if received != expected:
            raise RuntimeError(f"short download: {received} of {expected} bytes")
        results.append((received, time.perf_counter() - began, time.time()))
    api.close()
    return results


# ---------------------------------------------------------------------- server side


def build_tenant(plan: Plan) -> tuple[Emulator, list[str], list[str]]:
    """A synthetic tenant plus `big_files` large files; (emulator, item paths, content paths)."""
    tenant = synthetic_tenant(plan.files, seed=7)
    drive = tenant.drives()[0]
    for number in range(plan.big_files):
        content = GeneratedContent(9000 + number, plan.big_size)
        tenant.add_file(drive, f"Large/video-{number:02d}.bin", content)
    emulator = Emulator(tenant)
    items = [
        f"/v1.0/drives/{drive.id}/items/{item.id}"
        for drive in tenant.drives()
        for item in drive.items.values()
    ]
    large = tenant.item(drive, "Large")
    contents = [
        f"/v1.0/drives/{drive.id}/items/{item.id}/content" for item in large.children.values()
    ]
    return emulator, items, contents


def fetch_token(emulator: Emulator, port: int, ca_path: str, host: str | None = None) -> str:
    """An access token from the emulator's token endpoint over HTTPS (`host`: the public
    login host to name)."""
    creds = emulator.credentials
    conn = _connection(ca_path, "127.0.0.1", port)
    form = urlencode(
        {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials",
        }
    )
    conn.request(
        "POST",
        f"/{creds.tenant_id}/oauth2/v2.0/token",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            **({"Host": host} if host else {}),
        },
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"token endpoint answered {response.status}: {body}")
    return str(body["access_token"])


def run_metadata(pool: ProcessPoolExecutor, target: Target, plan: Plan) -> dict[str, Any]:
    start = time.time() + 1.0 + plan.warmup_s  # time for the processes to connect
    stop = start + plan.seconds
    futures = [
        pool.submit(metadata_worker, target, worker, plan.connections, start, stop)
        for worker in range(plan.processes)
    ]
    ok = failed = 0
    latencies: list[float] = []
    for future in futures:
        got, bad, lat = future.result()
        ok, failed = ok + got, failed + bad
        latencies.extend(lat)
    latencies.sort()
    return {
        "connections": plan.processes * plan.connections,
        "seconds": plan.seconds,
        "requests": ok,
        "errors": failed,
        "per_second": ok / plan.seconds,
        "latency_ms_p50": 1000 * statistics.median(latencies) if latencies else None,
        "latency_ms_p99": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
    }


def run_downloads(pool: ProcessPoolExecutor, target: Target, plan: Plan) -> dict[str, Any]:
    paths = target.content_paths
    single = pool.submit(download_worker, target, paths, time.time()).result()
    single_bytes = sum(entry[0] for entry in single)
    single_seconds = sum(entry[1] for entry in single)
    start = time.time() + 1.0
    futures = [pool.submit(download_worker, target, paths, start) for _ in range(plan.processes)]
    parallel = [entry for future in futures for entry in future.result()]
    parallel_bytes = sum(entry[0] for entry in parallel)
    parallel_seconds = max(entry[2] for entry in parallel) - start
    return {
        "file_size": plan.big_size,
        "files": len(paths),
        "single_stream_mb_s": single_bytes / MB / single_seconds,
        "parallel_streams": plan.processes,
        "parallel_mb_s": parallel_bytes / MB / parallel_seconds,
    }


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": _cpu_model() or platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    found = next((line for line in text.splitlines() if line.startswith("model name")), "")
    return found.partition(":")[2].strip()


def report(results: dict[str, Any]) -> str:
    meta, down = results["metadata"], results["downloads"]
    latency = f"{meta['latency_ms_p50']:.2f} / {meta['latency_ms_p99']:.2f}"
    streams = down["parallel_streams"]
    rows = [
        (
            "metadata GETs/s (item by id)",
            f"{meta['per_second']:,.0f}",
            f">= {METADATA_TARGET:,.0f}",
        ),
        ("  latency p50 / p99 (ms)", latency, ""),
        ("  errors", str(meta["errors"]), "0"),
        (
            "download MB/s, 1 stream",
            f"{down['single_stream_mb_s']:,.0f}",
            f">= {DOWNLOAD_TARGET:,.0f}",
        ),
        (f"download MB/s, {streams} streams at once", f"{down['parallel_mb_s']:,.0f}", ""),
    ]
    lines = ["| measure | result | target |", "|---|---:|---:|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_bench")
    parser.add_argument("--quick", action="store_true", help="smoke-sized run (a few seconds)")
    parser.add_argument("--files", type=int, default=10_000, help="synthetic files (full run)")
    parser.add_argument("--seconds", type=float, default=10.0, help="metadata measuring time")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=4, help="connections per process")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument(
        "--public-names",
        action="store_true",
        help="serve --public-names and name graph.microsoft.com, the login host and the "
        "SharePoint host in every request",
    )
    args = parser.parse_args(argv)
    plan = Plan.for_args(args)
    emulator, items, contents = build_tenant(plan)
    with tempfile.TemporaryDirectory() as scratch:
        ca_path = str(Path(scratch) / "ca.pem")
        public = args.public_names
        with emulator.server(ca_bundle_path=Path(ca_path), public_names=public) as server:
            login = "login.microsoftonline.com" if public else None
            token = fetch_token(emulator, server.port, ca_path, login)
            graph = "graph.microsoft.com" if public else None
            target = Target(server.port, ca_path, token, tuple(items), tuple(contents), graph)
            context = get_context("spawn")  # never fork a process that runs server threads
            with ProcessPoolExecutor(plan.processes, mp_context=context) as pool:
                metadata = run_metadata(pool, target, plan)
                downloads = run_downloads(pool, target, plan)
    results = {
        "benchmark": "emulator",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.emulator_bench"
        + (" --quick" if args.quick else "")
        + (" --public-names" if args.public_names else ""),
        "machine": machine(),
        "plan": asdict(plan),
        "metadata": metadata,
        "downloads": downloads,
        "targets": {"metadata_per_second": METADATA_TARGET, "download_mb_s": DOWNLOAD_TARGET},
    }
    print(report(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
