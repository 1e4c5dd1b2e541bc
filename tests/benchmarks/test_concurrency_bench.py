"""The concurrency benchmark's harness, smoke-sized: both modes leave correct mirrors and
report how many downloads they had in flight; never how fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.concurrency_bench import main

pytestmark = pytest.mark.slow


def test_fixed_and_auto_rows_are_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--quick", "--latencies", "5", "--only", "S1", "--workdir", str(tmp_path)])
    table = capsys.readouterr().out
    assert code == 0
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| S1 initial")]
    assert [row[1] for row in rows] == ["8", "auto"]
    assert all(row[-1].rstrip(" |") == "yes" for row in rows)
    fixed_peak, auto_peak = int(rows[0][3]), int(rows[1][3])
    assert fixed_peak == 8  # 300 files keep 8 places busy
    assert 8 <= auto_peak <= 32  # "auto" starts at 8 and stays within max_connections
