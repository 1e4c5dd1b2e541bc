"""Where the configuration comes from (--config, MS365SYNC_CONFIG) and the files `init` writes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.config import load_config
from ms365sync.config.starter import EXAMPLE_NAME, example_text

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "TENANT_ID": "contoso.onmicrosoft.com",
    "CLIENT_ID": "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31",
    "CLIENT_SECRET": "not-a-real-secret",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty working directory, credentials in the environment, no MS365SYNC_CONFIG."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MS365SYNC_CONFIG", raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def test_init_example_writes_the_commented_example(tmp_path: Path) -> None:
    target = tmp_path / "example.toml"
    result = CliRunner().invoke(cli, ["init", "--example", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == (ROOT / EXAMPLE_NAME).read_bytes()
    assert f"`ms365sync check --config {target}`" in result.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert len(load_config(target).targets()) >= 2
    again = CliRunner().invoke(cli, ["init", "--example", "--output", str(target)])
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_the_shipped_example_is_the_one_at_the_top_of_the_sources() -> None:
    """The package's copy (what `init --example` writes) and sites.example.toml are one text."""
    shipped = ROOT / "ms365sync" / "config" / EXAMPLE_NAME
    assert shipped.read_bytes() == (ROOT / EXAMPLE_NAME).read_bytes()
    assert example_text() == (ROOT / EXAMPLE_NAME).read_text(encoding="utf-8")


def test_the_example_names_only_commands_that_exist() -> None:
    text = example_text()
    assert "ms365sync sync" not in text and "`ms365sync init --example`" in text
    for line in text.splitlines():
        if "`ms365sync " in line:
            command = line.split("`ms365sync ")[1].split("`")[0].split()
            name = command[0] if command and not command[0].startswith("-") else None
            if name is not None:
                assert name in cli.list_commands(click.Context(cli)), line


def test_init_example_and_discover_exclude_each_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--example", "--discover"])
    assert result.exit_code == 2 and "--example or --discover" in result.stderr
    assert not (tmp_path / "sites.toml").exists()


def test_init_writes_the_cloud_it_is_given(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    target = tmp_path / "conf" / "sites.toml"
    target.parent.mkdir()
    result = CliRunner().invoke(cli, [
        "init", "--output", str(target), "--authority-url", "https://127.0.0.1:8443",
        "--graph-url", "https://127.0.0.1:8443/", "--ca-bundle", "ca.pem",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    cloud = load_config(target).cloud
    assert (cloud.authority_url, cloud.graph_url) == ("https://127.0.0.1:8443",) * 2
    assert cloud.ca_bundle == ca  # relative to where init ran, not to the file
    china = tmp_path / "china.toml"
    assert CliRunner().invoke(cli, ["init", "-o", str(china), "--cloud", "china"]).exit_code == 0
    assert load_config(china).cloud.name == "china"


def test_missing_configuration_points_to_init(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    assert "sites.toml: configuration file not found" in result.stderr
    assert "ms365sync init --example" in result.stderr


@pytest.mark.parametrize("command", [(), ("check",), ("status",)], ids=["sync", "check", "status"])
def test_ms365sync_config_names_the_default_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("MS365SYNC_CONFIG", str(tmp_path / "from-env.toml"))
    result = CliRunner().invoke(cli, [*command])
    assert result.exit_code == 2 and "from-env.toml: configuration file not found" in result.stderr
    # An explicit --config, before or after the command, wins over the variable.
    for args in (["--config", "given.toml", *command], [*command, "--config", "given.toml"]):
        if not command and args[0] != "--config":
            continue
        given = CliRunner().invoke(cli, args)
        assert given.exit_code == 2 and "given.toml: configuration file not found" in given.stderr


def test_init_and_status_use_the_configuration_ms365sync_config_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere" / "sites.toml"
    config.parent.mkdir()
    monkeypatch.setenv("MS365SYNC_CONFIG", str(config))
    written = CliRunner().invoke(cli, ["init"])  # init writes where status reads
    assert written.exit_code == 0 and "then run `ms365sync check`" in written.stdout
    assert config.is_file() and not (tmp_path / "sites.toml").exists()
    result = CliRunner().invoke(cli, ["--json", "status"])
    assert result.exit_code == 0, result.output
    assert '"example/Documents"' in result.stdout


SITE = '[[sites]]\nname = "marketing"\nhost = "contoso.sharepoint.com"\npath = "/sites/marketing"\n'


def _with_bad_libraries(path: Path, count: int) -> Path:
    libraries = "".join(
        f'  [[sites.libraries]]\n  name = "Library {i:02}"\n  concurrency = 0\n'
        for i in range(count)
    )
    path.write_text(SITE + libraries, encoding="utf-8")
    return path


@pytest.mark.parametrize("verbose", [(), ("-v",)], ids=["plain", "verbose"])
def test_every_problem_of_a_configuration_is_listed(
    tmp_path: Path, verbose: tuple[str, ...]
) -> None:
    config = tmp_path / "sites.toml"
    config.write_text(
        "[defaults]\nconcurrency = 0\nmax_delete = -1\nmax_delete_percent = 101\n" + SITE
        + '  [[sites.libraries]]\n  name = "Documents"\n',
        encoding="utf-8",
    )  # fmt: skip
    result = CliRunner().invoke(cli, [*verbose, "--config", str(config), "check"])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("ms365sync: error:")]
    keys = ("defaults.concurrency", "defaults.max_delete:", "defaults.max_delete_percent")
    assert len(lines) == 3
    for line, key in zip(lines, keys, strict=True):
        assert line.startswith(f"ms365sync: error: {config}: {key}") and "out of range" in line
    assert "more problem" not in result.stderr


def test_a_long_list_of_problems_stops_at_twenty(tmp_path: Path) -> None:
    config = _with_bad_libraries(tmp_path / "sites.toml", 25)
    result = CliRunner().invoke(cli, ["--config", str(config)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 21
    assert "sites[0].libraries[0].concurrency" in lines[0]
    assert "sites[0].libraries[19].concurrency" in lines[19]
    assert lines[20] == "ms365sync: error: and 5 more problems"


def test_json_lists_every_problem(tmp_path: Path) -> None:
    config = _with_bad_libraries(tmp_path / "sites.toml", 25)
    result = CliRunner().invoke(cli, ["--json", "--config", str(config)])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert len(document["problems"]) == 25
    assert "(and 24 more problems)" in document["error"]
