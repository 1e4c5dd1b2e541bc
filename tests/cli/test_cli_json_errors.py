"""`--json` on a failure before any target runs: stdout still holds its one JSON document,
saying what failed, and stderr the one error line; the exit code is the error's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync.cli import cli

SITE = (
    '[[sites]]\nname = "marketing"\nhost = "contoso.sharepoint.com"\npath = "/sites/marketing"\n'
    '  [[sites.libraries]]\n  name = "Documents"\n'
)
SECRET_AUTH = '[auth]\ntenant_id = "t1"\nclient_id = "c1"\nclient_secret = "s"\n'
CERT_AUTH = '[auth]\ntenant_id = "t1"\nclient_id = "c1"\ncertificate_path = "app.pem"\n'


@pytest.mark.parametrize(
    ("text", "pem", "key"),
    [
        (CERT_AUTH + SITE, b"not a certificate", "certificate_path"),
        (
            '[auth]\ntenant_id = "t1"\nclient_id = "c1"\nclient_secret = "s"\n[run]\n'
            "max_connections = 0\n" + SITE,
            None,
            "max_connections",
        ),
    ],
    ids=["unusable-certificate", "bad-key"],
)
@pytest.mark.parametrize("command", [(), ("check",)], ids=["sync", "check"])
def test_json_gets_one_document_for_a_configuration_error(
    tmp_path: Path, text: str, pem: bytes | None, key: str, command: tuple[str, ...]
) -> None:
    config = tmp_path / "sites.toml"
    config.write_text(text, encoding="utf-8")
    if pem is not None:
        (tmp_path / "app.pem").write_bytes(pem)
    result = CliRunner().invoke(cli, ["--config", str(config), "--json", *command])
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == 2
    assert key in document["error"] and document["targets"] == []
    (line,) = result.stderr.strip().splitlines()[:1]
    assert line.startswith("ms365sync: error: ") and key in line
