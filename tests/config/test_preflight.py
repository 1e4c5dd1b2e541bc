"""What `check` verifies on this machine: local roots writable or creatable, hooks found."""

from __future__ import annotations

import sys
from pathlib import Path

from ms365sync.config import Target
from ms365sync.config.preflight import local_problems
from ms365sync.target import SiteRef, TargetSpec


def _target(root: Path, on_change: str | None = None) -> Target:
    spec = TargetSpec(
        name="s/l", site=SiteRef(host="h", path="/sites/s"), library="l", local_root=root
    )
    return Target("s/l", "s", "l", spec, on_change)


def test_an_existing_or_creatable_root_and_a_found_program_pass(tmp_path: Path) -> None:
    assert local_problems(_target(tmp_path)) == []
    assert local_problems(_target(tmp_path / "not" / "yet" / "there", sys.executable)) == []
    assert local_problems(_target(tmp_path, "python3 -c pass")) == []


def test_a_file_in_the_way_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert local_problems(_target(tmp_path / "file")) == [
        f"local root {tmp_path / 'file'} is not a folder"
    ]
    (problem,) = local_problems(_target(tmp_path / "file" / "below"))
    assert problem.endswith(f"cannot be created: {tmp_path / 'file'} is not a folder")


def test_a_hook_that_names_no_program_or_a_missing_one(tmp_path: Path) -> None:
    assert local_problems(_target(tmp_path, "  ")) == ["on_change '  ' names no program"]
    (missing,) = local_problems(_target(tmp_path, f"{tmp_path}/reindex --all"))
    assert missing == f"on_change program {tmp_path}/reindex is not an executable file"
