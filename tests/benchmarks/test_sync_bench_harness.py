"""The sync benchmark harness runs end to end (a smoke run; never a timing assertion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_s2_run_measures_every_request_and_checks_the_mirror(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.sync_bench",
            "--quick",
            "--scenario",
            "S2",
            "--skip-baseline",
            "--latency-ms",
            "5",
            "--output-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "sync.json").read_text(encoding="utf-8"))
    runs = {run["scenario"]: run for run in results["runs"]}
    assert set(runs) == {"S1 initial", "S2 no-op, sweep not due", "S2 no-op, sweep due"}
    initial = runs["S1 initial"]
    assert initial["ok"], initial["detail"]
    assert initial["files"] == 300
    # Every file came straight from the pre-authenticated URL delta listed with it.
    assert initial["traffic"]["endpoints"].get("content", 0) == 0
    assert initial["traffic"]["endpoints"]["download"] == 300
    # Charged 1 RU per download (graph-facts §9.2) plus listing and permissions; no /content
    # request (1 RU each) was needed, so the rest stays under 1 RU per file.
    assert 0 < initial["resource_units"] - 300 < 300
    assert initial["peak_rss_mb"] > 0
    swept = runs["S2 no-op, sweep due"]
    assert swept["traffic"]["endpoints"]["$batch"] >= 300 // 20
    assert {check["scenario"] for check in results["checks"]} == {"S1", "S2"}
    assert "| scenario | target | measured | met |" in (tmp_path / "sync.md").read_text("utf-8")
