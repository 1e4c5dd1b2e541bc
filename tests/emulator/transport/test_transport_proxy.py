"""The CONNECT proxy: an unmodified client reaches graph.microsoft.com, the login host and the
tenant's SharePoint host on the emulator (public names), and nothing else."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ms365sync.emulator import Emulator, item_quirks, load_demo_tenant
from ms365sync.emulator.tenant.model import Item
from ms365sync.emulator.transport.proxy import ConnectProxy
from ms365sync.emulator.transport.server import EmulatorServer

GRAPH = "https://graph.microsoft.com"
LOGIN = "https://login.microsoftonline.com"


@dataclass
class Through:
    emulator: Emulator
    server: EmulatorServer
    proxy: ConnectProxy
    session: requests.Session
    refusals: list[str]

    def token(self) -> str:
        creds = self.emulator.credentials
        response = self.session.post(
            f"{LOGIN}/{creds.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "scope": f"{GRAPH}/.default",
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def graph(self, url: str) -> Any:
        response = self.session.get(url, headers={"Authorization": f"Bearer {self.token()}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def through(tmp_path: Path) -> Iterator[Through]:
    emulator = Emulator(load_demo_tenant())
    ca = tmp_path / "ca.pem"
    refusals: list[str] = []
    with (
        emulator.server(ca_bundle_path=ca, public_names=True) as server,
        ConnectProxy(server.names, server.port, log=refusals.append) as proxy,
        requests.Session() as session,
    ):
        session.trust_env = False  # only the proxy and CA given here apply
        session.proxies = {"https": proxy.url}
        session.verify = str(ca)
        yield Through(emulator, server, proxy, session, refusals)


def _plain_file(emulator: Emulator) -> tuple[str, Item]:
    for drive in emulator.tenant.drives():
        for item in drive.files():
            if not drive.system and not item_quirks(item) and item.content is not None:
                return drive.id, item
    raise AssertionError("the demo tenant has no plain file")


def test_graph_login_and_a_download_through_the_proxy_with_unmodified_urls(
    through: Through,
) -> None:
    site = next(iter(through.emulator.tenant.sites.values()))
    found = through.graph(f"{GRAPH}/v1.0/sites/{site.hostname}:{site.path}")
    assert found["id"] == site.id
    assert found["@odata.context"].startswith(f"{GRAPH}/v1.0/")

    drive_id, item = _plain_file(through.emulator)
    listed = through.graph(f"{GRAPH}/v1.0/drives/{drive_id}/items/{item.id}")
    url = listed["@microsoft.graph.downloadUrl"]
    assert url.startswith(f"https://{site.hostname}/")  # fetched through the proxy too
    download = through.session.get(url)
    assert download.status_code == 200
    assert item.content is not None
    expected = b"".join(item.content.iter_range(0, item.content.size, 1 << 20))
    assert download.content == expected
    assert through.refusals == []


def test_absolute_links_name_the_host_the_request_came_in_on(through: Through) -> None:
    tenant_id = through.emulator.credentials.tenant_id
    document = through.session.get(f"{LOGIN}/{tenant_id}/v2.0/.well-known/openid-configuration")
    assert document.json()["token_endpoint"] == f"{LOGIN}/{tenant_id}/oauth2/v2.0/token"
    drive_id, _ = _plain_file(through.emulator)
    page = through.graph(f"{GRAPH}/v1.0/drives/{drive_id}/root/delta?$top=2")
    while "@odata.nextLink" in page:
        assert page["@odata.nextLink"].startswith(f"{GRAPH}/v1.0/")
        page = through.graph(page["@odata.nextLink"])
    assert page["@odata.deltaLink"].startswith(f"{GRAPH}/v1.0/")


def _ask(proxy: ConnectProxy, head: str) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        return sock.recv(4096)


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", b"403"),
        ("CONNECT graph.microsoft.com:8443 HTTP/1.1\r\n\r\n", b"403"),
        ("CONNECT 127.0.0.2:443 HTTP/1.1\r\n\r\n", b"403"),
        ("GET http://graph.microsoft.com/v1.0/ HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
    ],
    ids=["other-host", "other-port", "other-address", "plain-http-request"],
)
def test_the_proxy_refuses_every_other_destination(
    through: Through, head: str, status: bytes
) -> None:
    answer = _ask(through.proxy, head)
    assert answer.startswith(b"HTTP/1.1 " + status + b" ")
    (line,) = through.refusals
    assert line.startswith("emulator proxy: refused ") and head.split()[1] in line


def test_a_refused_name_is_not_reached_through_requests(through: Through) -> None:
    with pytest.raises(requests.exceptions.ProxyError):
        through.session.get("https://example.com/")
    assert len(through.refusals) == 1


def test_stop_closes_open_tunnels(tmp_path: Path) -> None:
    emulator = Emulator(load_demo_tenant())
    with emulator.server(public_names=True) as server:
        proxy = ConnectProxy(server.names, server.port).start()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            sock.sendall(b"CONNECT graph.microsoft.com:443 HTTP/1.1\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
            proxy.stop()
            assert sock.recv(4096) == b""  # the tunnel was closed, not left open
        with pytest.raises(RuntimeError):
            _ = proxy.port


def test_msal_and_requests_unmodified_with_only_the_environment(
    through: Through, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What docs/emulator.md tells a client: HTTPS_PROXY and REQUESTS_CA_BUNDLE, nothing
    in the code; MSAL discovers the authority, gets a token, requests calls Graph."""
    import msal

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", through.proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(through.session.verify))
    creds = through.emulator.credentials
    app = msal.ConfidentialClientApplication(
        creds.client_id,
        client_credential=creds.client_secret,
        authority=f"{LOGIN}/{creds.tenant_id}",
    )
    result = app.acquire_token_for_client(scopes=[f"{GRAPH}/.default"])
    assert "access_token" in result, result
    site = next(iter(through.emulator.tenant.sites.values()))
    response = requests.get(
        f"{GRAPH}/v1.0/sites/{site.hostname}:{site.path}",
        headers={"Authorization": f"Bearer {result['access_token']}"},
        timeout=30,
    )
    assert response.status_code == 200 and response.json()["id"] == site.id
    assert through.refusals == []


def test_both_sockets_of_a_tunnel_send_without_delay(through: Through) -> None:
    """TCP_NODELAY on the client's and the emulator's side: Nagle's algorithm meeting a
    delayed ACK would otherwise hold small TLS records back (stalls a client never sees)."""
    assert through.proxy.tunnel_sockets() == []
    with socket.create_connection(("127.0.0.1", through.proxy.port), timeout=10) as sock:
        sock.sendall(b"CONNECT graph.microsoft.com:443 HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        tunnel = through.proxy.tunnel_sockets()
        assert len(tunnel) == 2  # the accepted client socket and the one to the emulator
        assert {s.getsockname()[1] for s in tunnel} >= {through.proxy.port}
        for side in tunnel:
            assert side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
