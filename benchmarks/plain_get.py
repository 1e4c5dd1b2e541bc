"""S5's reference: a plain streaming GET of the same files, as a separate process.

For each `/content` path: GET it with the bearer token (302), then stream the
pre-authenticated URL to a file in 1 MiB chunks with `requests`, `--threads` files at a
time. No hashing, no verification, no temporary files: the rate a bare client reaches over
the same HTTPS server. Prints `{"bytes": N, "seconds": S}` (the whole process's work after
imports).

    python -m benchmarks.plain_get BASE_URL CA_FILE TOKEN PATHS_FILE OUT_DIR [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

CHUNK = 1 << 20


def fetch(base: str, ca: str, token: str, *, path: str, out: Path, local: threading.local) -> int:
    session = getattr(local, "session", None)
    if session is None:
        session = local.session = requests.Session()
        session.trust_env = False
        session.verify = ca
    redirect = session.get(
        base + path, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
    )
    location = redirect.headers["Location"]
    written = 0
    with session.get(location, stream=True) as response, out.open("wb") as handle:
        response.raise_for_status()
        for chunk in response.iter_content(CHUNK):
            handle.write(chunk)
            written += len(chunk)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plain_get")
    for name in ("base", "ca", "token", "paths", "out"):
        parser.add_argument(name)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    paths = Path(args.paths).read_text(encoding="utf-8").split()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    local = threading.local()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        sizes = pool.map(
            lambda job: fetch(
                args.base, args.ca, args.token, path=job[1], out=out / str(job[0]), local=local
            ),
            enumerate(paths),
        )
        total = sum(sizes)
    seconds = time.perf_counter() - started
    sys.stdout.write(json.dumps({"bytes": total, "seconds": seconds}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
