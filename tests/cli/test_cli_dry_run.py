"""A dry run through the command line lists the paths it would change, per kind and capped by
--max-lines (--json: every path), and goes past the max-delete guard saying why the real
run would be refused; the real run's refusal names the setting and hints --force in every
output mode."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from ms365sync.cli import cli
from ms365sync.emulator import apply_scenario, demo_scenario_path, load_scenario
from support.cli import Served, served
from support.reliability import library_named

MARKETING = "marketing/Shared Documents"


def _run(world: Served, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(world.config), "--only", MARKETING, *args])


def _limit_deletions(world: Served, count: int) -> None:
    text = world.config.read_text().replace(
        'data_root = "mirror"', f'data_root = "mirror"\nmax_delete = {count}'
    )
    world.config.write_text(text)


def _delete_three(world: Served) -> list[str]:
    """Delete the first three files of MARKETING remotely; their paths."""
    tenant = world.emulator.tenant
    library = library_named(tenant, world.root / "mirror", MARKETING)
    gone = sorted(item.path for item in library.drive.files())[:3]
    for path in gone:
        tenant.delete(library.drive, path)
    return gone


def _section(stdout: str, kind: str) -> list[str]:
    """The indented lines under `kind (N):` in the listing."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {kind} ("))
    found: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        found.append(line.strip())
    return found


def test_dry_run_lists_each_action_with_its_path(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        assert _run(world).exit_code == 0
        apply_scenario(world.emulator.tenant, load_scenario(demo_scenario_path()))
        result = _run(world, "--dry-run")
        assert result.exit_code == 0, result.output
        assert f"{MARKETING}: (dry run) would:" in result.stdout
        assert _section(result.stdout, "add") == [
            "Meeting Notes/2025-02-11 weekly sync.md",
            "Reports/Q1 2025 plan.docx",
        ]
        assert _section(result.stdout, "modify") == ["Campaigns/2025 Spring Launch/brief.md"]
        assert _section(result.stdout, "delete") == ["Meeting Notes/2025-01-14 weekly sync.md"]
        assert (
            "Market Research/survey-results-2024.csv -> Reports/survey-results-2024.csv"
            in _section(result.stdout, "move")
        )
        assert len(_section(result.stdout, "permission-only")) == 2
        document = json.loads(_run(world, "--dry-run", "--json").stdout)
        (target,) = document["targets"]
        assert target["changes"]["delete"] == ["Meeting Notes/2025-01-14 weekly sync.md"]
        assert len(target["changes"]["add"]) == 2 and target["would_be_refused"] is None


def test_max_lines_caps_each_kind_and_json_keeps_every_path(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        result = _run(world, "--dry-run", "--max-lines", "3")
        assert result.exit_code == 0, result.output
        shown = _section(result.stdout, "add")
        assert len(shown) == 4 and shown[-1] == "... and 15 more"
        assert "add (18):" in result.stdout
        everything = _run(world, "--dry-run", "--max-lines", "0")
        assert len(_section(everything.stdout, "add")) == 18
        (target,) = json.loads(_run(world, "--dry-run", "--json", "--max-lines", "3").stdout)[
            "targets"
        ]
        assert len(target["changes"]["add"]) == 18
        assert not (tmp_path / "mirror").exists()


def test_dry_run_goes_past_the_guard_and_explains_the_refusal(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        _limit_deletions(world, 2)
        assert _run(world).exit_code == 0
        gone = _delete_three(world)
        result = _run(world, "--dry-run")
        assert result.exit_code == 0, result.output
        assert _section(result.stdout, "delete") == gone
        assert "a real run would be refused" in result.stdout
        assert "refusing to delete 3 of 18 local files (17%)" in result.stdout
        assert "max_delete = 2" in result.stdout and "--force" in result.stdout
        (target,) = json.loads(_run(world, "--dry-run", "--json").stdout)["targets"]
        assert target["ok"] and target["changes"]["delete"] == gone
        refused = target["would_be_refused"]
        assert (refused["setting"], refused["value"]) == ("max_delete", 2)
        assert (refused["would_delete"], refused["mirrored"]) == (3, 18)
        assert refused["share_percent"] == 16.7 and "--force" in refused["hint"]


def test_real_run_refusal_names_the_setting_and_hints_force_in_every_mode(
    tmp_path: Path,
) -> None:
    with served(tmp_path) as world:
        _limit_deletions(world, 2)
        assert _run(world).exit_code == 0
        _delete_three(world)
        plain = _run(world)
        assert plain.exit_code == 1
        assert "more than max_delete = 2 allows" in plain.stdout
        assert "hint: rerun with --force" in plain.stdout
        quiet = _run(world, "-q")
        assert quiet.exit_code == 1 and "--force" in quiet.stdout
        as_json = _run(world, "--json")
        assert as_json.exit_code == 1
        (target,) = json.loads(as_json.stdout)["targets"]
        assert "max_delete = 2" in target["error"] and "--force" in target["hint"]
        forced = _run(world, "--force")
        assert forced.exit_code == 0, forced.output


def test_the_percentage_guard_names_max_delete_percent(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        text = world.config.read_text().replace(
            'data_root = "mirror"', 'data_root = "mirror"\nmax_delete_percent = 10'
        )
        world.config.write_text(text)
        assert _run(world).exit_code == 0
        _delete_three(world)
        result = _run(world)
        assert result.exit_code == 1
        assert "more than max_delete_percent = 10% allows (at most 1 files)" in result.stdout
        assert "--force" in result.stdout


def test_dry_run_with_nothing_to_do_says_so(tmp_path: Path) -> None:
    with served(tmp_path) as world:
        assert _run(world).exit_code == 0
        result = _run(world, "--dry-run")
        assert f"{MARKETING}: (dry run) nothing would change" in result.stdout
