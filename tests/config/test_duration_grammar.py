"""One duration grammar: the file, the command line and the library API accept the same strings."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ms365sync import SharePointSync
from ms365sync.cli import cli
from ms365sync.cli.params import Duration
from ms365sync.config import ConfigError, load_config, parse_duration
from ms365sync.graph import GraphClient, StaticTokenProvider
from ms365sync.target import PermissionPolicy

ENV = {
    "TENANT_ID": "contoso.onmicrosoft.com",
    "CLIENT_ID": "5d3c2a1e-9f4b-4c7d-8e2a-1b6f0c9d7e31",
    "CLIENT_SECRET": "Zq8~n0t-a-real.client_secret_value",
}
ACCEPTED = [
    ("90s", 90.0),
    ("15m", 900.0),
    ("12h", 43200.0),
    ("7d", 604800.0),
    ("1h30m", 5400.0),
    ("1.5H", 5400.0),
    (" 1h 30m ", 5400.0),
    ("0s", 0.0),
]
REJECTED = ["", "90", "soon", "5 minutes", "m", "1h-30m", "-5m", "1w", "1.h", "h1", "15m!"]


def _file_seconds(tmp_path: Path, key: str, text: str) -> float | str | PermissionPolicy | None:
    """The value `text` gives `key` ([run] lock_timeout, [defaults] permission_sweep or
    download_give_up), or None when the file is refused."""
    table = "run" if key == "lock_timeout" else "defaults"
    document = {
        "auth": {"tenant_id": "${TENANT_ID}", "client_id": "${CLIENT_ID}"},
        table: {key: text},
        "sites": [
            {
                "name": "marketing",
                "host": "contoso.sharepoint.com",
                "path": "/sites/marketing",
                "libraries": [{"name": "Documents"}],
            }
        ],
    }
    path = tmp_path / "sites.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    try:
        (target,) = load_config(path, environ=ENV).targets()
    except ConfigError:
        return None
    if key in ("download_give_up", "retry_permanent_after", "verify"):
        value: float | str | None = getattr(target.spec, key)
        return value
    return target.spec.lock_timeout if key == "lock_timeout" else target.spec.permissions


def _cli_seconds(text: str, *, positive: bool = False) -> float | None:
    try:
        return Duration(positive=positive).convert(text, None, None)
    except click.BadParameter:
        return None


def _api(tmp_path: Path, **options: object) -> SharePointSync | None:
    client = GraphClient("https://graph.microsoft.com", StaticTokenProvider())
    try:
        return SharePointSync(
            "contoso.sharepoint.com",
            "Marketing",
            "Documents",
            tmp_path,
            env_file=None,
            client=client,
            **options,  # type: ignore[arg-type]
        )
    except ConfigError:
        return None
    finally:
        client.close()


def _api_policy(tmp_path: Path, text: str) -> PermissionPolicy | None:
    api = _api(tmp_path, permission_sweep=text)
    return None if api is None else api.spec.permissions


def _api_give_up(tmp_path: Path, value: object) -> float | None:
    api = _api(tmp_path, download_give_up=value)
    return None if api is None else api.spec.download_give_up


@pytest.mark.parametrize(("text", "seconds"), ACCEPTED)
def test_the_file_and_the_command_line_read_a_duration_alike(
    tmp_path: Path, text: str, seconds: float
) -> None:
    assert parse_duration(text) == seconds
    assert _file_seconds(tmp_path, "lock_timeout", text) == seconds
    assert _cli_seconds(text) == seconds


@pytest.mark.parametrize("text", REJECTED)
def test_the_file_and_the_command_line_refuse_the_same_strings(tmp_path: Path, text: str) -> None:
    assert _file_seconds(tmp_path, "lock_timeout", text) is None
    assert _cli_seconds(text) is None
    assert _cli_seconds(text, positive=True) is None
    assert _api_policy(tmp_path, text) is None


@pytest.mark.parametrize(("text", "seconds"), [(t, s) for t, s in ACCEPTED if s > 0])
def test_a_sweep_interval_reads_the_same_in_the_file_and_the_library_api(
    tmp_path: Path, text: str, seconds: float
) -> None:
    expected = PermissionPolicy("interval", seconds)
    assert _file_seconds(tmp_path, "permission_sweep", text) == expected
    assert _api_policy(tmp_path, text) == expected


@pytest.mark.parametrize(("text", "seconds"), ACCEPTED)
def test_a_download_give_up_reads_the_same_in_the_file_and_the_library_api(
    tmp_path: Path, text: str, seconds: float
) -> None:
    expected = seconds if seconds > 0 else None  # a limit of no time at all is refused
    assert _file_seconds(tmp_path, "download_give_up", text) == expected
    assert _api_give_up(tmp_path, text) == expected


@pytest.mark.parametrize("text", REJECTED)
def test_a_download_give_up_refuses_what_a_duration_refuses(tmp_path: Path, text: str) -> None:
    assert _file_seconds(tmp_path, "download_give_up", text) is None
    assert _api_give_up(tmp_path, text) is None


def test_the_library_api_takes_a_download_give_up_in_seconds_too(tmp_path: Path) -> None:
    assert _api_give_up(tmp_path, 45) == 45.0
    assert _api_give_up(tmp_path, 2.5) == 2.5
    for bad in (0, -1, float("nan"), float("inf"), True, None):
        assert _api_give_up(tmp_path, bad) is None, bad
    default = _api(tmp_path)
    assert default is not None and default.spec.download_give_up == 60.0


def test_the_settings_of_files_not_mirrored_as_listed_read_alike_in_file_and_api(
    tmp_path: Path,
) -> None:
    """verify, include_packages and retry_permanent_after: their defaults, a duration in
    both places, and one-line refusals naming the key."""
    default = _api(tmp_path)
    assert default is not None
    spec = default.spec
    assert (spec.verify, spec.include_packages, spec.retry_permanent_after) == (
        "consistent",
        False,
        7 * 86_400.0,
    )
    assert _file_seconds(tmp_path, "retry_permanent_after", "12h") == 43_200.0
    assert _file_seconds(tmp_path, "retry_permanent_after", "0s") is None
    api = _api(tmp_path, verify="strict", include_packages=True, retry_permanent_after="12h")
    assert api is not None
    assert (api.spec.verify, api.spec.include_packages, api.spec.retry_permanent_after) == (
        "strict",
        True,
        43_200.0,
    )
    for bad in ({"verify": "paranoid"}, {"retry_permanent_after": 0}):
        assert _api(tmp_path, **bad) is None
    assert _file_seconds(tmp_path, "verify", "paranoid") is None
    assert _file_seconds(tmp_path, "verify", "Size") == "size"


def test_the_library_api_keeps_its_own_sweep_spellings(tmp_path: Path) -> None:
    assert _api_policy(tmp_path, "interval") == PermissionPolicy()
    assert _api_policy(tmp_path, 3600) == PermissionPolicy("interval", 3600.0)  # type: ignore[arg-type]
    assert _api_policy(tmp_path, "never") == PermissionPolicy("never")
    assert _api_policy(tmp_path, "0s") is None  # a zero interval, as in the file


# Text near the grammar: digits, units, a dot, spaces, a sign and a few strangers.
near_durations = st.text(alphabet="0123456789.smhdSMHD -wx", max_size=8)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=near_durations)
def test_any_string_means_the_same_to_the_file_and_the_command_line(
    tmp_path: Path, text: str
) -> None:
    in_file = _file_seconds(tmp_path, "lock_timeout", text)
    assert _cli_seconds(text) == in_file
    # `watch --every` wants a positive duration: what a sweep interval in the file accepts.
    sweep = _file_seconds(tmp_path, "permission_sweep", text)
    every = _cli_seconds(text, positive=True)
    assert every == (sweep.interval_s if isinstance(sweep, PermissionPolicy) else None)


@pytest.mark.parametrize("text", ["1h30m", "90s", "15m"])
def test_watch_every_takes_the_file_grammar(tmp_path: Path, text: str) -> None:
    missing = tmp_path / "missing.toml"
    result = CliRunner().invoke(cli, ["watch", "--every", text, "--config", str(missing)])
    # The interval was accepted: the command went on to read the (missing) configuration.
    assert result.exit_code == 2 and "configuration file not found" in result.stderr


@pytest.mark.parametrize("text", ["90", "0s", "soon", "1w"])
def test_watch_every_refuses_what_the_file_refuses_or_zero(tmp_path: Path, text: str) -> None:
    missing = tmp_path / "missing.toml"
    result = CliRunner().invoke(cli, ["watch", "--every", text, "--config", str(missing)])
    assert result.exit_code == 2 and "--every" in result.output and repr(text) in result.output
    assert "configuration file not found" not in result.output


@pytest.mark.parametrize(
    ("mode", "kind"), [("structure", "structure"), ("full", "full"), (None, "structure")]
)
def test_the_library_api_takes_the_sweep_mode(tmp_path: Path, mode: str | None, kind: str) -> None:
    api = _api(tmp_path, permission_sweep="12h", permission_sweep_mode=mode)
    assert api is not None
    assert api.spec.permissions == PermissionPolicy("interval", 43_200.0, sweep=kind)  # type: ignore[arg-type]


def test_the_library_api_refuses_an_unknown_sweep_mode(tmp_path: Path) -> None:
    assert _api(tmp_path, permission_sweep_mode="roots") is None
