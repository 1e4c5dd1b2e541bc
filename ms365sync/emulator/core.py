"""`Emulator`: one tenant wired to the Graph endpoints, SharePoint REST, the identity and
download services and the control API, served in-process (a `requests` adapter) or over
HTTPS on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import requests

from ms365sync.emulator.control.requestlog import RequestLog
from ms365sync.emulator.control.settings import EmulatorConfig
from ms365sync.emulator.control.tenant_endpoints import tenant_routes
from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.msgraph.download import ContentSource, TypedContent
from ms365sync.emulator.msgraph.refusals import refusal_error
from ms365sync.emulator.msgraph.responses import GraphService
from ms365sync.emulator.sprest.responses import SharePointRestService
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.tenant.model import Drive, Item
from ms365sync.emulator.tenant.quirks import DownloadRefusedError
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.adapter import mount
from ms365sync.emulator.transport.hosts import public_names as public_host_names
from ms365sync.emulator.transport.http import Request, Router
from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer


@dataclass(frozen=True)
class Credentials:
    """What a client needs to sign in to the emulated tenant."""

    tenant_id: str
    client_id: str
    client_secret: str


def _fault(kind: str, request: Request) -> bool:
    injector = request.context.get("faults")
    return bool(injector is not None and injector.should(kind, request))


class Emulator:
    """An emulated tenant with everything around it.

    The tenant's timestamps follow the emulator's clock, so `clock.advance()` ages tokens,
    download URLs and delta tokens together.
    """

    def __init__(
        self,
        tenant: Tenant,
        config: EmulatorConfig | None = None,
        *,
        request_log: Path | None = None,
        control_router: Router | None = None,
    ) -> None:
        self.tenant = tenant
        self.clock = Clock()
        tenant.clock = self.clock.now
        self.graph = GraphService(tenant, download_url=self._download_url, fault=_fault)
        self.sharepoint = SharePointRestService(tenant)
        self.control_router = control_router or tenant_routes(tenant)
        self.app = EmulatorApp(
            tenant.directory,
            self.graph.router,
            config,
            control_router=self.control_router,
            clock=self.clock,
            content_for=self._content_for,
            request_log=RequestLog(request_log) if request_log is not None else None,
            sharepoint=self.sharepoint,
        )

    @property
    def registration(self) -> AppRegistration:
        """The tenant's first registered app (the one clients sign in as by default)."""
        apps = list(self.tenant.directory.apps.values())
        if not apps:
            raise LookupError("the tenant has no registered app; call tenant.add_app() first")
        return apps[0]

    @property
    def credentials(self) -> Credentials:
        app = self.registration
        return Credentials(self.tenant.tenant_id, app.client_id, app.secrets[0])

    def session(self) -> requests.Session:
        """A requests session whose every HTTPS request is answered in-process."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies must not apply here
        mount(session, self.app)
        return session

    @property
    def public_names(self) -> tuple[str, ...]:
        """Graph's, the identity platform's and the tenant's SharePoint host names (both
        `<tenant>` and `<tenant>-my` of every site's host), localhost and 127.0.0.1."""
        with self.tenant.lock:
            hostnames = sorted({site.hostname for site in self.tenant.sites.values()})
        return public_host_names(hostnames)

    def server(
        self,
        *,
        port: int = 0,
        ca_bundle_path: Path | None = None,
        public_names: bool = False,
        cert_names: tuple[str, ...] = (),
        certfile: Path | None = None,
        keyfile: Path | None = None,
        plain_http: bool = False,
    ) -> EmulatorServer:
        """An HTTPS server on 127.0.0.1 for this emulator (start it, or use it as `with`).

        Its certificate, from a throw-away CA written to `ca_bundle_path`, covers 127.0.0.1,
        localhost, `cert_names` and, with `public_names`, `Emulator.public_names`; or it is
        `certfile` with `keyfile` as given; with `plain_http` there is no TLS.
        Raises EmulatorError (see EmulatorServer).
        """
        names = (*cert_names, *(self.public_names if public_names else ()))
        return EmulatorServer(
            self.app,
            port=port,
            ca_bundle_path=ca_bundle_path,
            cert_names=names,
            certfile=certfile,
            keyfile=keyfile,
            plain_http=plain_http,
        )

    def _download_url(self, request: Request, drive: Drive, item: Item) -> str:
        return self.app.download_url(
            request,
            site_hostname=drive.site.hostname,
            site_path=drive.site.path,
            drive_id=drive.id,
            item_id=item.id,
            unique_id=str(item.guid),
        )

    def _content_for(self, drive_id: str, item_id: str) -> ContentSource | None:
        """The bytes a download URL serves now; raises the GraphError of a refused download
        (malware, a lock, a file that vanished or is gone)."""
        with self.tenant.lock:
            drive = self.tenant.drive(drive_id)
            if drive is None:
                return None
            try:
                content = self.tenant.open_download(drive, item_id)
            except DownloadRefusedError as refused:
                raise refusal_error(refused.refusal) from None
            mime = drive.items[item_id].mime_type
            return _ServedFile(content, mime, tenant=self.tenant, drive=drive, item_id=item_id)


@dataclass(frozen=True)
class _ServedFile(TypedContent):
    """A file's served bytes; a GET from offset 0 asks the tenant again (`restart`), so an
    unstable file serves different bytes on each full download."""

    tenant: Tenant
    drive: Drive
    item_id: str

    def restart(self) -> ContentSource:
        fresh = self.tenant.restart_download(self.drive, self.item_id)
        return self if fresh is None else TypedContent(fresh, self.mime_type)
