"""A loopback CONNECT proxy in front of the emulator: tunnels `CONNECT name:443` for the
names the emulator serves to its port, and refuses everything else.

With it, an unmodified Graph client (`HTTPS_PROXY=http://127.0.0.1:P`, the emulator's CA
trusted) talks to https://graph.microsoft.com and the tenant's SharePoint hosts and reaches
the emulator; no other destination is reachable through it. Both sockets of a tunnel set
TCP_NODELAY: TLS records cross the tunnel as they are written, so Nagle's algorithm meeting
the peer's delayed ACK cannot hold a small write back for tens of milliseconds (a stall the
client alone would not see). Standard library only.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

from ms365sync.emulator.transport.server import LOOPBACK

TLS_PORT = 443
_MAX_HEAD = 16 * 1024
_CHUNK = 64 * 1024


class _RefusedError(Exception):
    """A request the proxy will not carry: its status line and the reason logged."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that reaches only the emulator.

    `CONNECT host:443` is tunnelled to 127.0.0.1:`upstream_port` when `host` is one of
    `names` (case-insensitive); another host or port gets 403, any other method 405. Each
    refusal is reported as one line to `log`. Use as a context manager or call
    start()/stop(); `stop` closes the open tunnels too. `start` raises OSError if the
    port cannot be bound.
    """

    def __init__(
        self,
        names: Iterable[str],
        upstream_port: int,
        *,
        port: int = 0,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.names = frozenset(name.lower() for name in names)
        self.upstream = (LOOPBACK, upstream_port)
        self.log = log
        self._requested_port = port
        self._server: _TunnelServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ConnectProxy:
        """Bind 127.0.0.1 and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        server = _TunnelServer((LOOPBACK, self._requested_port), _TunnelHandler)
        server.proxy = self
        self._server = server
        # A short poll interval: `stop` (shutdown) waits for the loop to notice, up to this.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="emulator-proxy"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every tunnel and wait for the threads (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_tunnels()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    @property
    def port(self) -> int:
        """The bound port. Raises RuntimeError if stopped."""
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return int(self._server.server_address[1])

    def tunnel_sockets(self) -> list[socket.socket]:
        """The proxy's own sockets of the tunnels open now (client and emulator sides), e.g.
        to inspect their options; empty when stopped."""
        server = self._server
        return [] if server is None else server.open_sockets()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT, the value for HTTPS_PROXY."""
        return f"http://{LOOPBACK}:{self.port}"

    def destination(self, request_line: str) -> tuple[str, int]:
        """The (host, port) a request line may tunnel to. Raises _RefusedError otherwise."""
        method, _, rest = request_line.partition(" ")
        target = rest.partition(" ")[0]
        if method.upper() != "CONNECT":
            raise _RefusedError("405 Method Not Allowed", f"{method} {target}: only CONNECT")
        host, _, port = target.rpartition(":")
        host = host.strip("[]").lower()
        if port != str(TLS_PORT):
            raise _RefusedError("403 Forbidden", f"CONNECT {target}: only port {TLS_PORT}")
        if host not in self.names:
            raise _RefusedError("403 Forbidden", f"CONNECT {target}: not an emulated host")
        return host, TLS_PORT

    def __enter__(self) -> ConnectProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _TunnelServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # A burst of clients connecting at once (rclone's checkers and transfers) must not
    # overflow the listen backlog: a dropped SYN is retried only after a second.
    request_queue_size = 128
    proxy: ConnectProxy

    def __init__(self, address: tuple[str, int], handler: type[_TunnelHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)

    def open_sockets(self) -> list[socket.socket]:
        with self._lock:
            return list(self._open)

    def close_tunnels(self) -> None:
        """Shut every open socket down, which ends each handler's relay loop."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _TunnelHandler(socketserver.BaseRequestHandler):
    server: _TunnelServer
    request: socket.socket

    def handle(self) -> None:
        server, client = self.server, self.request
        _no_delay(client)
        server.track(client)
        try:
            self._serve(server.proxy, client)
        finally:
            server.untrack(client)

    def _serve(self, proxy: ConnectProxy, client: socket.socket) -> None:
        head, early = _read_head(client)
        if head is None:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        try:
            proxy.destination(request_line)
        except _RefusedError as refused:
            proxy.log(f"emulator proxy: refused {refused}")
            _reply(client, refused.status)
            return
        try:
            upstream = socket.create_connection(proxy.upstream, timeout=10)
        except OSError as exc:
            proxy.log(f"emulator proxy: the emulator at port {proxy.upstream[1]}: {exc}")
            _reply(client, "502 Bad Gateway")
            return
        with upstream:
            _no_delay(upstream)
            self.server.track(upstream)
            try:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if early:
                    upstream.sendall(early)
                _relay(client, upstream)
            finally:
                self.server.untrack(upstream)


def _no_delay(sock: socket.socket) -> None:
    """Send each write at once (see the module docstring); ignored on a socket already gone."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _read_head(client: socket.socket) -> tuple[bytes | None, bytes]:
    """The request head (up to the blank line) and any bytes sent after it; None on EOF or
    a head too long."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _MAX_HEAD:
            return None, b""
        try:
            chunk = client.recv(4096)
        except OSError:
            return None, b""
        if not chunk:
            return None, b""
        data += chunk
    head, _, early = data.partition(b"\r\n\r\n")
    return head, early


def _reply(client: socket.socket, status: str) -> None:
    with contextlib.suppress(OSError):
        client.sendall(
            f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes (or `stop` shuts the sockets down)."""
    peers = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for sock in peers:
            sock.setblocking(True)
            sock.settimeout(None)
            selector.register(sock, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    chunk = source.recv(_CHUNK)
                    if not chunk:
                        return
                    peers[source].sendall(chunk)
                except OSError:
                    return
