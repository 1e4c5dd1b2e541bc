"""The metadata cost benchmark's harness, smoke-sized: both ways read every file's row and
the changed ones, and the list's delta needs fewer requests; never how fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.metadata_cost import measure

pytestmark = pytest.mark.slow


def test_both_ways_are_measured(tmp_path: Path) -> None:
    costs = {(c.way, c.run): c for c in measure(300, 0.0, tmp_path)}
    first_list, first_reads = costs["list delta", "first run"], costs["per-file reads", "first run"]
    assert first_reads.rows == 300 and first_list.rows >= 300  # the folders are rows too
    assert first_list.requests < first_reads.requests and first_list.ru < first_reads.ru
    after_list = costs["list delta", "after 50 changes"]
    after_reads = costs["per-file reads", "after 50 changes"]
    assert after_list.rows == 50 and after_reads.rows == 40  # deletions have no row to read
