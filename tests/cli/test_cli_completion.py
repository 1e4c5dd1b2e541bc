"""Shell completion, as README.md documents it: click's `_MS365SYNC_COMPLETE` variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli


@pytest.mark.parametrize(
    ("shell", "words"),
    [
        ("bash", ("_ms365sync_completion()", "complete -o nosort -F _ms365sync_completion")),
        ("zsh", ("#compdef ms365sync", "_MS365SYNC_COMPLETE=zsh_complete")),
        ("fish", ("function _ms365sync_completion", "_MS365SYNC_COMPLETE=fish_complete")),
    ],
)
def test_the_completion_script_is_produced(shell: str, words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(
        cli, [], prog_name="ms365sync", env={"_MS365SYNC_COMPLETE": f"{shell}_source"}
    )
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.stdout


def test_the_installed_command_completes_commands_and_options() -> None:
    """Through the console script's entry point: subcommands (lazy ones too) and options."""

    def complete(line: str) -> list[str]:
        env = {"_MS365SYNC_COMPLETE": "bash_complete", "COMP_WORDS": line,
               "COMP_CWORD": str(len(line.split()) - 1)}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", "from ms365sync.cli import main; main()"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return done.stdout.split()

    assert complete("ms365sync em") == ["plain,emulator"]
    assert "plain,init" in complete("ms365sync i")
    assert "plain,--example" in complete("ms365sync init --ex")
