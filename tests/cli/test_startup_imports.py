"""What a command imports: a sync loads only what it uses (issue 19, point 2).

Each command runs as its own process with output that is not a terminal, and the test reads
which modules it had loaded when it ended: no emulator, no 0.3.x layer, no JSON Schema
generation, no rich, no subcommand's module, no `$batch` code for a sync with nothing to do,
no cryptography for a client secret. Module sets, never timings (benchmarks/startup_bench.py
measures those).
"""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.console import Console

from ms365sync.cli.plain import PlainConsole, console_for
from support.cli import served

# Runs the command line, then writes the names of the loaded modules to $MODULES_OUT.
RUN = """
import json, os, sys
from ms365sync.cli import main
try:
    main(sys.argv[1:])
finally:
    with open(os.environ["MODULES_OUT"], "w", encoding="utf-8") as out:
        json.dump(sorted(sys.modules), out)
"""

NEVER_IN_A_SYNC = (
    "ms365sync.emulator",
    "ms365sync.compat",
    "ms365sync.outputs.schemas",  # the JSON Schemas' generation (`ms365sync schema`)
    "ms365sync.cli.commands",
    "ms365sync.cli.schema",
    "ms365sync.cli.demo",
    "ms365sync.principals",  # only with [principals] expand
    "rich",
    "cheroot",
    "trustme",
    "cryptography",  # certificate credentials only
)


def _loaded(prefixes: Sequence[str], modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def _run(args: Sequence[str], tmp: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`ms365sync ARGS` as its own process, stdout and stderr pipes (not terminals)."""
    out = tmp / "modules.json"
    env = {**os.environ, "MODULES_OUT": str(out)}
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):  # they would make a pipe a terminal
        env.pop(name, None)
    command = [sys.executable, "-c", RUN, *args]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=120
    )
    return done, set(json.loads(out.read_text(encoding="utf-8")))


def test_a_json_sync_loads_only_what_it_uses(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        sync = ["--config", str(world.config), "--only", "hr/Policies", "--json"]
        first, first_modules = _run(sync, tmp_path)
        assert first.returncode == 0, first.stderr
        again, modules = _run(sync, tmp_path)
    assert again.returncode == 0, again.stderr
    (target,) = json.loads(again.stdout)["targets"]
    assert target["ok"] and target["downloaded_files"] == 0  # nothing to do: a no-op sync
    assert {"ms365sync.coordinator", "ms365sync.sync.syncer", "msal"} <= modules  # it ran
    assert _loaded(NEVER_IN_A_SYNC, first_modules) == set()
    assert _loaded([*NEVER_IN_A_SYNC, "ms365sync.graph.batch"], modules) == set()


def test_a_sync_printing_to_a_pipe_loads_no_rich(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        done, modules = _run(["--config", str(world.config), "--only", "hr/Policies"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("hr/Policies: ok added=")  # the summary, as plain lines
    assert "ms365sync.coordinator" in modules
    assert _loaded(NEVER_IN_A_SYNC, modules) == set()


def test_a_terminal_on_stderr_still_gets_richs_table_on_redirected_stdout(tmp_path: Path) -> None:
    """`ms365sync > out.txt` in a terminal: progress bars on stderr, the summary table in
    the file, as before rich was made lazy."""
    leader, follower = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:  # the terminal's reader: a full pty would block the writer
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TTY_COMPATIBLE"}}
    try:
        with served(tmp_path) as world:
            args = ["--config", str(world.config), "--only", "hr/Policies"]
            done = subprocess.run(
                [sys.executable, "-m", "ms365sync", *args],
                check=False, stdout=subprocess.PIPE, stderr=follower, env=env, timeout=120,
            )  # fmt: skip
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert done.returncode == 0, b"".join(seen)
    table = done.stdout.decode()
    assert "ms365sync run" in table and "hr/Policies" in table and "┃" in table


@pytest.mark.parametrize("args", [["--version"], ["--json", "--verbose", "--quiet"]])
def test_version_and_usage_errors_load_no_sync(tmp_path: Path, args: list[str]) -> None:
    """`--version` and a usage error answer before any of a run's machinery loads."""
    done, modules = _run(args, tmp_path)
    assert done.returncode == (0 if args == ["--version"] else 2), done.stderr
    heavy = ["ms365sync.coordinator", "ms365sync.config", "ms365sync.sync", "ms365sync.graph"]
    assert _loaded([*NEVER_IN_A_SYNC, *heavy, "pydantic", "requests", "msal"], modules) == set()


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    done, _ = _run(["--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split("Commands:")[1].split()
    for command in ("check", "demo", "emulator", "init", "schema", "status", "watch"):
        assert command in listed


LINES = [
    "hr/Policies: ok added=1 modified=0 deleted=0 log=/srv/mirror/sync_changes.json",
    "[bold]bold[/] and [link=https://example.com]a link[/link]",
    r"an escaped \[bold] tag, and \\[bold]a backslash before a tag",
    "not tags: path/[1]/file, [Draft] in caps, a [ lone bracket",
    "a[b]c drops the tag",
    "tab\tand\tcarriage\rreturn, bell\x07",
    "two\nlines",
    "trailing spaces   ",
    "café, ☃, 日本語",
    "",
]


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize("markup", [True, False])
@pytest.mark.parametrize("soft_wrap", [True, False])
def test_plain_lines_are_what_rich_writes_to_a_pipe(
    line: str, markup: bool, soft_wrap: bool
) -> None:
    rich_out, plain_out = io.StringIO(), io.StringIO()
    console = Console(file=rich_out, highlight=False)
    assert not console.is_terminal
    console.width = 100_000
    console.print(line, highlight=False, markup=markup, soft_wrap=soft_wrap)
    PlainConsole(plain_out).print(line, highlight=False, markup=markup, soft_wrap=soft_wrap)
    assert plain_out.getvalue() == rich_out.getvalue()


def test_a_terminal_gets_richs_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert isinstance(console_for(io.StringIO()), PlainConsole)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats the stream as a terminal then
    assert isinstance(console_for(io.StringIO()), Console)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # and not with this, whatever FORCE_COLOR says
    assert isinstance(console_for(io.StringIO()), PlainConsole)
