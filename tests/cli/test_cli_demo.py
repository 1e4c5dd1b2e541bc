"""`ms365sync demo`: the mirror's tree says what it leaves out, and one file's permissions
are shown as both permission files give them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.cli.demo import FILES_SHOWN

LABEL = re.compile(r"^\S+ (\S+/[^\n(]+) \((\d+) files?\)$", re.M)


def _branches(tree: str) -> dict[str, tuple[int, list[str]]]:
    """Each library's label in the tree: its file count and the lines listed under it."""
    labels = list(LABEL.finditer(tree))
    branches = {}
    for i, label in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(tree)
        lines = tree[label.end() : end].strip().splitlines()
        branches[label[1]] = (int(label[2]), lines)
    return branches


def test_demo_tree_counts_every_library_and_shows_one_files_permissions(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(demo)], terminal_width=200)
    assert result.exit_code == 0, result.output
    output = result.stdout
    tree = output[output.index(str(demo / "mirror")) : output.index("Files not mirrored")]
    branches = _branches(tree)
    assert len(branches) == 6
    for name, (count, lines) in branches.items():
        left_out = count - FILES_SHOWN
        assert len(lines) == min(count, FILES_SHOWN) + (left_out > 0), name
        if left_out > 0:
            assert lines[-1].endswith(f"... and {left_out} more file{'s' * (left_out != 1)}")
    assert sum(count > FILES_SHOWN for count, _ in branches.values()) >= 2
    # One of each troublesome item a download mirror meets, each said as the log says it.
    listed = output[output.index("Files not mirrored") : output.index("2. Remote changes")]
    for said in (
        "Employee Handbook (protected).docx: added, verification mismatch-accepted",
        "company-holidays-2025.csv: added, verification size-only",
        "HR Notebook/Policy questions.one: skipped (package)",
        "expense-macro.xlsm: skipped (malware)",
    ):
        assert said in listed, listed

    section = output[output.index("4. Permissions") :]
    path, target = re.match(r"4\. Permissions of (.+) \((.+)\),", section).groups()  # type: ignore[union-attr]
    root = demo / "mirror" / target
    labels = json.loads((root / ".permissions.json").read_text(encoding="utf-8"))[path]
    grants = json.loads((root / ".permissions.grants.json").read_text(encoding="utf-8"))
    entry = grants["files"][path]
    assert labels and entry["grants"]
    for label in labels:
        assert json.dumps(label) in section
    for grant in entry["grants"]:
        assert json.dumps(grant["id"]) in section
    assert json.dumps(entry["item_id"]) in section


def test_demo_with_json_prints_one_document_for_both_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--json", "demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # one document: json.loads refuses two
    assert document["ok"] is True and document["exit_code"] == 0
    first, second = document["runs"]
    assert len(first["targets"]) == len(second["targets"]) == 6
    assert "1. First sync" in result.stderr  # the story goes to stderr


def test_demo_quiet_prints_nothing_when_it_succeeds(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["-q", "demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
