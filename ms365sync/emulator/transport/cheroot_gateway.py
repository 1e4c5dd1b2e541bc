"""cheroot under the emulator: the gateway that hands parsed requests to it and writes its
responses (honouring dropped and cut connections), and the TLS adapter over a ready context
(none for plain HTTP).

Imported only when an `EmulatorServer` starts, so importing the emulator never imports cheroot.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import Any

from cheroot.server import Gateway, HTTPServer
from cheroot.ssl.builtin import BuiltinSSLAdapter

from ms365sync.emulator.transport.http import Headers, Request, Response
from ms365sync.emulator.transport.server import LOOPBACK
from ms365sync.emulator.transport.wsgi import body_chunks, status_line

logger = logging.getLogger("ms365sync.emulator.transport.server")

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
        scheme=_scheme(req.server.scheme, headers),
    )


def _scheme(served: str, headers: Headers) -> str:
    """The scheme absolute URLs are built with: over plain HTTP, the one a TLS-terminating
    proxy in front says the client used (X-Forwarded-Proto), so links keep `https://`."""
    forwarded = (headers.get("X-Forwarded-Proto") or "").strip().lower()
    return forwarded if served == "http" and forwarded in ("http", "https") else served


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

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, Any]]:
        """Wrap without shaking hands. cheroot calls this on its one accepting thread, where
        a client that stops in the middle of the TLS handshake (a process suspended, a
        client that connects and waits) would hold up every other client until the socket
        timeout; the handshake happens instead on the first read, on the worker thread that
        serves the connection. The gateway needs none of cheroot's TLS environ entries."""
        wrapped = self.context.wrap_socket(sock, do_handshake_on_connect=False, server_side=True)
        return wrapped, {"wsgi.url_scheme": "https", "HTTPS": "on"}


# The listen backlog: cheroot's default of 5 drops part of a burst of new connections
# (each dropped one costs its client a SYN retry, a second), which the benchmarks' 16 and 32
# concurrent downloads and several targets at once open; 128 is Linux's old SOMAXCONN.
LISTEN_BACKLOG = 128


class _Server(HTTPServer):
    emulator: Any = None
    scheme = "https"
    request_queue_size = LISTEN_BACKLOG

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        logger.log(level, "cheroot: %s", msg, exc_info=traceback)


def make_server(
    app: Any, bind: tuple[str, int], numthreads: int, context: ssl.SSLContext | None
) -> HTTPServer:
    """A prepared (bound, not yet serving) cheroot server answering from `app` over TLS
    (over plain HTTP when `context` is None)."""
    server = _Server(
        bind,
        _EmulatorGateway,
        minthreads=numthreads,
        maxthreads=numthreads,
        server_name="ms365sync-emulator",
    )
    server.emulator = app
    if context is None:
        server.scheme = "http"
    else:
        server.ssl_adapter = _TLSAdapter(context)
    server.keep_alive_conn_limit = max(64, numthreads * 4)
    server.prepare()
    return server
