"""Fakes for the emulator's transport tests: a tiny Graph router, content, certificates, calls."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ms365sync.emulator.msgraph.exceptions import ItemNotFound
from ms365sync.emulator.transport.http import Headers, Request, Response, Router, json_response
from ms365sync.emulator.transport.pipeline import EmulatorApp

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "graph-samples"
TENANT_ID = "6c8a1f2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
DOMAIN = "contoso.onmicrosoft.com"
APP_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cr3t~value"
OTHER_APP_ID = "99999999-8888-7777-6666-555555555555"
NO_ROLES_APP_ID = "00000000-aaaa-bbbb-cccc-dddddddddddd"
CERT_APP_ID = "c0c0c0c0-1111-2222-3333-444444444444"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
FILE_SIZE = 300_000

AppFactory = Callable[..., EmulatorApp]


def sample(name: str) -> Any:
    """A JSON sample from tests/data/graph-samples."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


class Certificate:
    """An RSA key and a self-signed certificate, as an app owner would register."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ms365sync test")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.sha1_hex = self.cert.fingerprint(hashes.SHA1()).hex()


class MemoryContent:
    """A ContentSource over bytes that records the chunk sizes it was asked for."""

    def __init__(self, data: bytes, mime_type: str = "application/octet-stream") -> None:
        self.data = data
        self.mime_type = mime_type
        self.chunk_sizes: list[int] = []

    @property
    def size(self) -> int:
        return len(self.data)

    def iter_range(self, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        self.chunk_sizes.append(chunk_size)
        for offset in range(start, stop, chunk_size):
            yield self.data[offset : min(offset + chunk_size, stop)]


FILE_BYTES = bytes((i * 7 + i // 251) % 256 for i in range(FILE_SIZE))


def fake_graph_router() -> Router:
    """Stand-ins for the lead's handlers: a 1-RU read, a 2-RU list, a 5-RU permission read,
    a JSON echo, a binary body, a /content redirect, a not-found and a crashing handler."""
    router = Router()

    def me(request: Request) -> Response:
        return json_response(200, {"appid": request.context["claims"]["appid"]})

    def children(request: Request, item_id: str) -> Response:
        return json_response(200, {"value": [{"id": item_id}]})

    def permissions(request: Request, item_id: str) -> Response:
        if item_id == "missing":
            raise ItemNotFound("Item not found")
        return json_response(200, {"value": [{"id": "p1", "roles": ["read"]}]})

    def echo(request: Request) -> Response:
        return json_response(201, {"received": request.json()})

    def raw(request: Request) -> Response:
        return Response(200, Headers([("Content-Type", "text/plain")]), b"plain \x00 bytes")

    def content(request: Request, item_id: str) -> Response:
        emulator: EmulatorApp = request.context["emulator"]
        url = emulator.download_url(
            request,
            site_hostname="contoso.sharepoint.com",
            site_path="/sites/Team Site",
            drive_id="b!drive",
            item_id=item_id,
            unique_id="0F2E4D6C-8B0A-4C1E-9D3F-5A7B9C1D3E5F",
        )
        return Response(302, Headers([("Location", url)]))

    def crash(request: Request) -> Response:
        raise RuntimeError("handler bug")

    router.add("GET", r"/me", me, cost=1, name="me")
    router.add("GET", r"/drives/d/items/(?P<item_id>[^/]+)/children", children, cost=2)
    router.add("GET", r"/drives/d/items/(?P<item_id>[^/]+)/permissions", permissions, cost=5)
    router.add("POST", r"/echo", echo, cost=2, name="echo")
    router.add("GET", r"/raw", raw, cost=1, name="raw")
    router.add("GET", r"/drives/d/items/(?P<item_id>[^/]+)/content", content, cost=1)
    router.add("GET", r"/crash", crash, cost=1, name="crash")
    return router


ContentMap = dict[tuple[str, str], MemoryContent]


ContentMap = dict[tuple[str, str], MemoryContent]


def issue_token(app: EmulatorApp, client_id: str = APP_ID) -> str:
    """A token for a registered app, issued without going through the token endpoint."""
    token, _claims = app.tokens.issue(
        app.directory,
        app.directory.apps[client_id],
        audience="https://graph.microsoft.com",
        certificate=False,
    )
    return token


def call(
    app: EmulatorApp,
    method: str,
    path: str,
    *,
    host: str = "graph.microsoft.com",
    token: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Response:
    """One request straight into app.handle (no transport)."""
    raw_path, _, query = path.partition("?")
    items = [("Host", host), *(headers or [])]
    if token is not None:
        items.append(("Authorization", f"Bearer {token}"))
    return app.handle(Request(method, host, raw_path, query, Headers(items), body))


def body_json(response: Response) -> Any:
    return json.loads(response.body_bytes())


def trusting_session(ca_path: Path | str) -> requests.Session:
    """A session that trusts the emulator CA and ignores REQUESTS_CA_BUNDLE (which would
    otherwise override Session.verify) and proxy variables."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_path)
    return session
