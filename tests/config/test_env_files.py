"""One `.env` reader: the environment wins over a .env file, for the configuration file,
`init --discover` and the library API alike; .env values are read literally."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync import SharePointSync
from ms365sync.cli import cli
from ms365sync.config import ConfigError, load_config
from ms365sync.config.source import environment
from ms365sync.graph import GraphClient, StaticTokenProvider

VARIABLES = (
    "TENANT_ID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "SHAREPOINT_HOST",
    "SITE_NAME",
    "DOC_LIBRARY",
)
SITE = """\
[[sites]]
name = "marketing"
host = "contoso.sharepoint.com"
path = "/sites/marketing"
  [[sites.libraries]]
  name = "Documents"
"""


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, none of the variables set."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name in (*VARIABLES, "FROM_BOTH", "ONLY_IN_FILE"):
        monkeypatch.delenv(name, raising=False)
    return cwd


def test_the_environment_wins_over_the_files_and_the_first_file_over_the_next(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.env", tmp_path / "second.env"
    first.write_text("A=first\nB=first\n", encoding="utf-8")
    second.write_text("A=second\nB=second\nC=second\n", encoding="utf-8")

    env = environment([first, second, tmp_path / "missing.env"], {"A": "environ"})

    assert (env["A"], env["B"], env["C"]) == ("environ", "first", "second")


def test_dotenv_values_are_literal_and_never_exported(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('ONLY_IN_FILE=${HOME}/x\nBARE\nQUOTED="a b"\n', encoding="utf-8")

    env = environment([dotenv], {"HOME": "/home/someone"})

    assert env["ONLY_IN_FILE"] == "${HOME}/x"  # no expansion inside .env, whatever is set
    assert "BARE" not in env  # a key without a value sets nothing
    assert env["QUOTED"] == "a b"
    assert "ONLY_IN_FILE" not in os.environ


def test_the_process_environment_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("FROM_BOTH=file\n", encoding="utf-8")
    monkeypatch.setenv("FROM_BOTH", "process")

    assert environment([dotenv])["FROM_BOTH"] == "process"


def test_an_unreadable_dotenv_is_a_config_error(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"TENANT_ID=\xff\n")

    with pytest.raises(ConfigError, match=r"cannot read the \.env file") as caught:
        environment([dotenv], {})
    assert caught.value.exit_code == 2


def test_the_configuration_file_reads_the_environment_over_dotenv(_cwd: Path) -> None:
    (_cwd / ".env").write_text(
        "TENANT_ID=file.onmicrosoft.com\nCLIENT_ID=from-file\nCLIENT_SECRET=file-secret\n",
        encoding="utf-8",
    )
    path = _cwd / "sites.toml"
    path.write_text(SITE, encoding="utf-8")

    config = load_config(path, environ={"CLIENT_ID": "from-environ"})

    assert (config.tenant_id, config.client_id) == ("file.onmicrosoft.com", "from-environ")


def _api(env_file: Path | None) -> SharePointSync:
    client = GraphClient("https://graph.microsoft.com", StaticTokenProvider())
    return SharePointSync(client=client, env_file=env_file)


def test_the_library_api_reads_the_environment_over_dotenv(
    _cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (_cwd / ".env").write_text(
        "SHAREPOINT_HOST=file.sharepoint.com\nSITE_NAME=${SITE}\nDOC_LIBRARY=FromFile\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DOC_LIBRARY", "FromEnvironment")

    with _api(Path(".env")) as api:
        assert api.doc_library == "FromEnvironment"
        assert api.sharepoint_host == "file.sharepoint.com"
        assert api.site_name == "${SITE}"  # read literally, as the configuration file reads it


def test_the_library_api_reads_no_file_when_told_not_to(_cwd: Path) -> None:
    (_cwd / ".env").write_text("SITE_NAME=Marketing\nDOC_LIBRARY=Documents\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="name the library"):
        _api(None)


def test_init_discover_reads_the_environment_over_dotenv(_cwd: Path) -> None:
    (_cwd / ".env").write_text(
        "TENANT_ID=contoso.onmicrosoft.com\nCLIENT_ID=app\nCLIENT_SECRET=file-secret\n",
        encoding="utf-8",
    )

    # An empty CLIENT_SECRET in the environment hides the file's: nothing to sign in with.
    result = CliRunner().invoke(cli, ["init", "--discover"], env={"CLIENT_SECRET": ""})

    assert result.exit_code == 2
    assert "--discover needs CLIENT_SECRET in the environment or .env" in result.stderr
    assert not (_cwd / "sites.toml").exists()
