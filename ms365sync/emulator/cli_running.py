"""`ms365sync emulator proxy|apply|export|faults|token`: the commands that talk to a running
emulator through its state directory (`emulator.json`, written by `serve`): a CONNECT proxy
in front of it for other Graph clients, and changing, exporting or asking it through its
control API. Registered on `emulator_group` when `emulator.cli` is imported."""

from __future__ import annotations

import contextlib
import json
import ssl
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from ms365sync.emulator.cli import (
    _LOOPBACK_NAMES,
    STATE_FILE,
    BadInput,
    CommandFailed,
    _to_stderr,
    _wait_for_signal,
    emulator_group,
    port_option,
)
from ms365sync.emulator.control.endpoints import ADMIN_KEY_HEADER
from ms365sync.emulator.errors import EmulatorError
from ms365sync.emulator.scenarios.export import extract_export
from ms365sync.emulator.transport.proxy import ConnectProxy

# ---------------------------------------------------------------------- talking to a server


def _state(state_dir: Path) -> dict[str, Any]:
    """The running emulator's emulator.json. Raises CommandFailed if there is none."""
    state_file = state_dir / STATE_FILE
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise CommandFailed(
            f"{state_file}: no running emulator's state here ({exc}); start `ms365sync "
            "emulator serve --state-dir DIR` first"
        ) from None
    return state


def _control(state_dir: Path, method: str, path: str, body: bytes | None = None) -> Any:
    """Call the control API of the emulator serving from `state_dir`; returns the response.

    Over plain HTTP no CA bundle is needed; over HTTPS the state's `ca_bundle` is trusted
    (the system's store when there is none: a supplied certificate).

    Raises:
        BadInput: the emulator refused the request (400: a scenario or spec it cannot use).
        CommandFailed: no emulator's state in `state_dir`, or it cannot be reached.
    """
    state = _state(state_dir)
    context = None
    if str(state["control_url"]).startswith("https:"):
        context = ssl.create_default_context(cafile=state.get("ca_bundle"))
    request = urllib.request.Request(
        state["control_url"] + path,
        data=body,
        method=method,
        headers={ADMIN_KEY_HEADER: state["admin_key"]},
    )
    try:
        return urllib.request.urlopen(request, context=context, timeout=600)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            detail = json.loads(detail)["error"]["message"]
        raise (BadInput if exc.code == 400 else CommandFailed)(detail) from None
    except (urllib.error.URLError, OSError) as exc:
        raise CommandFailed(f"cannot reach the emulator at {state['control_url']}: {exc}") from None


def state_dir_option(
    text: str = "State directory of the running emulator.",
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The `--state-dir` option every command to a running emulator takes."""
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("emulator-state"),
        show_default=True,
        help=text,
    )


@emulator_group.command("proxy")
@port_option
@state_dir_option("State directory of the running emulator (serve --public-names).")
def proxy(port: int, state_dir: Path) -> None:
    """Run a loopback CONNECT proxy to a running emulator until interrupted.

    Clients with HTTPS_PROXY=http://127.0.0.1:PORT reach graph.microsoft.com, the login hosts
    and the tenant's SharePoint hosts on the emulator; every other destination is refused.
    """
    state = _state(state_dir)
    names = [name for name in state.get("served_names", ()) if name not in _LOOPBACK_NAMES]
    if state.get("scheme") != "https" or not names:
        raise CommandFailed(
            f"the emulator of {state_dir} serves no public names over HTTPS; start it with "
            "`ms365sync emulator serve --public-names` (or --cert/--key)"
        )
    try:
        server = ConnectProxy(names, int(state["port"]), port=port, log=_to_stderr).start()
    except OSError as exc:
        raise CommandFailed(f"cannot listen on 127.0.0.1:{port}: {exc}") from None
    try:
        click.echo(f"emulator proxy listening on {server.url} (to port {state['port']})")
        click.echo(f"  export HTTPS_PROXY={server.url}")
        if state.get("ca_bundle"):
            click.echo(f"  export SSL_CERT_FILE={state['ca_bundle']}")
            click.echo(f"  export REQUESTS_CA_BUNDLE={state['ca_bundle']}")
        _wait_for_signal()
    finally:
        server.stop()
        click.echo("emulator proxy stopped")


@emulator_group.command("apply")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@state_dir_option()
def apply(scenario: Path, state_dir: Path) -> None:
    """Apply a scenario file (TOML or JSON) to a running emulator."""
    fmt = "json" if scenario.suffix.lower() == ".json" else "toml"
    query = f"/scenario?format={fmt}&name={quote(scenario.name)}"
    with _control(state_dir, "POST", query, scenario.read_bytes()) as response:
        applied = json.load(response)["applied"]
    for line in applied:
        click.echo(line)
    click.echo(f"{len(applied)} changes applied")


@emulator_group.command("export")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@state_dir_option()
def export(out: Path, state_dir: Path) -> None:
    """Write the running tenant's truth (files and .permissions.json per library) to OUT."""
    with _control(state_dir, "GET", "/export") as response:
        skipped = int(response.headers.get("X-Emulator-Skipped", "0"))
        try:
            written = extract_export(response, out)
        except (EmulatorError, OSError, tarfile.TarError) as exc:
            raise CommandFailed(f"{out}: the export cannot be written: {exc}") from None
    click.echo(f"exported {len(written)} files to {out}")
    if skipped:
        click.echo(f"{skipped} items could not be represented on disk and were left out")


@emulator_group.command("faults")
@click.argument("spec")
@state_dir_option()
def faults_command(spec: str, state_dir: Path) -> None:
    """Change the fault rates of a running emulator (e.g. "429=0.1,503=0.05" or "none")."""
    with _control(state_dir, "PUT", "/faults", spec.encode("utf-8")) as response:
        click.echo(json.dumps(json.load(response), sort_keys=True))


@emulator_group.command("token")
@click.option("--user", "user", required=True, help="Email or user principal name of a user.")
@click.option(
    "--client-id",
    help="The client the token is for (default: rclone's built-in client id).",
)
@state_dir_option()
def token_command(user: str, client_id: str | None, state_dir: Path) -> None:
    """Print a delegated token pair for a tenant user, as rclone's `token` value expects."""
    body = json.dumps({"user": user, "client_id": client_id}).encode("utf-8")
    with _control(state_dir, "POST", "/token", body) as response:
        pair = json.load(response)
    fields = ("access_token", "token_type", "refresh_token", "expiry")
    click.echo(json.dumps({name: pair[name] for name in fields}))
