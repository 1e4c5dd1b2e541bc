"""`ms365sync emulator token --user EMAIL`: asks the running emulator (its control API, found
through emulator.json) for a user's delegated pair and prints rclone's `token` value; the
printed tokens work on Graph and at the token endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ms365sync.emulator.cli import emulator_group
from ms365sync.emulator.login.delegated import RCLONE_CLIENT_ID
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_directory_world import DOMAIN, DirectoryWorld, make_world
from support.emulator_fakes import trusting_session

AMY = f"amy@{DOMAIN}"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[DirectoryWorld, EmulatorServer, Path]]:
    """A served emulator and the emulator.json a `serve` would have written."""
    world = make_world()
    server = EmulatorServer(world.emulator.app, ca_bundle_path=tmp_path / "ca.pem")
    server.start()
    state = {
        "base_url": server.base_url,
        "control_url": f"{server.base_url}/_emulator",
        "admin_key": world.emulator.app.admin_key,
        "ca_bundle": str(tmp_path / "ca.pem"),
    }
    (tmp_path / "emulator.json").write_text(json.dumps(state))
    yield world, server, tmp_path
    server.stop()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(emulator_group, ["token", *args], prog_name="emulator")
    return result.exit_code, result.stdout, result.stderr


def test_prints_rclones_token_value(
    running: tuple[DirectoryWorld, EmulatorServer, Path],
) -> None:
    world, server, state_dir = running
    code, out, err = invoke("--user", AMY, "--state-dir", str(state_dir))
    assert code == 0, err
    token = json.loads(out)
    assert list(token) == ["access_token", "token_type", "refresh_token", "expiry"]
    assert token["token_type"] == "Bearer"
    expiry = datetime.fromisoformat(token["expiry"].replace("Z", "+00:00"))
    assert expiry.timestamp() == pytest.approx(world.emulator.app.clock.now() + 3599, abs=5)
    session = trusting_session(state_dir / "ca.pem")
    site = session.get(
        f"{server.base_url}/v1.0/sites/contoso.sharepoint.com:/sites/sales",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert site.status_code == 200, site.text
    refreshed = session.post(
        f"{server.base_url}/common/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(RCLONE_CLIENT_ID, "rclone-secret"),
    )
    assert refreshed.status_code == 200, refreshed.text


def test_client_id_option(running: tuple[DirectoryWorld, EmulatorServer, Path]) -> None:
    world, _server, state_dir = running
    client = "0c0c0c0c-0000-4000-8000-00000000c11e"
    code, out, err = invoke("--user", AMY, "--client-id", client, "--state-dir", str(state_dir))
    assert code == 0, err
    claims = world.emulator.app.tokens.check(f"Bearer {json.loads(out)['access_token']}")
    assert claims["appid"] == client and claims["oid"] == world.tenant.user(AMY).id


def test_an_unknown_user_is_bad_input(
    running: tuple[DirectoryWorld, EmulatorServer, Path],
) -> None:
    code, _out, err = invoke("--user", "nobody@example.com", "--state-dir", str(running[2]))
    assert code == 2
    assert err.startswith("ms365sync: error: ") and "nobody@example.com" in err


def test_no_running_emulator(tmp_path: Path) -> None:
    code, _out, err = invoke("--user", AMY, "--state-dir", str(tmp_path))
    assert code == 1 and "emulator serve --state-dir" in err
