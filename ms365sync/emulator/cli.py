"""`ms365sync emulator ...`: serve the emulator over HTTPS, put a CONNECT proxy in front of
it, and change or export a running one.

`serve` writes into its state directory everything another process needs: `ca.pem` (trust
it), `emulator.json` (URLs, the host names served, tenant and app credentials, the control
key; mode 0600),
`app-certificate.pem` (the app's key and certificate, for SharePoint REST, which takes only
certificate-based tokens; mode 0600) and a ready `sites.toml` that syncs every library of the
tenant into `<state dir>/mirror`.

Errors are printed as the rest of the `ms365sync` command prints them, `ms365sync: error:
...` on stderr, with its exit codes: 2 for a usage error or bad input (an option's value, a
tenant or scenario file the emulator refuses), 1 when the work itself fails (no running
emulator to talk to, a port in use, an export that cannot be written).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import IO, Any

import click
import tomli_w

from ms365sync.emulator.control.settings import (
    EmulatorConfig,
    FaultConfig,
    LatencyConfig,
    ThrottleConfig,
)
from ms365sync.emulator.core import Emulator
from ms365sync.emulator.errors import EmulatorError
from ms365sync.emulator.login.keys import AppCertificate, make_app_certificate
from ms365sync.emulator.scenarios.demo import load_demo_tenant
from ms365sync.emulator.scenarios.synthetic import synthetic_tenant
from ms365sync.emulator.scenarios.tenantfile import load_tenant
from ms365sync.emulator.tenant.model import Drive
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.server import EmulatorServer

STATE_FILE = "emulator.json"
CA_FILE = "ca.pem"
CONFIG_FILE = "sites.toml"
CERTIFICATE_FILE = "app-certificate.pem"
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost"})

ERROR_PREFIX = "ms365sync: error: "
EXIT_FAILED, EXIT_USAGE = 1, 2


class CommandFailed(click.ClickException):
    """An emulator command could not do its work: one `ms365sync: error:` line, exit 1."""

    exit_code = EXIT_FAILED

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(ERROR_PREFIX + self.format_message(), err=True)


class BadInput(CommandFailed):
    """What the command was given is unusable (a tenant or scenario file, a spec): exit 2."""

    exit_code = EXIT_USAGE


class UsageFailure(click.UsageError):
    """A usage error (an unknown option, a bad value): the usage line, then one
    `ms365sync: error:` line, exit 2, where click would print `Error:`."""

    def show(self, file: IO[Any] | None = None) -> None:
        if self.ctx is not None:
            click.echo(self.ctx.get_usage(), err=True)
        click.echo(ERROR_PREFIX + self.format_message(), err=True)


class EmulatorGroup(click.Group):
    """The `emulator` group: its own and its commands' usage errors print as `UsageFailure`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageFailure:
            raise
        except click.UsageError as exc:
            raise UsageFailure(exc.format_message(), ctx=exc.ctx) from None


