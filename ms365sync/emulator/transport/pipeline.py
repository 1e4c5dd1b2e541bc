"""The request pipeline every transport calls: ids, routing, latency, auth, faults, throttling."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any

from ms365sync.emulator.control.endpoints import ControlService
from ms365sync.emulator.control.faults import (
    BATCH_MEMBER_FAULTS,
    FRONT_DOOR_FAULTS,
    FaultInjector,
    SeededDraws,
)
from ms365sync.emulator.control.requestlog import LogEntry, RequestLog, redact_query
from ms365sync.emulator.control.settings import EmulatorConfig
from ms365sync.emulator.control.throttle import Throttle
from ms365sync.emulator.login.delegated import graph_caller
from ms365sync.emulator.login.directory import Directory
from ms365sync.emulator.login.identity import IdentityService
from ms365sync.emulator.login.tokens import TokenAuthority, unauthenticated
from ms365sync.emulator.msgraph.batch import BatchProcessor
from ms365sync.emulator.msgraph.download import (
    ContentFor,
    DownloadGrant,
    DownloadService,
    DownloadSigner,
    throttled_response,
)
from ms365sync.emulator.msgraph.envelope import add_standard_headers, error_response, throttled
from ms365sync.emulator.msgraph.exceptions import (
    METHOD_NOT_ALLOWED,
    BadRequest,
    GeneralException,
    GraphError,
    RequestBadRequest,
    RolesMissing,
    TooManyRequests,
)
from ms365sync.emulator.sprest.gateway import SharePointGateway
from ms365sync.emulator.sprest.responses import SharePointRestService
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.hosts import CONTROL, DOWNLOAD, GRAPH, LOGIN, SHAREPOINT, HostMap
from ms365sync.emulator.transport.http import DIRECTORY_BUDGET, Request, Response, Route, Router
from ms365sync.emulator.transport.wsgi import WSGIStartResponse, call_wsgi

logger = logging.getLogger("ms365sync.emulator")

GRAPH_VERSION = "v1.0"
# What the bytes of a pre-authenticated download cost (graph-facts §9.2: a file download costs 1).
DOWNLOAD_COST = 1


def _app_key(claims: dict[str, Any]) -> str:
    """The throttle bucket of the app a token was issued to: "tenant id/app id"."""
    return f"{claims['tid']}/{claims['appid']}"


def _directory_throttled(retry_after: int, claims: dict[str, Any]) -> GraphError:
    """Entra's 429: Retry-After and the scope and reason headers its docs list."""
    scope = f"Tenant_Application/ReadWrite/{claims['appid']}/{claims['tid']}"
    return TooManyRequests(
        headers=[
            ("Retry-After", str(retry_after)),
            ("x-ms-throttle-scope", scope),
            ("x-ms-throttle-information", "ResourceUnitLimitExceeded"),
        ]
    )


