"""How a SharePoint REST request is answered: its token checked the way SharePoint checks
app-only tokens, its site found, its format negotiated, faults and resource units applied,
and every refusal worded in SharePoint's shapes (graph-facts §16.2, §16.4).

SharePoint takes app-only tokens for its own audience only, and only when the app proved
itself with a certificate (`appidacr` 2): a token obtained with a client secret gets 401
"Unsupported app only token.".
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ms365sync.emulator.control.faults import FRONT_DOOR_FAULTS
from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.login.tokens import (
    GRAPH_AUDIENCES,
    SHAREPOINT_APP_ID,
    BadTokenError,
    TokenProblem,
)
from ms365sync.emulator.msgraph.render import iso
from ms365sync.emulator.sprest.exceptions import (
    AccessDenied,
    InvalidClientQuery,
    MethodNotAllowed,
    ServerError,
    SharePointError,
    Throttled,
    TokenRefused,
    WebNotFound,
)
from ms365sync.emulator.sprest.render import ODataFormat, negotiate
from ms365sync.emulator.sprest.responses import SharePointRestService
from ms365sync.emulator.transport.http import Headers, Request, Response, Route

if TYPE_CHECKING:
    from ms365sync.emulator.transport.pipeline import EmulatorApp

# SharePoint's x-ms-diagnostics numbers: 3000002 (expired) and 3000003 (audience) are from
# real answers; 3001000 for the other refusals is the emulator's choice (graph-facts §16.2).
_EXPIRED, _AUDIENCE, _OTHER = 3000002, 3000003, 3001000
_TRUSTED_ISSUERS = (
    "00000001-0000-0000-c000-000000000000@*,https://sts.windows.net/*/,"
    "00000003-0000-0ff1-ce00-000000000000@90140122-8516-11e1-8eff-49304924019b"
)
_LANG = "en-US"
_VERBOSE = re.compile(r"odata\s*=\s*verbose", re.IGNORECASE)


class SharePointGateway:
    """SharePoint REST behind the emulator's pipeline: tokens, faults, budget, errors."""

    def __init__(self, app: EmulatorApp, service: SharePointRestService | None) -> None:
        self.app = app
        self.service = service

    def handle(self, request: Request) -> Response:
        """Answer one SharePoint REST request; never raises."""
        try:
            response = self._answer(request)
        except TokenRefused as refused:
            response = self._refusal(refused)
        except SharePointError as error:
            response = _error_response(error, request)
        return self._decorate(response, request)

    def _answer(self, request: Request) -> Response:
        claims, app = self._authenticate(request)
        if self.service is None:
            raise WebNotFound()
        site, rest = self.service.locate(request)
        if not app.can_read_site(site.id, claims.get("roles", [])):
            raise AccessDenied()
        request.context["odata"] = negotiate(request.headers.get("Accept"))
        route, groups = self._route(request, rest)
        dropped = self._faults(request, claims)
        if dropped is not None:
            return dropped
        self._charge(request, route, claims)
        request.context["site"] = site
        return route.handler(request, **groups)

    # ------------------------------------------------------------------ steps

    def _authenticate(self, request: Request) -> tuple[dict[str, Any], AppRegistration]:
        """The claims of a certificate-based app-only token for SharePoint, or TokenRefused."""
        try:
            claims = self.app.tokens.check(request.headers.get("Authorization"))
        except BadTokenError as rejected:
            raise _refused(rejected) from None
        audience = str(claims.get("aud", ""))
        if audience in GRAPH_AUDIENCES:
            raise TokenRefused("Invalid issuer or signature.", _OTHER)
        if audience != SHAREPOINT_APP_ID:
            raise TokenRefused(f"Invalid audience Uri '{audience}'.", _AUDIENCE)
        directory = self.app.directory
        app = directory.apps.get(str(claims.get("appid")))
        if app is None or claims.get("tid") != directory.tenant_id:
            raise TokenRefused("Invalid issuer or signature.", _OTHER)
        if claims.get("appidacr") != "2":
            raise TokenRefused("Unsupported app only token.", _OTHER)
        request.context["app"] = app
        request.context["claims"] = claims
        return claims, app

    def _route(self, request: Request, rest: str) -> tuple[Route, dict[str, str]]:
        assert self.service is not None
        router = self.service.router
        found = router.match(request.method, rest)
        if found is not None:
            request.context["route"] = found[0].name
            return found
        if router.allowed_methods(rest):
            raise MethodNotAllowed()
        segment = rest.rstrip("/").rsplit("/", 1)[-1] or "_api"
        raise InvalidClientQuery(f"Cannot find resource for the request {segment}.")

    def _faults(self, request: Request, claims: dict[str, Any]) -> Response | None:
        faults = self.app.faults
        kind = faults.first(FRONT_DOOR_FAULTS, request)
        if kind == "expire-token":
            self.app.tokens.revoke(claims)
            raise _expired(claims)
        if kind == "drop":
            return Response(0, drop=True)
        if kind in ("503", "429"):
            retry_after = (("Retry-After", str(faults.config.retry_after)),)
            raise Throttled(int(kind), headers=retry_after)
        if kind == "500":
            raise ServerError()
        return None

    def _charge(self, request: Request, route: Route, claims: dict[str, Any]) -> None:
        """Charge the app's SharePoint budget, which Graph's site and item reads share."""
        cost = route.cost_for(request)
        key = f"{claims['tid']}/{claims['appid']}"
        decision = self.app.throttle.charge(key, cost, self.app.clock.now())
        if not decision.admitted:
            request.context["fault"] = "throttled"
            raise Throttled(decision.status, headers=decision.headers)
        request.context["ru"] = cost
        request.context["ratelimit"] = decision.headers

    # ------------------------------------------------------------------ answers

    def _refusal(self, refused: TokenRefused) -> Response:
        """SharePoint's 401: not OData, the reason in the body and in x-ms-diagnostics."""
        realm = self.app.directory.tenant_id
        challenge = (
            f'Bearer realm="{realm}",client_id="{SHAREPOINT_APP_ID}",'
            f'trusted_issuers="{_TRUSTED_ISSUERS}",'
            'authorization_uri="https://login.windows.net/common/oauth2/authorize"'
        )
        diagnostics = f'{refused.diagnostic};reason="{refused.reason}";category="invalid_client"'
        body = json.dumps({"error_description": refused.reason}, separators=(",", ":")).encode()
        headers = Headers(
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("WWW-Authenticate", challenge),
                ("x-ms-diagnostics", diagnostics),
            ]
        )
        return Response(401, headers, body)

    def _decorate(self, response: Response, request: Request) -> Response:
        for name, value in request.context.get("ratelimit", ()):
            response.headers.set(name, value)
        response = self.app.plain(response, request)
        response.headers.set("SPRequestGuid", request.request_id)
        response.headers.set("X-SharePointHealthScore", "0")
        response.headers.set("Strict-Transport-Security", "max-age=31536000")
        return response