def _parsed(kind: type[Any], value: str | None, option: str) -> Any:
    if value is None:
        return kind()
    try:
        return kind.parse(value)
    except (EmulatorError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


_QUIRK_KNOBS = (
    "irm", "unstable", "missing_hash", "empty_hash", "malware", "locked", "checked_out",
    "zero_byte",
)  # fmt: skip
QUIRKS_TEXT = f"comma-separated NAME=SHARE ({', '.join(_QUIRK_KNOBS)}) and packages=N"


def quirk_knobs(spec: str | None) -> dict[str, Any]:
    """`--quirks "irm=0.01,malware=0.005,packages=2"` as synthetic_tenant's keyword
    arguments (`irm_share=0.01` ...); raises click.BadParameter naming what is wrong."""
    knobs: dict[str, Any] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, eq, value = (piece.strip() for piece in part.partition("="))
        try:
            if name == "packages" and eq:
                knobs["packages"] = int(value)
            elif name in _QUIRK_KNOBS and eq:
                knobs[f"{name}_share"] = float(value)
            else:
                raise ValueError
        except ValueError:
            raise click.BadParameter(
                f"{part.strip()!r}: expected {QUIRKS_TEXT}", param_hint="--quirks"
            ) from None
    return knobs


def _tenant(
    tenant_file: Path | None, synthetic: int | None, seed: int, quirks: dict[str, Any]
) -> Tenant:
    if tenant_file is not None and synthetic is not None:
        raise UsageFailure("give --tenant or --synthetic, not both")
    if quirks and synthetic is None:
        raise UsageFailure("--quirks needs --synthetic")
    try:
        if tenant_file is not None:
            return load_tenant(tenant_file)
        if synthetic is not None:
            tenant = synthetic_tenant(synthetic, seed=seed, unique_share=0.05, **quirks)
            tenant.add_app("ms365sync-emulator")
            return tenant
        return load_demo_tenant()
    except (EmulatorError, ValueError) as exc:
        raise BadInput(str(exc)) from None


def sites_toml(
    emulator: Emulator, base_url: str | None, ca_bundle: str | None, data_root: str
) -> str:
    """A configuration that syncs every library of the tenant through this emulator
    (without a `[cloud]` section when `base_url` is None: the in-process demo)."""
    creds = emulator.credentials
    sites = []
    for site in sorted(emulator.tenant.sites.values(), key=lambda s: s.path):
        libraries = [
            _library(drive)
            for drive in sorted(site.drives.values(), key=lambda d: d.url_segment)
            if not drive.system
        ]
        if libraries:
            sites.append(
                {
                    "name": site.name,
                    "host": site.hostname,
                    "path": site.path,
                    "libraries": libraries,
                }
            )
    document: dict[str, Any] = {
        "auth": {
            "tenant_id": creds.tenant_id,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }
    }
    if base_url is not None:
        # SharePoint REST (site groups' members) is on the same origin (graph-facts §16.7).
        cloud = {"authority_url": base_url, "graph_url": base_url, "sharepoint_url": base_url}
        document["cloud"] = cloud | ({"ca_bundle": ca_bundle} if ca_bundle else {})
    document["defaults"] = {"data_root": data_root}
    document["sites"] = sites
    header = (
        "# Written by `ms365sync emulator serve`: syncs every library of the emulated tenant.\n"
    )
    return header + tomli_w.dumps(document)


def _library(drive: Drive) -> dict[str, Any]:
    """A library's table: its name, and the columns it defines as its metadata to read."""
    table: dict[str, Any] = {"name": drive.url_segment}
    if drive.columns:
        table["metadata"] = list(drive.columns)
    return table


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


port_option = click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
"""The `--port` option of the commands that listen (serve, proxy)."""


@click.group("emulator", cls=EmulatorGroup)
def emulator_group() -> None:
    """The local Microsoft Graph + identity emulator (an offline SharePoint tenant)."""


@emulator_group.command("serve")
@click.option(
    "--tenant",
    "tenant_file",
    type=click.Path(exists=True, path_type=Path),
    help="Tenant file (TOML) to serve; default: the bundled demo tenant.",
)
@click.option("--synthetic", type=click.IntRange(1), help="Serve a synthetic tenant of N files.")
@click.option(
    "--quirks",
    help="With --synthetic, shares of troublesome files (graph-facts §17), e.g. "
    '"irm=0.01,unstable=0.005,malware=0.005,packages=2".',
)
@port_option
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=Path("emulator-state"),
    show_default=True,
    help="Where to write ca.pem, emulator.json and sites.toml.",
)
@click.option("--latency-ms", help='Latency per request: "30" or "30+-10" (jitter).')
@click.option("--throttle", help='Resource-unit budget, e.g. "1250/min" or "1250/min,1200000/day".')
@click.option("--faults", help='Fault rates, e.g. "429=0.1,503=0.05,drop=0.02,truncate=0.05".')
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for faults and data.")
@click.option(
    "--request-log",
    type=click.Path(path_type=Path),
    help="Write one JSON line per request to this file.",
)
@click.option(
    "--public-names",
    is_flag=True,
    help="Serve a certificate (from the emulator's CA) that also covers graph.microsoft.com, "
    "the login hosts and the tenant's SharePoint hosts; reach them through `emulator proxy`.",
)
@click.option(
    "--cert",
    "certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve this certificate (PEM) instead of one from the emulator's CA; needs --key.",
)
@click.option(
    "--key",
    "keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The private key (PEM) of --cert.",
)
@click.option(
    "--plain-http",
    is_flag=True,
    help="Serve plain HTTP without TLS (for a TLS-terminating proxy in front).",
)
@click.option(
    "--token-lifetime",
    type=click.IntRange(1),
    default=3599,
    show_default=True,
    help="Access token lifetime in seconds.",
)
@click.option(
    "--url-lifetime",
    type=click.IntRange(1),
    default=3600,
    show_default=True,
    help="Download URL lifetime in seconds.",
)
def serve(
    *,
    tenant_file: Path | None,
    synthetic: int | None,
    quirks: str | None,
    port: int,
    state_dir: Path,
    latency_ms: str | None,
    throttle: str | None,
    faults: str | None,
    seed: int,
    request_log: Path | None,
    public_names: bool,
    certfile: Path | None,
    keyfile: Path | None,
    plain_http: bool,
    token_lifetime: int,
    url_lifetime: int,
) -> None:
    """Serve the emulator over HTTPS (or plain HTTP) on 127.0.0.1 until interrupted."""
    _check_transport_options(public_names, certfile, keyfile, plain_http)
    config = EmulatorConfig(
        seed=seed,
        latency=_parsed(LatencyConfig, latency_ms, "--latency-ms"),
        throttle=_parsed(ThrottleConfig, throttle, "--throttle"),
        faults=_parsed(FaultConfig, faults, "--faults"),
        token_lifetime_s=token_lifetime,
        download_url_lifetime_s=url_lifetime,
    )
    tenant = _tenant(tenant_file, synthetic, seed, quirk_knobs(quirks))
    _make_folders(state_dir, request_log)
    emulator = Emulator(tenant, config, request_log=request_log)
    certificate = make_app_certificate(emulator.registration.display_name)
    emulator.registration.certificates.append(certificate.cert_pem)
    ca_path = (state_dir / CA_FILE).resolve()
    (state_dir / CA_FILE).unlink(missing_ok=True)  # a CA of an earlier run is not trusted now
    try:
        server = emulator.server(
            port=port,
            ca_bundle_path=None if certfile or plain_http else ca_path,
            public_names=public_names,
            certfile=certfile,
            keyfile=keyfile,
            plain_http=plain_http,
        )
    except EmulatorError as exc:  # with --cert, only an unusable certificate or key
        raise (BadInput if certfile else CommandFailed)(str(exc)) from None
    try:
        server.start()
    except (EmulatorError, OSError) as exc:
        raise CommandFailed(str(exc)) from None
    try:
        base = server.base_url
        _write_state(state_dir, emulator, server, certificate)
        click.echo(f"emulator listening on {base} (tenant {emulator.tenant.tenant_id})")
        if server.ca_pem is not None:
            click.echo(f"  CA bundle:     {ca_path}")
        if public_names or certfile:
            click.echo(f"  serving names: {', '.join(server.names)}")
        click.echo(f"  state:         {(state_dir / STATE_FILE).resolve()}")
        click.echo(f"  configuration: {(state_dir / CONFIG_FILE).resolve()}")
        click.echo(f"  sync it with:  ms365sync --config {state_dir / CONFIG_FILE}")
        _wait_for_signal()
    finally:
        server.stop()
        click.echo("emulator stopped")


