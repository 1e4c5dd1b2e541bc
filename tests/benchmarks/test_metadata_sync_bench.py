"""The metadata sync benchmark's harness, smoke-sized: every configuration's three runs leave
correct mirrors (and sidecars, and change logs), the list's delta is read only when metadata
is; never how fast. Its change-log check is also shown to catch a wrong list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_world import Traffic
from benchmarks.metadata_sync_bench import EDITED, INITIAL, NO_OP, _check_metadata_only, measure_all
from benchmarks.sync_runs import OURS, Measured


@pytest.mark.slow
def test_every_configuration_is_measured_and_correct(tmp_path: Path) -> None:
    rows = measure_all(300, 0.0, tmp_path)
    by = {(str(row.extra["metadata"]), row.scenario): row for row in rows}
    runs = [f"S1 {run}" for run in (INITIAL, NO_OP, EDITED)]
    assert list(by) == [(label, run) for label in ("none", "4 columns", '"all"') for run in runs]
    assert all(row.ok for row in rows), [row.detail for row in rows if not row.ok]
    for label in ("4 columns", '"all"'):
        assert by[label, f"S1 {INITIAL}"].extra["metadata_entries"] == 300
        assert by[label, f"S1 {EDITED}"].extra["metadata_only_changes"] == 50
        for run in runs:
            assert by[label, run].traffic.endpoints["list_delta"] >= 1
            assert by[label, run].requests > by["none", run].requests
    assert all(by["none", run].traffic.endpoints["list_delta"] == 0 for run in runs)


def test_the_change_log_check_fails_on_a_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "sync_changes.json"
    log.write_text(json.dumps({"metadata_only_changes": {"a.txt": {}}}), encoding="utf-8")
    stdout = tmp_path / "run.stdout"
    stdout.write_text(json.dumps({"targets": [{"change_log": str(log)}]}), encoding="utf-8")

    def checked(edited: set[str]) -> Measured:
        row = Measured("S1", OURS, 2, 0.0, 0.0, 0.0, Traffic(), ok=True)
        _check_metadata_only(row, stdout, edited)
        return row

    assert checked({"a.txt"}).ok
    wrong = checked({"a.txt", "b.txt"})
    assert not wrong.ok and "1 edited files missing" in wrong.detail
