"""The sweep benchmark's harness, smoke-sized: a structure sweep is measured cheaper than a
full one, and every kind of permission change is reported by the run expected to report it,
with the emulator's labels; never how fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.sweep_bench import measure
from benchmarks.sweep_detection import CHANGES, MISSED, NOTHING

# What delta shows nothing of (realistic gaps): only a sweep finds it.
ONLY_A_SWEEP = {"recipient added to that link", "sharing link removed"}


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return measure(300, Path(tmp_path_factory.mktemp("sweep")))


def test_a_structure_sweep_is_measured_cheaper_than_a_full_one(result: dict[str, Any]) -> None:
    structure, full = result["structure"], result["full"]
    assert 0 < structure["total_resource_units"] < full["total_resource_units"]
    assert structure["permission_reads_in_batches"] < full["permission_reads_in_batches"]
    # The full sweep reads every file (and the folders files may inherit from).
    assert full["permission_reads_in_batches"] >= result["files"]
    assert full["total_resource_units"] == sum(full["resource_units"].values())
    assert structure["requests"]["delta"] > full["requests"]["delta"]  # its own enumeration
    assert structure["estimate_note"].startswith("structure permission sweep:")
    assert full["estimate_note"].startswith("full permission sweep:")
    assert result["checks"]["nothing reported by either sweep"]


def test_every_change_is_reported_by_the_expected_run(result: dict[str, Any]) -> None:
    rows = {row["kind"]: row for row in result["detection"]}
    assert list(rows) == [change.kind for change in CHANGES]
    for kind, row in rows.items():
        if kind in ONLY_A_SWEEP:
            expected = {"structure": "structure sweep", "full": "full sweep"}
        elif row["affected_files"] == 0:
            expected = {"structure": NOTHING, "full": NOTHING}
        else:
            expected = {"structure": "incremental run", "full": "incremental run"}
        for twin, run in expected.items():
            assert row[twin]["reported_by"] == run, (kind, twin)
            assert row[twin]["correct"], (kind, twin, row[twin])
            assert row[twin]["reported_by"] != MISSED
        assert row["same_detection"]
    assert rows["inheritance broken with copy (folder)"]["affected_files"] == 0
    assert all(row["affected_files"] > 0 for kind, row in rows.items() if "copy (" not in kind)
    assert all(result["checks"].values()), result["checks"]
