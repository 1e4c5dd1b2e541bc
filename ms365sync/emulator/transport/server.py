"""A real HTTPS server on 127.0.0.1 for the emulator: cheroot, keep-alive, TLS >= 1.2, local CA."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from cheroot.server import Gateway, HTTPServer
from cheroot.ssl.builtin import BuiltinSSLAdapter

from ms365sync.emulator.transport.http import Headers, Request, Response
from ms365sync.emulator.transport.wsgi import body_chunks, status_line

logger = logging.getLogger("ms365sync.emulator.transport.server")

LOOPBACK = "127.0.0.1"
_HOP_BY_HOP = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})


def _request(req: Any) -> Request:
    """A Request from cheroot's parsed request, keeping the target percent-encoded as sent."""
    target = req.uri.decode("utf-8", "replace")
    raw_path, _, query = target.partition("?")
    headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in req.inheaders.items())
    has_body = req.chunked_read or int(req.inheaders.get(b"Content-Length", 0) or 0) > 0
    return Request(
        method=req.method.decode("ascii"),
        host=headers.get("Host") or LOOPBACK,
        raw_path=raw_path,
        query_string=query,
        headers=headers,
        body=req.rfile.read() if has_body else b"",
        scheme="https",
    )


def _abort(conn: Any) -> None:
    """End the TLS session and the TCP connection now, mid-response if need be.

    close_notify is sent without waiting for the peer's, so the client reads a clean EOF
    (and reports a short body or a connection closed without a response), as after a
    server-side connection reset by a proxy.
    """
    sock = conn.socket
    with contextlib.suppress(OSError, ValueError):
        sock.setblocking(False)
        if isinstance(sock, ssl.SSLSocket):
            sock = sock.unwrap()
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _EmulatorGateway(Gateway):
    """Hands each parsed request to the emulator and writes its Response, honouring `drop`
    (close without a byte) and `truncate_at` (full Content-Length, partial body, close)."""

    def respond(self) -> None:
        req = self.req
        response = req.server.emulator.handle(_request(req))
        if response.drop:
            req.sent_headers = True  # nothing is to be sent for this request
            req.close_connection = True
            _abort(req.conn)
            return
        _send(req, response)
        if response.truncate_at is not None:
            req.close_connection = True
            _abort(req.conn)


def _send(req: Any, response: Response) -> None:
    """Status, headers (Content-Length when known, else chunked) and the body chunk by chunk."""
    req.status = status_line(response.status).encode("latin-1")
    req.outheaders.extend(
        (k.encode("utf-8"), v.encode("utf-8"))
        for k, v in response.headers.items()
        if k.lower() not in _HOP_BY_HOP
    )
    if response.content_length is not None:
        req.outheaders.append((b"Content-Length", str(response.content_length).encode()))
    req.ensure_headers_sent()
    if req.method != b"HEAD":
        for chunk in body_chunks(response):
            req.write(chunk)


class _TLSAdapter(BuiltinSSLAdapter):
    """cheroot's stdlib TLS adapter over a ready SSLContext (the base class wants file names)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.certificate = self.private_key = self.certificate_chain = None
        self.ciphers = self.private_key_password = None
        self._server_env: dict[str, Any] = {}
        self.context = context


class _Server(HTTPServer):
    emulator: Any = None

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        logger.log(level, "cheroot: %s", msg, exc_info=traceback)


class EmulatorServer:
    """The emulator over HTTPS on 127.0.0.1 (never another interface).

    With no `certfile`, a throw-away CA from trustme issues a certificate for 127.0.0.1,
    localhost and `cert_names`; its PEM is written to `ca_bundle_path` (if given) and kept in
    `ca_pem` for clients' `verify=`. Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        app: Any,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        numthreads: int = 16,
        cert_names: tuple[str, ...] = (),
        ca_bundle_path: str | Path | None = None,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        minimum_tls: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    ) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the emulator binds {LOOPBACK} only, not {host!r}")
        if numthreads < 1:
            raise ValueError("numthreads must be at least 1")
        self.app = app
        self.host, self._requested_port, self.numthreads = host, port, numthreads
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = max(minimum_tls, ssl.TLSVersion.TLSv1_2)
        self.ca_pem: bytes | None = None
        if certfile is not None:
            self.context.load_cert_chain(certfile, keyfile)
        else:
            self._issue_certificate(cert_names)
        self.ca_bundle_path = Path(ca_bundle_path) if ca_bundle_path else None
        if self.ca_bundle_path is not None and self.ca_pem is not None:
            self.ca_bundle_path.write_bytes(self.ca_pem)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _issue_certificate(self, names: tuple[str, ...]) -> None:
        authority = trustme.CA(organization_name="ms365sync emulator")
        certificate = authority.issue_cert(LOOPBACK, "localhost", *names)
        certificate.configure_cert(self.context)
        self.ca_pem = authority.cert_pem.bytes()

    def start(self) -> EmulatorServer:
        """Bind and serve in a background thread; returns self. Raises OSError if bind fails."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        server = _Server(
            (self.host, self._requested_port),
            _EmulatorGateway,
            minthreads=self.numthreads,
            maxthreads=self.numthreads,
            server_name="ms365sync-emulator",
        )
        server.emulator = self.app
        server.ssl_adapter = _TLSAdapter(self.context)
        server.keep_alive_conn_limit = max(64, self.numthreads * 4)
        server.prepare()
        self._server = server
        self._thread = threading.Thread(target=server.serve, name="emulator-https", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.stop()
        if thread is not None:
            thread.join(timeout=10)

    @property
    def port(self) -> int:
        """The bound port (a free one when 0 was asked for). Raises RuntimeError if stopped."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.bind_addr[1])

    @property
    def base_url(self) -> str:
        """https://127.0.0.1:PORT, the origin for Graph, login and control requests."""
        return f"https://{LOOPBACK}:{self.port}"

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
