"""The emulator as a real client meets it: `serve --public-names` (in-process, on a free
loopback port) behind the shipped CONNECT proxy, with only the environment a user would
set (HTTPS_PROXY, SSL_CERT_FILE, REQUESTS_CA_BUNDLE) pointing an unmodified client at
graph.microsoft.com, login.microsoftonline.com and the tenant's SharePoint host."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ms365sync.emulator import Emulator, export_tenant, item_quirks, load_demo_tenant
from ms365sync.emulator.transport.proxy import ConnectProxy
from ms365sync.emulator.transport.server import EmulatorServer

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


@dataclass
class Served:
    """The running emulator, its proxy, its CA, and the export a perfect mirror equals."""

    emulator: Emulator
    server: EmulatorServer
    proxy: ConnectProxy
    ca: Path
    export: Path


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    emulator = Emulator(load_demo_tenant())
    ca = tmp_path / "ca.pem"
    export = tmp_path / "export"
    export_tenant(emulator.tenant, export)
    refusals: list[str] = []
    with (
        emulator.server(ca_bundle_path=ca, public_names=True) as server,
        ConnectProxy(server.names, server.port, log=refusals.append) as proxy,
    ):
        for name in NO_PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        yield Served(emulator, server, proxy, ca, export)
    assert refusals == [], refusals  # every request went to a name the emulator serves


def served_otherwise(emulator: Emulator) -> set[str]:
    """The keys of the files the service serves other than listed (graph-facts §17.1)."""
    return {
        f"{drive.site.name}/{drive.url_segment}/{item.path}"
        for drive in emulator.tenant.drives()
        for item in drive.files()
        if {"rewritten", "unstable"} & set(item_quirks(item))
    }


def exported(export: Path) -> dict[str, bytes]:
    """The export's files: "<site>/<library url segment>/<path>" -> bytes."""
    found: dict[str, bytes] = {}
    for path in sorted(export.rglob("*")):
        parts = path.relative_to(export).parts
        if path.is_file() and parts[2:3] == ("data",):
            found["/".join((*parts[:2], *parts[3:]))] = path.read_bytes()
    return found


def mint_delegated(emulator: Emulator, email: str) -> dict[str, Any]:
    """A delegated token pair for a tenant user, for rclone's built-in client id (what
    `ms365sync emulator token --user EMAIL` prints)."""
    return emulator.app.identity.mint_delegated(emulator.tenant.user(email))
