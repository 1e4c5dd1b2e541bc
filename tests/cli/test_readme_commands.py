"""The README's demo command, run exactly as written in a clean copy of the project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_command(marker: str) -> str:
    """The command in the fenced block right after `<!-- marker -->` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.+?)\n```", text, re.S)
    assert found, f"README.md has no command after <!-- {marker} -->"
    return found.group(1).strip()


def test_ci_runs_the_readme_test_command() -> None:
    command = readme_command("test-command")
    assert "nox" in command and "tests" in command
    assert "test-command" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the project")
def test_readme_demo_command_works_in_a_fresh_copy(tmp_path: Path) -> None:
    command = readme_command("demo-command")
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    copy = tmp_path / "ms365sync"
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    done = subprocess.run(
        ["bash", "-c", command], cwd=copy, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Second sync" in done.stdout
    logs = list((copy / "ms365sync-demo" / "mirror").glob("*/*/sync_logs/*.json"))
    assert len(logs) >= 7  # six first-round logs plus the libraries the scenario changed
    # The installed package carries its data: the example `init --example` writes.
    example = tmp_path / "example.toml"
    installed = subprocess.run(
        [str(copy / ".venv" / "bin" / "ms365sync"), "init", "--example", "-o", str(example)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the installed copy
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert example.read_bytes() == (ROOT / "sites.example.toml").read_bytes()
