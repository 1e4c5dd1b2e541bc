"""A real HTTPS server on 127.0.0.1 for the emulator: cheroot, keep-alive, TLS >= 1.2, local CA
(or plain HTTP, for a TLS-terminating proxy in front).

cheroot and trustme are imported when a server is started or a certificate issued, not when
this module is, so the in-process emulator never loads them.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ms365sync.emulator.errors import EmulatorError

if TYPE_CHECKING:
    from cheroot.server import HTTPServer

LOOPBACK = "127.0.0.1"
NEEDS_EXTRA = (
    "the emulator's HTTPS server needs the 'emulator' extra: pip install 'ms365sync[emulator]'"
    " (the in-process emulator and `ms365sync demo` do not)"
)


class EmulatorServer:
    """The emulator over HTTPS on 127.0.0.1 (never another interface).

    With no `certfile`, a throw-away CA from trustme issues a certificate for 127.0.0.1,
    localhost and `cert_names`; its PEM is written to `ca_bundle_path` (if given) and kept in
    `ca_pem` for clients' `verify=`. With `certfile` (and `keyfile`), that certificate is
    served as given. With `plain_http`, no TLS at all. `names` are the host names the
    certificate covers (empty over plain HTTP: any Host is answered).
    Use as a context manager or call start()/stop().
    The constructor and `start` raise EmulatorError when cheroot or trustme (the `emulator`
    extra) is not installed; the constructor raises EmulatorError when `certfile` or
    `keyfile` cannot be loaded.
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
        plain_http: bool = False,
    ) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the emulator binds {LOOPBACK} only, not {host!r}")
        if numthreads < 1:
            raise ValueError("numthreads must be at least 1")
        self.app = app
        self.host, self._requested_port, self.numthreads = host, port, numthreads
        self.ca_pem: bytes | None = None
        self.names: tuple[str, ...] = ()
        self.context: ssl.SSLContext | None = None
        if not plain_http:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = max(minimum_tls, ssl.TLSVersion.TLSv1_2)
            if certfile is not None:
                self.names = _load_certificate(context, Path(certfile), keyfile)
            else:
                self.names = self._issue_certificate(context, cert_names)
            self.context = context
        self.ca_bundle_path = Path(ca_bundle_path) if ca_bundle_path else None
        if self.ca_bundle_path is not None and self.ca_pem is not None:
            self.ca_bundle_path.write_bytes(self.ca_pem)
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        """ "https", or "http" for a plain-HTTP server."""
        return "http" if self.context is None else "https"

    def _issue_certificate(
        self, context: ssl.SSLContext, names: tuple[str, ...]
    ) -> tuple[str, ...]:
        try:
            import trustme  # noqa: PLC0415 -- lazily: importing the emulator must stay cheap
        except ImportError as exc:
            raise EmulatorError(NEEDS_EXTRA) from exc

        authority = trustme.CA(organization_name="ms365sync emulator")
        covered = tuple(dict.fromkeys((LOOPBACK, "localhost", *names)))
        certificate = authority.issue_cert(*covered)
        certificate.configure_cert(context)
        self.ca_pem = authority.cert_pem.bytes()
        return covered

    def start(self) -> EmulatorServer:
        """Bind and serve in a background thread; returns self. Raises OSError if bind fails."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        # cheroot is imported here, not at module level: importing the emulator stays cheap.
        try:
            from ms365sync.emulator.transport.cheroot_gateway import (  # noqa: PLC0415
                make_server,
            )
        except ImportError as exc:
            raise EmulatorError(NEEDS_EXTRA) from exc

        server = make_server(
            self.app, (self.host, self._requested_port), self.numthreads, self.context
        )
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
        """https://127.0.0.1:PORT (http:// over plain HTTP), the origin for Graph, login and
        control requests."""
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _load_certificate(
    context: ssl.SSLContext, certfile: Path, keyfile: str | Path | None
) -> tuple[str, ...]:
    """Load a supplied certificate and key into `context`; returns the names it covers (its
    subjectAltName DNS names and IP addresses). Raises EmulatorError if either is unusable."""
    from cryptography import x509  # noqa: PLC0415 -- only for a supplied certificate

    try:
        context.load_cert_chain(certfile, keyfile)
        certificate = x509.load_pem_x509_certificate(certfile.read_bytes())
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise EmulatorError(f"{certfile}: cannot serve this certificate and key: {exc}") from None
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = san.get_values_for_type(x509.DNSName)
    addresses = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return tuple(dict.fromkeys([*(name.lower() for name in dns), *addresses]))
