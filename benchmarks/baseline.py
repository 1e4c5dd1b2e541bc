"""The baseline: ms365sync 0.3.4 from PyPI in its own virtual environment, run through a shim.

`ensure_venv()` creates `benchmarks/.baseline-venv/` (git-ignored) with `python -m venv` and
installs `ms365sync==0.3.4` from PyPI when it is missing; `run_baseline()` runs
`baseline_shim.py` with that interpreter (`-I`: nothing from this repository is importable)
against a World's tenant, one library, as a separate process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.bench_world import ChildRun, World, run_child

BASELINE_VERSION = "0.3.4"
VENV = Path(__file__).resolve().parent / ".baseline-venv"
SHIM = Path(__file__).resolve().parent / "baseline_shim.py"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """The baseline interpreter, creating the environment first when it is missing.

    Raises:
        subprocess.CalledProcessError: venv creation or the install failed.
    """
    python = venv_python()
    if python.exists() and _installed(python) == BASELINE_VERSION:
        return python
    print(f"creating {VENV} with ms365sync=={BASELINE_VERSION} from PyPI", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"ms365sync=={BASELINE_VERSION}"],
        check=True,
    )
    return python


def _installed(python: Path) -> str | None:
    done = subprocess.run(
        [str(python), "-I", "-c", "import importlib.metadata as m; print(m.version('ms365sync'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def run_baseline(world: World, site: str, library: str, local_root: Path, name: str) -> ChildRun:
    """Sync one library with 0.3.4 into `local_root` (its `data/` and `.permissions.json`).

    `site` is the site's URL leaf (0.3.4 requests `/sites/{host}:/sites/{SITE_NAME}`) and
    `library` the drive's title (it matches `drive["name"]`).
    """
    creds = world.emulator.credentials
    host = next(iter(world.tenant.sites.values())).hostname
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",  # 0.3.4 compares local mtimes rendered in local time with UTC stamps
        "REQUESTS_CA_BUNDLE": str(world.ca_path),
        "EMULATOR_URL": world.base_url,
        "TENANT_ID": creds.tenant_id,
        "CLIENT_ID": creds.client_id,
        "CLIENT_SECRET": creds.client_secret,
        "SHAREPOINT_HOST": host,
        "SITE_NAME": site,
        "DOC_LIBRARY": library,
        "LOCAL_ROOT": str(local_root),
    }
    argv = [str(venv_python()), "-I", str(SHIM)]
    return run_child(
        argv, cwd=local_root.parent, env=env, log_dir=world.workdir / "logs", name=name
    )


def baseline_summary(run: ChildRun) -> dict[str, Any] | None:
    """The shim's JSON summary line (the last line of its output), if it got that far."""
    for line in reversed(run.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None
