"""The HTTPS server: TLS floor, keep-alive, loopback only, host routing, the control service."""

from __future__ import annotations

import http.client
import json
import select
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

from ms365sync.emulator.control.settings import FaultConfig
from ms365sync.emulator.transport.cheroot_gateway import make_server
from ms365sync.emulator.transport.http import Request, Response, Router, json_response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import TENANT_ID, body_json, call, issue_token, trusting_session

ADMIN = [("X-Emulator-Key", "admin-key")]


def client_context(server: EmulatorServer, **versions: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server.ca_bundle_path))
    for name, version in versions.items():
        setattr(context, name, version)
    return context


def test_free_port_and_ca_bundle(server: EmulatorServer, tmp_path: Path) -> None:
    assert server.port > 0
    assert server.base_url == f"https://127.0.0.1:{server.port}"
    assert (tmp_path / "ca.pem").read_bytes() == server.ca_pem
    assert b"BEGIN CERTIFICATE" in (server.ca_pem or b"")


def test_a_client_stuck_in_the_tls_handshake_holds_up_no_other_client(
    server: EmulatorServer,
) -> None:
    """A connection that never says hello (a suspended process, a port scanner) does not
    stop the server from accepting and answering others: the handshake is not done on
    the one accepting thread. Before, the next client waited for the socket timeout."""
    with socket.create_connection(("127.0.0.1", server.port)):
        assert server.ca_bundle_path is not None
        answer = trusting_session(server.ca_bundle_path).get(
            f"{server.base_url}/v1.0/sites/root", timeout=8
        )
        assert answer.status_code == 401  # answered (no token sent), not held up


def test_supplied_certificate_files(app: EmulatorApp, tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "emulator.test")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    authority.cert_pem.write_to_path(str(tmp_path / "their-ca.pem"))
    supplied = EmulatorServer(app, certfile=tmp_path / "cert.pem", keyfile=tmp_path / "key.pem")
    assert supplied.ca_pem is None
    with supplied:
        session = trusting_session(tmp_path / "their-ca.pem")
        url = f"{supplied.base_url}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
        assert session.get(url).status_code == 200
        session.close()


def test_binds_loopback_only(app: EmulatorApp) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        EmulatorServer(app, host="0.0.0.0")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_floor_is_1_2(server: EmulatorServer) -> None:
    assert server.context.minimum_version >= ssl.TLSVersion.TLSv1_2
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = client_context(server, minimum_version=version, maximum_version=version)
        connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)
        connection.request("GET", f"/{TENANT_ID}/v2.0/.well-known/openid-configuration")
        assert connection.getresponse().status == 200
        connection.close()
    # A client able to speak TLS 1.1 (security level 0) is refused by the server's floor.
    old = client_context(server, maximum_version=ssl.TLSVersion.TLSv1_1)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError, match=r"(?i)protocol.version"):
        connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=old)
        connection.request("GET", "/")


