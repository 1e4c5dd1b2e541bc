"""The principals benchmark's harness, smoke-sized: it measures what it says (every group
and site group read, requests and resource units counted by kind), never how fast."""

from __future__ import annotations

from pathlib import Path

from benchmarks.principals_bench import measure


def test_the_quick_principals_benchmark_reads_everything_and_counts_it(tmp_path: Path) -> None:
    result = measure(20, 200, tmp_path)
    assert result["groups"] == 20 and result["site_groups"] == 6 and result["unexpanded"] == 0
    requests = result["requests"]
    assert isinstance(requests, dict)
    assert requests["graph sites"] == 2  # one lookup per site
    assert requests["sharepoint rest"] == 6  # one per site group
    units = result["resource_units"]
    assert isinstance(units, dict) and result["total_resource_units"] == sum(units.values())