def _refused(rejected: BadTokenError) -> TokenRefused:
    if rejected.problem is TokenProblem.EXPIRED and rejected.claims is not None:
        return _expired(rejected.claims)
    if rejected.problem is TokenProblem.SIGNATURE:
        return TokenRefused("Invalid issuer or signature.", _OTHER)
    return TokenRefused("Unsupported security token.", _OTHER)


def _expired(claims: dict[str, Any]) -> TokenRefused:
    start, end = iso(float(claims["nbf"])), iso(float(claims["exp"]))
    reason = f"The access token has expired. It's valid from '{start}' and to '{end}'."
    return TokenRefused(reason, _EXPIRED)


def _error_response(error: SharePointError, request: Request) -> Response:
    """An OData error: `{"error": …}` for verbose requests, `{"odata.error": …}` otherwise."""
    verbose = bool(_VERBOSE.search(request.headers.get("Accept") or ""))
    detail = {"code": error.code, "message": {"lang": _LANG, "value": error.message}}
    payload = {"error": detail} if verbose else {"odata.error": detail}
    fmt = ODataFormat.VERBOSE if verbose else ODataFormat.MINIMAL
    headers = Headers([("Content-Type", fmt.content_type), *error.headers])
    return Response(error.status, headers, json.dumps(payload, separators=(",", ":")).encode())
