"""Public host names, supplied certificates and plain HTTP: which names a server covers, and
absolute URLs built from the host a request came in on."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import requests
import trustme

from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.emulator.transport.hosts import LOGIN_HOSTS, public_names
from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import TENANT_ID, trusting_session


def test_public_names_cover_graph_login_and_both_hosts_of_every_tenant() -> None:
    names = public_names(["contoso.sharepoint.com", "fabrikam-my.sharepoint.us"])
    assert names[0] == "graph.microsoft.com"
    assert set(names) >= LOGIN_HOSTS
    for host in ("contoso", "contoso-my"):
        assert f"{host}.sharepoint.com" in names
    for host in ("fabrikam", "fabrikam-my"):
        assert f"{host}.sharepoint.us" in names
    assert names[-2:] == ("localhost", "127.0.0.1")
    assert len(names) == len(set(names))


def test_the_served_certificate_covers_every_public_name(tmp_path: Path) -> None:
    emulator = Emulator(load_demo_tenant())
    with emulator.server(ca_bundle_path=tmp_path / "ca.pem", public_names=True) as server:
        assert set(server.names) == set(emulator.public_names)
        assert "contoso-my.sharepoint.com" in server.names
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        for name in ("graph.microsoft.com", "login.windows.net", "contoso.sharepoint.com"):
            with context.wrap_socket(
                socket.create_connection(("127.0.0.1", server.port)),
                server_hostname=name,
            ) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")  # the name verified


def test_a_supplied_certificate_serves_the_names_it_carries(
    app: EmulatorApp, tmp_path: Path
) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("Graph.Microsoft.com", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    server = EmulatorServer(app, certfile=tmp_path / "cert.pem", keyfile=tmp_path / "key.pem")
    assert server.names == ("graph.microsoft.com", "127.0.0.1")
    assert server.ca_pem is None


def test_plain_http_builds_http_urls(app: EmulatorApp) -> None:
    with EmulatorServer(app, plain_http=True) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}" and server.names == ()
        session = requests.Session()
        session.trust_env = False
        with session:
            url = f"{server.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
            document = session.get(url).json()
        assert document["token_endpoint"] == f"{server.base_url}/{TENANT_ID}/oauth2/v2.0/token"


def test_public_names_keep_the_loopback_origin_working(tmp_path: Path) -> None:
    emulator = Emulator(load_demo_tenant())
    with emulator.server(ca_bundle_path=tmp_path / "ca.pem", public_names=True) as server:
        session = trusting_session(tmp_path / "ca.pem")
        with session:
            tenant = emulator.credentials.tenant_id
            url = f"{server.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
            document = session.get(url).json()
        assert document["token_endpoint"].startswith(server.base_url + "/")


def test_plain_http_behind_a_tls_proxy_builds_https_urls_on_the_public_host(
    app: EmulatorApp,
) -> None:
    """A TLS-terminating proxy forwards Host and X-Forwarded-Proto; links name what the
    client asked for, https://login.microsoftonline.com, not the plain-HTTP hop."""
    with EmulatorServer(app, plain_http=True) as server, requests.Session() as session:
        session.trust_env = False
        url = f"{server.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
        headers = {"Host": "login.microsoftonline.com", "X-Forwarded-Proto": "https"}
        document = session.get(url, headers=headers).json()
    login = "https://login.microsoftonline.com"
    assert document["token_endpoint"] == f"{login}/{TENANT_ID}/oauth2/v2.0/token"


def test_forwarded_proto_is_ignored_over_tls(app: EmulatorApp, tmp_path: Path) -> None:
    with EmulatorServer(app, ca_bundle_path=tmp_path / "ca.pem") as server:
        session = trusting_session(tmp_path / "ca.pem")
        with session:
            url = f"{server.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
            document = session.get(url, headers={"X-Forwarded-Proto": "http"}).json()
        assert document["token_endpoint"].startswith(f"https://127.0.0.1:{server.port}/")
