"""The sync benchmark harness runs end to end (a smoke run; never a timing assertion)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RCLONE = shutil.which("rclone")
VARIANTS = ("default flags", "--transfers 8 --checkers 16")


def _bench(output: Path, *args: str, path: str | None = None) -> dict[str, Any]:
    """Run the sync benchmark with `args`, smoke-sized at 5 ms; its JSON results."""
    env = {**os.environ, "PATH": path} if path is not None else None
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.sync_bench", "--quick", "--latency-ms", "5",
         "--output-dir", str(output), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results: dict[str, Any] = json.loads((output / "sync.json").read_text(encoding="utf-8"))
    return results


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
            "--skip-rclone",
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


@pytest.mark.slow
@pytest.mark.skipif(RCLONE is None, reason="rclone is not on PATH (`apt install rclone`)")
def test_rclone_rows_sync_the_same_tenant_through_the_proxy(tmp_path: Path) -> None:
    results = _bench(tmp_path, "--scenario", "S1", "--skip-baseline")
    assert results["machine"]["rclone"]
    rclone = [run for run in results["runs"] if run["tool"].startswith("rclone ")]
    assert sorted((run["scenario"], run["tool"].split(", ", 1)[1]) for run in rclone) == sorted(
        (f"{step} (rclone)", variant)
        for step in ("S1 initial", "S2 no-op", "S3 incremental")
        for variant in VARIANTS
    )
    for run in rclone:
        assert run["ok"], (run["scenario"], run["detail"])
        assert run["files"] == 150 and run["peak_rss_mb"] > 0 and run["cpu_s"] > 0
        # It signed in once (a refresh), and only reached the names the proxy carries.
        assert run["traffic"]["endpoints"]["login token"] == 1
    initial = [run for run in rclone if run["scenario"] == "S1 initial (rclone)"]
    for run in initial:  # every file fetched once: `/content`, then its download URL
        assert run["traffic"]["endpoints"]["content"] == 150
        assert run["traffic"]["endpoints"]["download"] == 150
        assert run["requests"] == run["traffic"]["graph_requests"] + 150
    ours = {run["scenario"]: run for run in results["runs"] if "vs_rclone" in run}
    assert set(ours) >= {"S1 initial vs 0.3.4", "S2 no-op vs 0.3.4", "S3 incremental vs 0.3.4"}
    for run in ours.values():
        assert set(run["vs_rclone"]) == set(VARIANTS)
        assert all(ratio is not None for ratio in run["vs_rclone"].values())


@pytest.mark.slow
def test_without_rclone_its_rows_say_they_were_skipped(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    results = _bench(tmp_path, "--scenario", "S1", "--skip-baseline", path=str(empty))
    assert results["machine"]["rclone"] is None
    skipped = [run for run in results["runs"] if run["tool"].startswith("rclone")]
    assert len(skipped) == 3 * len(VARIANTS)
    assert all(run["skipped"].startswith("rclone not found on PATH") for run in skipped)
    assert any(note.startswith("rclone not found on PATH") for note in results["notes"])
    ours = [run for run in results["runs"] if run["tool"] == "ms365sync (this tree)"]
    assert ours and all(run["ok"] for run in ours)  # everything else ran
    markdown = (tmp_path / "sync.md").read_text("utf-8")
    assert "| skipped: rclone not found on PATH" in markdown
