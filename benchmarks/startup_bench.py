"""Start-up: what a command costs before (and besides) its work (issue 19, point 2).

Measures, each command as its own process (best of `--runs`):

- `ms365sync --version`: wall and CPU (user + system, from `os.wait4`);
- the imports of the entry point, `import ms365sync.cli` (`-X importtime`, cumulative);
- the imports of a whole no-op sync (`-X importtime`: every module's own time summed, the
  ones a run loads lazily included);
- a no-op sync of one library (`--json`, output to a file: not a terminal) against the
  emulator served over HTTPS by this process: wall and CPU of the sync's process.

Bytecode is written and used (`PYTHONDONTWRITEBYTECODE` is dropped for the children, and a
first run compiles), as in an installed package. Prints a markdown table.

    python -m benchmarks.startup_bench [--runs 7] [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.emulator.cli import sites_toml

TARGET = "hr/Policies"
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    stderr: str


def child_env() -> dict[str, str]:
    """This environment, writing bytecode (an installed package has it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, out: Path) -> Run:
    """Run `argv` to its end (stdout to `out`); its wall time and CPU seconds."""
    with out.open("wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdout=stdout, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        stderr = process.stderr.read()  # read to the end first: a full pipe would block it
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    process.stderr.close()
    text = stderr.decode("utf-8", errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}:\n{text[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, text)


def best(runs: Sequence[Run]) -> tuple[float, float]:
    """The least wall time and the least CPU time of `runs` (each its own best)."""
    return min(r.wall_s for r in runs), min(r.cpu_s for r in runs)


def imports_cumulative(stderr: str, module: str) -> float:
    """Seconds `-X importtime` gives `module`'s import, its imports included."""
    for match in _IMPORT_LINE.finditer(stderr):
        if match.group(4) == module:
            return int(match.group(2)) / 1e6
    raise ValueError(f"{module} is not in the -X importtime output")


def imports_total(stderr: str) -> float:
    """Seconds spent importing in all: every module's own time, summed."""
    return sum(int(m.group(1)) for m in _IMPORT_LINE.finditer(stderr)) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup_bench")
    parser.add_argument("--runs", type=int, default=7, help="runs of each; the best counts")
    parser.add_argument("--quick", action="store_true", help="smoke-sized: 2 runs of each")
    args = parser.parse_args(argv)
    runs = 2 if args.quick else max(1, args.runs)
    env = child_env()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        root = Path(tmp)
        out = root / "stdout"
        version = [python, "-m", "ms365sync", "--version"]
        run(version, env=env, cwd=root, out=out)  # compiles the bytecode
        versions = [run(version, env=env, cwd=root, out=out) for _ in range(runs)]
        entry = [python, "-X", "importtime", "-c", "import ms365sync.cli"]
        entry_s = min(
            imports_cumulative(run(entry, env=env, cwd=root, out=out).stderr, "ms365sync.cli")
            for _ in range(runs)
        )
        emulator = Emulator(load_demo_tenant())
        with emulator.server(ca_bundle_path=root / "ca.pem") as server:
            config = root / "sites.toml"
            text = sites_toml(emulator, server.base_url, "ca.pem", "mirror")
            config.write_text(text, encoding="utf-8")
            sync = [python, "-m", "ms365sync", "--config", str(config), "--only", TARGET, "--json"]
            run(sync, env=env, cwd=root, out=out)  # the first sync: downloads the library
            noops = [run(sync, env=env, cwd=root, out=out) for _ in range(runs)]
            traced = [python, "-X", "importtime", *sync[1:]]
            sync_imports_s = min(
                imports_total(run(traced, env=env, cwd=root, out=out).stderr) for _ in range(runs)
            )
    version_wall, version_cpu = best(versions)
    noop_wall, noop_cpu = best(noops)
    print(f"Start-up, best of {runs} runs each (Python {sys.version.split()[0]})\n")
    print("| measure | wall s | CPU s (user+sys) |")
    print("|---|---:|---:|")
    print(f"| `ms365sync --version` | {version_wall:.3f} | {version_cpu:.3f} |")
    print(f"| `import ms365sync.cli` (-X importtime, cumulative) | {entry_s:.3f} | |")
    print(f"| imports of a no-op sync (-X importtime, all modules) | {sync_imports_s:.3f} | |")
    print(f"| no-op sync of one library (`--only {TARGET} --json`) | {noop_wall:.3f} "
          f"| {noop_cpu:.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
