"""What the command line prints in each mode: -q nothing on success, --json exactly one
document (also for usage, configuration and sign-in errors), the global options after a
subcommand's name, the log file's lines (level, zone, target, run lines; JSON lines with
--log-format json), full values when not a terminal, progress totals and watch's times."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from ms365sync.cli import cli
from ms365sync.cli.commands import _watch_loop
from ms365sync.cli.main import Options
from ms365sync.cli.output import RunDisplay
from ms365sync.sync.syncer import Syncer
from support.cli import OneCycle, Served, served
from support.harness import World

MARKETING = "marketing/Shared Documents"
TEXT_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}) (DEBUG|INFO|WARNING|ERROR)\s+(.*)$"
)


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _wrong_secret(world: Served) -> None:
    secret = world.emulator.credentials.client_secret
    world.config.write_text(world.config.read_text().replace(secret, "wrong-secret-value"))


def test_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        result = _invoke("--config", str(world.config), "-q", "--only", "hr")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""


def test_quiet_prints_only_the_failure(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        text = world.config.read_text().replace('name = "Policies"', 'name = "Gone"', 1)
        world.config.write_text(text)
        result = _invoke("--config", str(world.config), "-q", "--only", "hr")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("hr/Gone") for line in lines)
    assert "hr/Shared Documents" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", [(), ("check",), ("status",)], ids=["sync", "check", "status"])
def test_json_gets_one_document_for_a_wrong_secret(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    with served(tmp_path) as world:
        _wrong_secret(world)
        result = _invoke("--config", str(world.config), *command, "--json")
    if command == ("status",):  # status reads the state only: no sign-in
        assert result.exit_code == 0 and "targets" in json.loads(result.stdout)
        return
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == 3
    assert "AADSTS7000215" in document["error"]
    assert "wrong-secret-value" not in result.stdout + result.stderr


def test_json_gets_one_document_for_a_bad_configuration(tmp_path: Path) -> None:
    result = _invoke("--config", str(tmp_path / "none.toml"), "status", "--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2 and "none.toml" in document["error"]


@pytest.mark.parametrize(
    "args",
    [("--json", "--bogus"), ("status", "--json", "--bogus"), ("--json", "--max-lines", "x")],
    ids=["group", "subcommand", "bad-value"],
)
def test_json_gets_one_document_for_a_usage_error(args: tuple[str, ...]) -> None:
    result = _invoke(*args)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document == {
        "ok": False,
        "exit_code": 2,
        "dry_run": False,
        "error": document["error"],
        "problems": [document["error"]],
        "hint": None,
        "targets": [],
    }
    assert "--bogus" in document["error"] or "x" in document["error"]


def test_global_options_after_the_subcommand(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        status = _invoke("status", "--config", str(world.config), "--json", "--only", "hr")
        assert status.exit_code == 0, status.output
        assert [row["target"] for row in json.loads(status.stdout)["targets"]] == [
            "hr/Policies",
            "hr/Shared Documents",
        ]
        check = _invoke("check", "--config", str(world.config), "-v", "--only", "hr")
        assert check.exit_code == 0, check.output
        assert " DEBUG " in check.stderr and "GET https://" in check.stderr
        checked = _invoke("check", "--config", str(world.config), "--json", "--only", "hr")
        assert json.loads(checked.stdout)["ok"] is True
        both = _invoke("status", "--config", str(world.config), "-v", "-q")
        assert both.exit_code == 2


def test_log_file_lines_have_level_zone_target_and_run_lines(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with served(tmp_path) as world:
        secret = world.emulator.credentials.client_secret
        result = _invoke("--config", str(world.config), "--only", "hr", "--log-file", str(log))
        assert result.exit_code == 0, result.output
    text = log.read_text(encoding="utf-8")
    assert secret not in text
    signed = [line for line in text.splitlines() if "tempauth=" in line]
    assert signed and all("tempauth=<redacted>" in line for line in signed)
    lines = [TEXT_LINE.match(line) for line in text.splitlines() if line]
    assert all(lines), text
    levels = {m.group(2) for m in lines if m}
    assert {"DEBUG", "INFO"} <= levels
    for match in lines:
        assert match is not None
        assert datetime.datetime.fromisoformat(match.group(1)).tzinfo is not None
    messages = [m.group(3) for m in lines if m]
    assert messages[0].startswith("run start: ms365sync ") and str(world.config) in messages[0]
    assert "hr/Policies" in messages[0]
    assert messages[-1].startswith("run end: exit code 0, 2 targets ok")
    for name in ("hr/Policies", "hr/Shared Documents"):
        ends = [m for m in messages if m.startswith(f"[{name}] target end: ok; added ")]
        assert len(ends) == 1 and ends[0].endswith("s")
        assert sum(m.startswith(f"[{name}] ") for m in messages) > 2  # its requests too


def test_log_format_json_writes_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with served(tmp_path) as world:
        secret = world.emulator.credentials.client_secret
        result = _invoke(
            "--config", str(world.config), "--only", "hr/Policies", "-v",
            "--log-file", str(log), "--log-format", "json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        # Without -v the run's start and end lines stay out of stderr (the summary says it).
        plain = _invoke("--config", str(world.config), "--only", "hr/Policies")
        assert "run start" not in plain.stderr and "target end" not in plain.stderr
    text = log.read_text(encoding="utf-8")
    assert secret not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"].startswith("run start: ")
    assert {r["level"] for r in records} >= {"DEBUG", "INFO"}
    assert all(datetime.datetime.fromisoformat(r["time"]).tzinfo for r in records)
    end = next(r for r in records if r["message"].startswith("target end: "))
    assert end["target"] == "hr/Policies"
    stderr_records = [json.loads(line) for line in result.stderr.splitlines()]
    assert stderr_records and all("level" in r for r in stderr_records)


def test_status_prints_full_values_when_not_a_terminal(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        assert _invoke("--config", str(world.config), "--only", MARKETING).exit_code == 0
        result = _invoke("status", "--config", str(world.config))
        checked = _invoke("check", "--config", str(world.config), "--only", MARKETING)
    assert result.exit_code == 0, result.output
    assert f"target: {MARKETING}\n" in result.stdout
    assert "files: 18\n" in result.stdout and "┃" not in result.stdout
    drive_ids = re.findall(r"b![A-Za-z0-9_-]{20,}", checked.stdout)
    assert drive_ids  # a drive id whole, not folded over several lines


def test_progress_counts_files_and_bytes_of_the_known_total(world: World) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    display = RunDisplay(console, True)
    progress = display.track(world.spec().name)
    with display.running(), world.client() as client:
        result = Syncer(world.spec(), client, progress=progress).sync()
    assert result.ok, result.error
    (task,) = display._progress.tasks
    files = world.remote_files()
    assert task.fields["total_files"] == task.fields["files"] == len(files)
    assert task.total == task.completed == sum(len(data) for data in files.values())


def test_a_failed_target_clears_its_bar(world: World) -> None:
    display = RunDisplay(Console(file=io.StringIO(), force_terminal=True), True)
    progress = display.track("t")
    assert progress.on_finish is not None
    progress.on_finish(False)
    assert display._progress.tasks == []


def test_watch_prints_each_cycle_and_the_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with served(tmp_path) as world:
        options = Options(world.config, ("hr/Policies",), False, False, False, False, False, None)
        code = _watch_loop(options, 900.0, OneCycle())
    assert code == 0
    err = capsys.readouterr().err
    started = re.search(r"cycle started at (\S+ \S+)", err)
    upcoming = re.search(r"next at (\S+ \S+)", err)
    assert started and upcoming
    first = datetime.datetime.fromisoformat(started.group(1))
    then = datetime.datetime.fromisoformat(upcoming.group(1))
    assert 800 < (then - first).total_seconds() <= 900


def test_a_refused_sign_in_ends_the_log_file_once_on_stderr(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with served(tmp_path) as world:
        _wrong_secret(world)
        result = _invoke("--config", str(world.config), "--log-file", str(log))
    assert result.exit_code == 3
    assert result.stderr.count("AADSTS7000215: Invalid client secret") == 1
    last = log.read_text(encoding="utf-8").splitlines()[-1]
    assert " ERROR " in last and "run end: exit code 3: authentication failed" in last
    assert "wrong-secret-value" not in log.read_text(encoding="utf-8")


def test_init_with_json_prints_one_document(tmp_path: Path) -> None:
    target = tmp_path / "sites.toml"
    result = _invoke("--json", "init", "--example", "-o", str(target))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["written"] == str(target)
    assert document["example"] is True and target.is_file()
    refused = _invoke("--json", "init", "--example", "--discover", "-o", str(tmp_path / "x"))
    assert refused.exit_code == 2
    assert "not both" in json.loads(refused.stdout)["error"]


@pytest.mark.parametrize("args", [("--bogus",), ("status", "--bogus")], ids=["group", "command"])
def test_a_usage_error_prints_as_every_other_error(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, list(args), prog_name="ms365sync")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: ms365sync")
    assert lines[1] == "ms365sync: error: No such option '--bogus'. Did you mean '--verbose'?"
    assert lines[2].startswith("ms365sync: hint: see 'ms365sync") and len(lines) == 3