class EmulatorApp:
    """Routes each request to the Graph, login, download, SharePoint REST or control service
    and applies the emulator's latency, authentication, faults and resource-unit throttling.

    Graph handlers are registered on `graph_router` with patterns over the path *without*
    `/v1.0` (the form $batch URLs use); they are called as `handler(request, **groups)`
    with `request.context` holding "app" (AppRegistration), "claims" (token claims),
    "emulator" (this object), "faults" (FaultInjector) and "graph_path". SharePoint REST
    (`{site}/_api/...`) goes to the `sharepoint` service's own gateway (sprest/gateway.py).
    """

    def __init__(
        self,
        directory: Directory,
        graph_router: Router,
        config: EmulatorConfig | None = None,
        *,
        control_router: Router | None = None,
        clock: Clock | None = None,
        content_for: ContentFor | None = None,
        signer: DownloadSigner | None = None,
        request_log: RequestLog | None = None,
        hosts: HostMap | None = None,
        sharepoint: SharePointRestService | None = None,
    ) -> None:
        self.directory = directory
        self.graph_router = graph_router
        self.config = config = config or EmulatorConfig()
        self.clock = clock or Clock()
        self.hosts = hosts or HostMap()
        self.latency = config.latency
        self.admin_key = config.admin_key or secrets.token_urlsafe(24)
        self.tokens = TokenAuthority(self.clock, config.token_lifetime_s)
        self.identity = IdentityService(directory, self.tokens, self.clock, self.hosts)
        self.signer = signer or DownloadSigner(None, config.download_url_lifetime_s, self.clock)
        self.downloads = DownloadService(self.signer, content_for, admit=self._charge_download)
        self.faults = FaultInjector(config.faults, config.seed)
        self.draws = SeededDraws(config.seed)
        self.throttle = Throttle(config.throttle)
        self.request_log = request_log
        self.batch = BatchProcessor(self)
        self.sharepoint = SharePointGateway(self, sharepoint)
        self.control = ControlService(self, control_router)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    # -- entry points -------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises (an unexpected error is logged and becomes a 500)."""
        request.request_id = str(uuid.uuid4())
        request.client_request_id = request.headers.get("client-request-id") or request.request_id
        service = self.hosts.service_for(request)
        request.context.update(service=service, emulator=self, faults=self.faults)
        try:
            response = self._dispatch(service, request)
        except Exception:
            logger.exception("emulator failed on %s %s", request.method, request.raw_path)
            response = error_response(GeneralException(), request, self.clock.now())
            add_standard_headers(response, request, self.clock.now())
        self._account(request, response)
        return response

    def wsgi(self, environ: dict[str, Any], start_response: WSGIStartResponse) -> Iterable[bytes]:
        """The app as a WSGI callable (drop and truncation need the cheroot server or adapter)."""
        return call_wsgi(self, environ, start_response)

    def set_content_source(self, content_for: ContentFor) -> None:
        """Where downloads read bytes: content_for(drive_id, item_id) -> ContentSource | None."""
        self.downloads.content_for = content_for

    def download_origin(self, request: Request, site_hostname: str) -> str:
        """The origin download URLs for this request use (another host or port; HostMap)."""
        return self.hosts.download_origin(request, site_hostname)

    def download_url(
        self,
        request: Request,
        *,
        site_hostname: str,
        site_path: str,
        drive_id: str,
        item_id: str,
        unique_id: str,
    ) -> str:
        """A fresh pre-authenticated URL for the item, for `/content` and downloadUrl, charged
        to the app the request authenticated as."""
        origin = self.download_origin(request, site_hostname)
        claims = request.context.get("claims")
        return self.signer.url(
            origin,
            site_path,
            drive_id=drive_id,
            item_id=item_id,
            unique_id=unique_id,
            app=None if claims is None else _app_key(claims),
        )

    def request_counts(self) -> dict[str, int]:
        """Requests answered so far per "service status" (e.g. "graph 200")."""
        with self._counts_lock:
            return dict(self._counts)

    # -- services -----------------------------------------------------------------------

    def _dispatch(self, service: str, request: Request) -> Response:
        if service == CONTROL:
            return self.control.handle(request)
        self._delay(request)
        if service == LOGIN:
            return self.plain(self.identity.handle(request), request)
        if service == DOWNLOAD:
            return self.plain(self._download(request), request)
        if service == SHAREPOINT:
            return self.sharepoint.handle(request)
        return self._graph(request)

    def _delay(self, request: Request) -> None:
        latency = self.latency
        if latency.fixed_ms <= 0 and latency.jitter_ms <= 0:
            return
        uniform, _ = self.draws.draw("latency", request)
        delay_ms = latency.fixed_ms + latency.jitter_ms * (2 * uniform - 1)
        time.sleep(max(0.0, delay_ms) / 1000)

    def plain(self, response: Response, request: Request) -> Response:
        """Headers the login and SharePoint hosts send on every response."""
        headers = response.headers
        headers.set("request-id", request.request_id)
        headers.set("x-ms-request-id", request.request_id)
        if request.headers.get("client-request-id"):
            headers.set("client-request-id", request.client_request_id)
        headers.set("Date", formatdate(self.clock.now(), usegmt=True))
        return response

    def _download(self, request: Request) -> Response:
        if self.faults.should("drop", request):
            request.context["fault"] = "drop"
            return Response(0, drop=True)
        if self.faults.should("expire-url", request):
            request.context["fault"] = "expire-url"
            return self.downloads.expired_response(request)
        response = self.downloads.handle(request)
        for name, value in request.context.get("ratelimit", ()):
            response.headers.set(name, value)
        if "ru" in request.context:
            response.headers.set("x-ms-resource-unit", str(request.context["ru"]))
        length = response.content_length or 0
        if response.status in (200, 206) and request.method == "GET" and length > 0:
            cut = self.faults.draw("truncate", request)
            if cut is not None:
                request.context["fault"] = "truncate"
                response.truncate_at = int(cut * length)
        return response

    def _graph(self, request: Request) -> Response:
        version, _, rest = request.path.lstrip("/").partition("/")
        path = "/" + rest
        request.context["graph_path"] = path
        if version != GRAPH_VERSION:
            # Graph rejects unknown versions with 400 BadRequest "Invalid version"; the
            # emulator serves v1.0 only, so beta is answered the same way.
            error = BadRequest(f"Invalid version: {version}")
            response = error_response(error, request, self.clock.now())
        elif path.strip("/") == "$batch":  # `/v1.0//$batch` too: Graph ignores empty segments
            response = self.batch.handle(request)
        else:
            response = self.graph_call(request, path, in_batch=False)
        add_standard_headers(response, request, self.clock.now())
        return response

    def graph_call(self, request: Request, path: str, *, in_batch: bool) -> Response:
        """One Graph request (top-level or a $batch member) through auth, faults, RU and its
        handler; every failure becomes an error envelope."""
        try:
            self.authenticate(request)
            route, groups = self._route(request.method, path)
            request.context["route"] = route.name
            dropped = self._graph_faults(request, in_batch)
            if dropped is not None:
                return dropped
            self._charge(request, route)
            response = route.handler(request, **groups)
        except GraphError as error:
            response = error_response(error, request, self.clock.now())
        except Exception:
            logger.exception("handler failed on %s %s", request.method, request.raw_path)
            response = error_response(GeneralException(), request, self.clock.now())
        for name, value in request.context.get("ratelimit", ()):
            response.headers.set(name, value)
        if "ru" in request.context:
            response.headers.set("x-ms-resource-unit", str(request.context["ru"]))
        return response

    def authenticate(self, request: Request) -> None:
        """Validate the bearer token and put "app" and "claims" into request.context.

        Raises GraphError 401 InvalidAuthenticationToken, or 403 AccessDenied for a token
        without roles (samples/08-error-403-no-roles-claim).
        """
        claims = self.tokens.validate(request.headers.get("Authorization"))
        app = graph_caller(self.directory, claims)  # an app, or a user through a client
        if app is None or claims.get("tid") != self.directory.tenant_id:
            raise unauthenticated("Access token validation failure.")
        if not claims.get("roles") and not claims.get("scp"):
            raise RolesMissing()
        request.context["app"] = app
        request.context["claims"] = claims

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        found = self.graph_router.match(method, path)
        if found is not None:
            return found
        allowed = self.graph_router.allowed_methods(path)
        if allowed:
            # The only 405 body on record (graph docs json-batching.md response sample).
            raise RequestBadRequest(
                METHOD_NOT_ALLOWED,
                status=405,
                headers=[("Allow", ", ".join(sorted(set(allowed))))],
            )
        segment = path.rstrip("/").rsplit("/", 1)[-1] or path
        raise BadRequest(f"Resource not found for the segment '{segment}'.")

    def _graph_faults(self, request: Request, in_batch: bool) -> Response | None:
        """Inject the Graph faults; returns a dropped response or raises the fault's error."""
        kinds = FRONT_DOOR_FAULTS if not in_batch else BATCH_MEMBER_FAULTS
        kind = self.faults.first(kinds, request)
        if kind == "expire-token":
            self.tokens.revoke(request.context["claims"])
            raise unauthenticated("Access token has expired or is not yet valid.")
        if kind == "drop":
            return Response(0, drop=True)
        if kind in ("503", "429"):
            retry_after = (("Retry-After", str(self.faults.config.retry_after)),)
            raise throttled(int(kind), retry_after)
        if kind == "500":
            raise GeneralException()
        return None

    def _charge(self, request: Request, route: Route) -> None:
        """Charge the route's cost to the app's SharePoint budget, or for users and groups to
        its directory budget, which Entra keeps apart and throttles without RateLimit-*
        headers (graph-facts §15.6)."""
        cost = route.cost_for(request)
        app_key = _app_key(request.context["claims"])
        directory = route.budget == DIRECTORY_BUDGET
        if directory:
            app_key += "/directory"
        decision = self.throttle.charge(app_key, cost, self.clock.now())
        if not decision.admitted:
            request.context["fault"] = "throttled"
            if directory:
                raise _directory_throttled(decision.retry_after or 1, request.context["claims"])
            raise throttled(decision.status, decision.headers)
        request.context["ru"] = cost
        request.context["ratelimit"] = () if directory else decision.headers

    def _charge_download(self, request: Request, grant: DownloadGrant) -> Response | None:
        """Charge the bytes of a download to the app its URL was issued to; the refusal when
        that app is over budget. A URL without an app claim is served uncharged."""
        if grant.app is None:
            return None
        decision = self.throttle.charge(grant.app, DOWNLOAD_COST, self.clock.now())
        if not decision.admitted:
            request.context["fault"] = "throttled"
            return throttled_response(decision.status, decision.headers)
        request.context["ru"] = DOWNLOAD_COST
        request.context["ratelimit"] = decision.headers
        return None

    # -- bookkeeping ----------------------------------------------------------------------

    def _account(self, request: Request, response: Response) -> None:
        service = str(request.context.get("service", GRAPH))
        outcome = "dropped" if response.drop else str(response.status)
        with self._counts_lock:
            self._counts[f"{service} {outcome}"] += 1
        if self.request_log is not None:
            self.request_log.record(self._log_entry(request, response, service))

    def _log_entry(self, request: Request, response: Response, service: str) -> LogEntry:
        sent = 0 if response.drop else response.content_length or 0
        if response.truncate_at is not None:
            sent = response.truncate_at
        context = request.context
        return LogEntry(
            time=datetime.fromtimestamp(self.clock.now(), tz=timezone.utc).isoformat(),
            method=request.method,
            host=request.host,
            path=request.raw_path,
            query=redact_query(request.query_string),
            status=0 if response.drop else response.status,
            resource_units=int(context.get("ru", 0)) + int(context.get("batch_ru", 0)),
            bytes_sent=sent,
            service=service,
            route=str(context.get("route", "")),
            fault=str(context.get("fault", "")),
            request_id=request.request_id,
        )
