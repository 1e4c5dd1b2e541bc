"""`ms365sync emulator ...` prints errors as the rest of the command does: `ms365sync:
error: ...` on stderr, exit 2 for usage errors and bad input, 1 when the work fails."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli
from ms365sync.emulator import item_quirks, synthetic_tenant
from ms365sync.emulator.cli import quirk_knobs


def _invoke(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["emulator", *args], prog_name="ms365sync")
    assert result.stdout == ""
    return result.exit_code, result.stderr.splitlines()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("serve", "--latency-ms", "fast"), "Invalid value for --latency-ms"),
        (("serve", "--no-such-option"), "No such option"),
        (("no-such-command",), "No such command 'no-such-command'"),
        (("serve", "--tenant", "{file}", "--synthetic", "3"), "--tenant or --synthetic"),
        (("serve", "--synthetic", "3", "--quirks", "irm=lots"), "Invalid value for --quirks"),
        (("serve", "--quirks", "irm=0.1"), "--quirks needs --synthetic"),
        (("serve", "--cert", "{file}"), "--cert and --key go together"),
        (("serve", "--plain-http", "--public-names"), "--plain-http serves no certificate"),
        (("serve", "--public-names", "--cert", "{file}", "--key", "{file}"), "not both"),
    ],
    ids=[
        "bad-value",
        "unknown-option",
        "unknown-command",
        "options-that-exclude",
        "bad-quirks",
        "quirks-without-synthetic",
        "cert-without-key",
        "plain-http-with-public-names",
        "public-names-with-cert",
    ],
)
def test_usage_errors_exit_2_with_the_ms365sync_prefix(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    tenant = tmp_path / "tenant.toml"
    tenant.write_text("", encoding="utf-8")
    code, lines = _invoke(*(arg.format(file=tenant) for arg in args), "--state-dir", str(tmp_path))
    assert code == 2
    assert lines[0].startswith("Usage: ms365sync emulator")
    assert lines[1].startswith("ms365sync: error: ") and words in lines[1]
    assert lines[2:] == ["ms365sync: hint: see 'ms365sync emulator serve -h'"] or args[0] != "serve"
    assert not any(line.startswith("Error:") for line in lines)
    assert not (tmp_path / "emulator.json").exists()


def test_an_unusable_tenant_file_is_bad_input(tmp_path: Path) -> None:
    tenant = tmp_path / "tenant.toml"
    tenant.write_text("[tenant\n", encoding="utf-8")
    code, lines = _invoke("serve", "--tenant", str(tenant), "--state-dir", str(tmp_path))
    assert code == 2
    (line,) = lines
    assert line.startswith("ms365sync: error: ") and "tenant.toml" in line


@pytest.mark.parametrize("command", ["apply", "export", "faults", "proxy"])
def test_no_running_emulator_is_a_failure(tmp_path: Path, command: str) -> None:
    argument = {"apply": [__file__], "export": [str(tmp_path / "out")], "faults": ["none"]}
    code, lines = _invoke(command, *argument.get(command, []), "--state-dir", str(tmp_path))
    assert code == 1
    (line,) = lines
    assert line.startswith(f"ms365sync: error: {tmp_path / 'emulator.json'}: ")
    assert "emulator serve --state-dir" in line


def test_an_unusable_certificate_is_bad_input(tmp_path: Path) -> None:
    pem = tmp_path / "cert.pem"
    pem.write_text("not a certificate\n", encoding="utf-8")
    args = ("--cert", str(pem), "--key", str(pem), "--state-dir", str(tmp_path))
    code, lines = _invoke("serve", *args)
    assert code == 2
    (line,) = lines
    assert line.startswith(f"ms365sync: error: {pem}: cannot serve this certificate and key")
    assert not (tmp_path / "emulator.json").exists()


def test_the_proxy_needs_an_emulator_serving_public_names(tmp_path: Path) -> None:
    state = {"scheme": "https", "port": 1, "served_names": ["127.0.0.1", "localhost"]}
    (tmp_path / "emulator.json").write_text(json.dumps(state), encoding="utf-8")
    code, lines = _invoke("proxy", "--state-dir", str(tmp_path))
    assert code == 1
    (line,) = lines
    assert line.startswith("ms365sync: error: ") and "serve --public-names" in line


def test_quirks_give_the_synthetic_tenant_its_troublesome_files() -> None:
    knobs = quirk_knobs("irm=0.1, malware=0.05,packages=1")
    assert knobs == {"irm_share": 0.1, "malware_share": 0.05, "packages": 1}
    (drive,) = (d for d in synthetic_tenant(100, seed=3, **knobs).drives() if not d.system)
    quirks = Counter(q for item in drive.items.values() for q in item_quirks(item))
    assert (quirks["rewritten"] >= 10, quirks["malware"], quirks["package"]) == (True, 5, 1)