def _check_transport_options(
    public_names: bool, certfile: Path | None, keyfile: Path | None, plain_http: bool
) -> None:
    if (certfile is None) != (keyfile is None):
        raise UsageFailure("--cert and --key go together")
    if plain_http and (public_names or certfile):
        raise UsageFailure("--plain-http serves no certificate: not with --public-names or --cert")
    if public_names and certfile:
        raise UsageFailure("give --public-names or --cert, not both")


def _make_folders(state_dir: Path, request_log: Path | None) -> None:
    """Create the state directory and the request log's folder before anything opens them."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        if request_log is not None:
            request_log.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandFailed(f"cannot create {exc.filename}: {exc.strerror}") from None


def _write_state(
    state_dir: Path, emulator: Emulator, server: EmulatorServer, certificate: AppCertificate
) -> None:
    creds = emulator.credentials
    base = server.base_url
    ca_bundle = str((state_dir / CA_FILE).resolve()) if server.ca_pem is not None else None
    certificate_path = (state_dir / CERTIFICATE_FILE).resolve()
    _write_private(certificate_path, (certificate.key_pem + certificate.cert_pem).decode())
    state = {
        "base_url": base,
        "authority_url": base,
        "graph_url": base,
        # SharePoint REST: a site's {sharepoint_url}{server-relative path}/_api/...
        "sharepoint_url": base,
        "control_url": f"{base}/_emulator",
        "admin_key": emulator.app.admin_key,
        "ca_bundle": ca_bundle,
        "scheme": server.scheme,
        "port": server.port,
        # The host names the certificate covers (none over plain HTTP); `emulator proxy`
        # tunnels to these only.
        "served_names": list(server.names),
        "tenant_id": creds.tenant_id,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "client_certificate": str(certificate_path),
        "client_certificate_thumbprint": certificate.thumbprint,
        "pid": os.getpid(),
    }
    _write_private(state_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
    ca_name = CA_FILE if ca_bundle is not None else None
    _write_private(state_dir / CONFIG_FILE, sites_toml(emulator, base, ca_name, "mirror"))


def _to_stderr(line: str) -> None:
    click.echo(line, err=True)


def _wait_for_signal() -> None:
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# The commands that talk to a running emulator live in cli_running (imported last: it
# registers them on `emulator_group`, defined above).
from ms365sync.emulator import cli_running as _running  # noqa: E402, F401
