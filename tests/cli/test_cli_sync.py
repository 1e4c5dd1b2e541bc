"""The sync command through click's CliRunner against the emulator over HTTPS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.emulator import apply_scenario, demo_scenario_path, load_scenario
from support.cli import served

MARKETING = "marketing/Shared Documents"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_sync_all_targets_then_incremental(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        first = runner.invoke(cli, ["--config", str(world.config), "--json"])
        assert first.exit_code == 0, first.output
        report = json.loads(first.stdout)
        assert report["ok"] and len(report["targets"]) == 6
        assert all(t["added"] == t["total_files"] for t in report["targets"])
        data = world.mirror(MARKETING) / "data"
        assert (data / "README.md").is_file()
        apply_scenario(world.emulator.tenant, load_scenario(demo_scenario_path()))
        second = runner.invoke(cli, ["--config", str(world.config), "--json", "--only", MARKETING])
        assert second.exit_code == 0, second.output
        (target,) = json.loads(second.stdout)["targets"]
        assert (target["added"], target["modified"], target["deleted"]) == (4, 1, 3)
        assert target["permission_only_changes"] == 2
        log = json.loads(Path(target["change_log"]).read_text())
        assert log["summary"]["added_count"] == 4


def test_dry_run_changes_nothing(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        result = runner.invoke(cli, ["--config", str(world.config), "--dry-run", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["dry_run"] and report["targets"][0]["added"] > 0
        assert not (tmp_path / "mirror").exists()


def test_only_site_selects_its_libraries(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        result = runner.invoke(cli, ["--config", str(world.config), "--json", "--only", "hr"])
        assert result.exit_code == 0, result.output
        names = {t["target"] for t in json.loads(result.stdout)["targets"]}
        assert names == {"hr/Policies", "hr/Shared Documents"}


def test_unknown_only_name_is_a_usage_error(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        result = runner.invoke(cli, ["--config", str(world.config), "--only", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.stderr and "marketing" in result.stderr
    assert not (tmp_path / "mirror").exists()


def test_wrong_secret_exits_3(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        text = world.config.read_text()
        secret = world.emulator.credentials.client_secret
        world.config.write_text(text.replace(secret, "wrong-secret-value"))
        result = runner.invoke(cli, ["--config", str(world.config)])
    assert result.exit_code == 3
    assert "AADSTS7000215" in result.stderr
    assert "wrong-secret-value" not in result.output + result.stderr


def test_failing_target_exits_1_and_others_still_sync(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        text = world.config.read_text().replace('name = "Policies"', 'name = "Gone"', 1)
        world.config.write_text(text)
        result = runner.invoke(cli, ["--config", str(world.config), "--json"])
        assert result.exit_code == 1
        rows = {t["target"]: t for t in json.loads(result.stdout)["targets"]}
        assert not rows["hr/Gone"]["ok"] and "Policies" in rows["hr/Gone"]["error"]
        assert rows[MARKETING]["ok"]


def test_missing_config_exits_2(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    assert "none.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the error and its hint


def test_bad_key_exits_2_naming_the_key(tmp_path: Path, runner: CliRunner) -> None:
    config = tmp_path / "sites.toml"
    config.write_text(
        '[auth]\ntenant_id = "t"\nclient_id = "c"\nclient_secret = "s"\n'
        '[defaults]\nconcurency = 4\n[[sites]]\nname = "a"\nhost = "h.sharepoint.com"\n'
        'path = "/sites/a"\n[[sites.libraries]]\nname = "Documents"\n'
    )
    result = runner.invoke(cli, ["--config", str(config)])
    assert result.exit_code == 2
    assert "defaults.concurency" in result.stderr
    assert not (tmp_path / "ms365_data").exists()


def test_plain_output_when_not_json(tmp_path: Path, runner: CliRunner) -> None:
    with served(tmp_path) as world:
        result = runner.invoke(cli, ["--config", str(world.config), "--only", "hr/Policies"])
    assert result.exit_code == 0, result.output
    assert "hr/Policies: ok" in result.stdout


def test_verbose_and_quiet_exclude_each_other(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["-v", "-q", "status"])
    assert result.exit_code == 2