def test_an_older_floor_is_raised_to_1_2(app: EmulatorApp) -> None:
    lenient = EmulatorServer(app, minimum_tls=ssl.TLSVersion.TLSv1)
    assert lenient.context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_keep_alive_reuses_one_connection(server: EmulatorServer, app: EmulatorApp) -> None:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=client_context(server)
    )
    headers = {"Authorization": f"Bearer {issue_token(app)}"}
    connection.request("GET", "/v1.0/me", headers=headers)
    first = connection.getresponse()
    assert first.status == 200
    first.read()
    socket_used = connection.sock
    for _ in range(5):
        connection.request("GET", "/v1.0/me", headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") != "close"
        response.read()
        assert connection.sock is socket_used
    connection.close()


@pytest.mark.parametrize(
    ("host", "path", "expect"),
    [
        (
            "login.microsoftonline.com",
            f"/{TENANT_ID}/v2.0/.well-known/openid-configuration",
            "login",
        ),
        ("graph.microsoft.com", "/v1.0/me", "graph"),
        ("contoso.sharepoint.com", "/sites/a/_layouts/15/download.aspx?tempauth=x", "download"),
        (None, "/common/discovery/instance", "login"),
        (None, "/v1.0/me", "graph"),
        (None, "/sites/a/_layouts/15/download.aspx?tempauth=x", "download"),
    ],
)
def test_host_routing_over_https(
    server: EmulatorServer,
    https: requests.Session,
    host: str | None,
    path: str,
    expect: str,
) -> None:
    headers = {"Host": host} if host else {}
    response = https.get(server.base_url + path, headers=headers)
    if expect == "login":
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        if host:
            assert response.json()["token_endpoint"].startswith(f"https://{host}/")
    elif expect == "graph":
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers
    else:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
        assert "WWW-Authenticate" not in response.headers


def test_drop_over_https_graph_request(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    headers = {"Authorization": f"Bearer {issue_token(app)}"}
    app.faults.configure(FaultConfig.parse("drop=1"))
    with pytest.raises(requests.exceptions.ConnectionError):
        https.get(f"{server.base_url}/v1.0/me", headers=headers)
    app.faults.configure(FaultConfig())
    assert https.get(f"{server.base_url}/v1.0/me", headers=headers).status_code == 200


def test_post_bodies_reach_the_app(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    response = https.post(
        f"{server.base_url}/v1.0/echo",
        json={"x": "é" * 5000},
        headers={"Authorization": f"Bearer {issue_token(app)}"},
    )
    assert response.status_code == 201
    assert response.json() == {"received": {"x": "é" * 5000}}


# -- control service -------------------------------------------------------------------------


def control(app: EmulatorApp, method: str, path: str, body: Any = None) -> Response:
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return call(app, method, f"/_emulator{path}", host="127.0.0.1:1", headers=ADMIN, body=data)


def test_control_needs_the_admin_key(app: EmulatorApp) -> None:
    assert call(app, "GET", "/_emulator/faults", host="127.0.0.1:1").status == 401
    wrong = [("X-Emulator-Key", "nope")]
    assert call(app, "GET", "/_emulator/faults", host="127.0.0.1:1", headers=wrong).status == 401
    assert control(app, "GET", "/faults").status == 200


def test_control_reconfigures_faults_live(app: EmulatorApp) -> None:
    token = issue_token(app)
    assert control(app, "PUT", "/faults", b"429=1,retry-after=3").status == 200
    assert call(app, "GET", "/v1.0/me", token=token).status == 429
    settings = body_json(control(app, "GET", "/faults"))
    assert settings == {"rates": {"429": 1.0}, "retry_after": 3, "scope": []}
    assert (
        control(app, "PUT", "/faults", {"rates": {}, "retry_after": 1, "scope": []}).status == 200
    )
    assert call(app, "GET", "/v1.0/me", token=token).status == 200
    bad = control(app, "PUT", "/faults", b"429=7")
    assert bad.status == 400
    assert "429" in body_json(bad)["error"]["message"]


def test_control_is_exempt_from_faults(app: EmulatorApp) -> None:
    app.faults.configure(FaultConfig.parse("drop=1,500=1"))
    assert control(app, "GET", "/stats").status == 200


def test_control_stats_and_throttle(app: EmulatorApp) -> None:
    token = issue_token(app)
    call(app, "GET", "/v1.0/drives/d/items/a/permissions", token=token)
    assert control(app, "PUT", "/throttle", b"5/min").status == 200
    assert call(app, "GET", "/v1.0/drives/d/items/b/permissions", token=token).status == 429
    stats = body_json(control(app, "GET", "/stats"))
    (usage,) = stats["throttle"]["apps"].values()
    assert usage == {"requests": 2, "rejections": 1, "ru_charged": 5}
    assert stats["faults"]["429"] == 0
    assert stats["requests"]["graph 429"] == 1


def test_control_sets_latency(app: EmulatorApp) -> None:
    response = control(app, "PUT", "/latency", b"15+-5")
    assert body_json(response) == {"fixed_ms": 15, "jitter_ms": 5, "spec": "15+-5"}
    assert app.latency.fixed_ms == 15
    assert control(app, "PUT", "/latency", b"fast").status == 400


def test_control_advances_the_clock(app: EmulatorApp) -> None:
    token = issue_token(app)
    response = control(app, "POST", "/clock/advance", {"seconds": 3600})
    assert response.status == 200
    assert body_json(response)["offset_s"] == 3600
    assert call(app, "GET", "/v1.0/me", token=token).status == 401
    assert control(app, "POST", "/clock/advance", {"seconds": -1}).status == 400


def test_control_serves_the_leads_routes(make_app: Any) -> None:
    extra = Router()

    def rename(request: Request, drive: str) -> Response:
        return json_response(200, {"renamed": drive, "body": request.json()})

    extra.add("POST", r"/drives/(?P<drive>[^/]+)/rename", rename)
    app = make_app(admin_key="admin-key", control_router=extra)
    response = control(app, "POST", "/drives/d1/rename", {"name": "Docs"})
    assert body_json(response) == {"renamed": "d1", "body": {"name": "Docs"}}
    assert control(app, "GET", "/drives/d1/rename").status == 405
    assert control(app, "GET", "/nothing").status == 404


def test_control_over_https(server: EmulatorServer, https: requests.Session) -> None:
    url = f"{server.base_url}/_emulator/faults"
    assert https.put(url, data="drop=0.5", headers=dict(ADMIN)).json()["rates"] == {"drop": 0.5}


def test_a_burst_of_64_new_connections_is_queued_whole(app: EmulatorApp) -> None:
    """The listen backlog holds a burst of 64 connections while nothing accepts them: each
    completes its TCP handshake at once (a connection the backlog dropped would wait about a
    second for its SYN to be sent again). The server is bound and listening but not serving,
    so only the kernel's queue, which the backlog sizes, takes them."""
    server = make_server(app, ("127.0.0.1", 0), 4, None)
    port = server.bind_addr[1]
    sockets = []
    try:
        for _ in range(64):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            sockets.append(sock)
        # Queued handshakes on loopback complete in microseconds; half a second is far below
        # the one-second SYN retry a dropped connection would need.
        pending, connected = list(sockets), 0
        deadline = time.monotonic() + 0.5
        while pending and (left := deadline - time.monotonic()) > 0:
            _, ready, _ = select.select([], pending, [], left)
            for sock in ready:
                pending.remove(sock)
                connected += sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        assert connected == 64
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
