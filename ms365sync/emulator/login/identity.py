"""The login service as MSAL and delegated clients call it: OIDC and instance discovery, the
signing keys, the v2.0 token endpoint (client credentials, refresh tokens) and the v1 one."""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from ms365sync.emulator.login.assertion import verify_client_assertion
from ms365sync.emulator.login.delegated import (
    DEFAULT_SCOPES,
    RCLONE_CLIENT_ID,
    REFRESH_LIFETIME_S,
    DelegatedGrant,
    DirectoryUser,
    RefreshTokens,
)
from ms365sync.emulator.login.directory import AppRegistration, Directory
from ms365sync.emulator.login.discovery import LOOPBACK_NAMES, instance_metadata, oidc_document
from ms365sync.emulator.login.exceptions import (
    IdentityError,
    InvalidClient,
    InvalidInstance,
    InvalidRequest,
    InvalidResource,
    InvalidScope,
    InvalidTenant,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ms365sync.emulator.login.tokens import (
    GRAPH_APP_ID,
    GRAPH_AUDIENCE,
    GRAPH_AUDIENCES,
    SHAREPOINT_APP_ID,
    TokenAuthority,
)
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.hosts import SHAREPOINT_SUFFIXES, HostMap
from ms365sync.emulator.transport.http import Headers, Request, Response

CONTENT_TYPE = "application/json; charset=utf-8"
# The multi-tenant authorities a work-account directory answers for ("consumers", the
# personal-account one, is not emulated). They name no tenant: Entra refuses client
# credentials on them (AADSTS50059) and their discovery document's issuer keeps the
# `{tenantid}` placeholder.
ALIAS_TENANTS = frozenset({"common", "organizations"})


def identity_error_body(error: IdentityError, request: Request, now: float) -> dict[str, Any]:
    """The identity platform's error body (samples/10-token-error-*): Trace ID is our request id,
    Correlation ID the client-request-id the client sent (MSAL sends one)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(now))
    trace, correlation = request.request_id, request.client_request_id
    return {
        "error": error.error,
        "error_description": (
            f"AADSTS{error.aadsts}: {error.description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [error.aadsts],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.aadsts}",
    }


def _json(status: int, payload: dict[str, Any], cache_control: str) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = Headers([("Content-Type", CONTENT_TYPE), ("Cache-Control", cache_control)])
    if cache_control.startswith("no-store"):
        headers.add("Pragma", "no-cache")
    return Response(status, headers, body)


def _missing(name: str) -> IdentityError:
    return InvalidRequest(
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def _unknown_tenant(tenant: str) -> IdentityError:
    return InvalidTenant(
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    )


def _no_tenant() -> IdentityError:
    return InvalidRequest(
        50059,
        "No tenant-identifying information found in either the request or implied by any "
        "provided credentials.",
    )


class IdentityService:
    """Answers login-host requests for one directory, issuing tokens from `tokens`.

    `refresh` holds the delegated refresh tokens; its `lifetime_s` (default Entra's 90 days,
    sliding) may be changed at any time.
    """

    def __init__(
        self,
        directory: Directory,
        tokens: TokenAuthority,
        clock: Clock,
        hosts: HostMap,
        *,
        refresh_lifetime_s: int = REFRESH_LIFETIME_S,
    ) -> None:
        self.directory = directory
        self.tokens = tokens
        self.clock = clock
        self.hosts = hosts
        self.refresh = RefreshTokens(clock, refresh_lifetime_s)

    def handle(self, request: Request) -> Response:
        """Dispatch by path; identity errors become AADSTS bodies."""
        segments = request.path.strip("/").split("/")
        tenant, rest = segments[0], "/".join(segments[1:])
        routes: dict[str, Callable[[Request, str], Response]] = {
            "v2.0/.well-known/openid-configuration": self.openid_configuration,
            "discovery/v2.0/keys": self.keys,
            "discovery/keys": self.keys,
            "oauth2/v2.0/token": self.token,
            "oauth2/token": self.token_v1,
        }
        try:
            if tenant == "common" and rest == "discovery/instance":
                return self.instance_discovery(request)
            if rest in routes:
                return routes[rest](request, tenant)
        except IdentityError as error:
            body = identity_error_body(error, request, self.clock.now())
            return _json(error.status, body, "no-store, no-cache")
        return Response(404, Headers([("Content-Type", "text/plain")]), b"Not Found")

    def _check_tenant(self, tenant: str) -> bool:
        """True for `common` or `organizations`; raises IdentityError 400 invalid_tenant
        (AADSTS90002) for a name that is neither those nor this tenant's id or domain."""
        if tenant.lower() in ALIAS_TENANTS:
            return True
        if not self.directory.knows_tenant(tenant):
            raise _unknown_tenant(tenant)
        return False

    def openid_configuration(self, request: Request, tenant: str) -> Response:
        """The v2.0 discovery document, endpoints on the request's own origin.

        For a tenant id or domain the endpoints name the tenant GUID; for `common` and
        `organizations` they keep the alias and the issuer is Entra's
        `.../{tenantid}/v2.0` template (with `tenant_region_scope` null). Raises
        IdentityError 400 invalid_tenant (AADSTS90002) for an unknown tenant.
        """
        alias = self._check_tenant(tenant)
        named = tenant.lower() if alias else self.directory.tenant_id
        document = oidc_document(request.base_url, request.host, named, alias=alias)
        return _json(200, document, "max-age=86400, private")

    def keys(self, request: Request, tenant: str) -> Response:
        """GET the `jwks_uri`: the public keys the emulator's tokens are signed with.

        Raises IdentityError 400 invalid_tenant (AADSTS90002) for an unknown tenant.
        """
        self._check_tenant(tenant)
        return _json(200, self.tokens.jwks(), "max-age=86400, private")

    def instance_discovery(self, request: Request) -> Response:
        """GET /common/discovery/instance: where the authority's OIDC document lives.

        Like the real service it only knows Microsoft's login hosts: any other authority host
        gets 400 invalid_instance (MSAL then tells the caller to pass instance_discovery=False).
        """
        endpoint = request.query.get("authorization_endpoint", "")
        parts = urlsplit(endpoint)
        if (parts.hostname or "") not in self.hosts.login_hosts:
            raise InvalidInstance(50049, "Unknown or invalid instance.")
        tenant = parts.path.strip("/").split("/")[0] or "common"
        return _json(
            200,
            {
                "tenant_discovery_endpoint": (
                    f"{request.base_url}/{tenant}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": instance_metadata(),
            },
            "max-age=86400, private",
        )

    def token(self, request: Request, tenant: str) -> Response:
        """POST /{tenant}/oauth2/v2.0/token: grant_type client_credentials or refresh_token.

        Raises IdentityError with the real status, error name and AADSTS code for each
        failure (graph-facts §11.3); 400 invalid_request AADSTS50059 for client credentials
        on `common` or `organizations`.
        """
        _check_post(request)
        alias = self._check_tenant(tenant)
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        basic_id, basic_secret = _basic_credentials(request)
        grant_type = _check_grant(form.get("grant_type"), ("client_credentials", "refresh_token"))
        if grant_type == "refresh_token":
            return self._refresh(form, basic_id, basic_secret)
        if alias:
            raise _no_tenant()
        app = self._app(form.get("client_id") or basic_id, tenant)
        certificate = self._authenticate(app, form, basic_secret, request, tenant)
        audience = self._audience(form.get("scope"), tenant)
        roles = app.roles_on_sharepoint if audience == SHAREPOINT_APP_ID else app.roles
        token, _claims = self.tokens.issue(
            self.directory, app, audience=audience, certificate=certificate, roles=roles
        )
        lifetime = self.tokens.lifetime_s
        payload = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return _json(200, payload, "no-store, no-cache")

    def token_v1(self, request: Request, tenant: str) -> Response:
        """POST /{tenant}/oauth2/token: the v1 endpoint's client credentials with `resource`.

        Answers v1 fields (counts and times as strings, `resource` echoed) and a token whose
        `aud` is the resource. Raises IdentityError as `token` does; 400 invalid_resource
        (AADSTS500011) for a resource the tenant has no service principal for.
        """
        _check_post(request)
        alias = self._check_tenant(tenant)
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        basic_id, basic_secret = _basic_credentials(request)
        _check_grant(form.get("grant_type"), ("client_credentials",))
        if alias:
            raise _no_tenant()
        app = self._app(form.get("client_id") or basic_id, tenant)
        certificate = self._authenticate(app, form, basic_secret, request, tenant)
        resource = form.get("resource")
        if not resource:
            raise _missing("resource")
        audience = self._v1_audience(resource, tenant)
        roles = app.roles_on_sharepoint if audience == SHAREPOINT_APP_ID else app.roles
        token, claims = self.tokens.issue(
            self.directory, app, audience=audience, certificate=certificate, roles=roles
        )
        lifetime = str(self.tokens.lifetime_s)
        payload = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "expires_on": str(claims["exp"]),
            "not_before": str(claims["nbf"]),
            "resource": resource,
            "access_token": token,
        }
        return _json(200, payload, "no-store, no-cache")

    def _v1_audience(self, resource: str, tenant: str) -> str:
        try:
            audience = self._audience(resource.rstrip("/") + "/.default", tenant)
        except InvalidScope:
            raise InvalidResource(
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{tenant}. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You "
                "might have sent your authentication request to the wrong tenant.",
            ) from None
        if audience == SHAREPOINT_APP_ID:
            return audience
        return resource if resource in GRAPH_AUDIENCES else audience

    def mint_delegated(
        self,
        user: DirectoryUser,
        client_id: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> dict[str, Any]:
        """A delegated token pair for `user` through `client_id` (default rclone's), as if
        the user had signed in interactively and consented to `scopes`.

        Returns the v2.0 token response (token_type, scope, expires_in, ext_expires_in,
        access_token, refresh_token) plus `expiry`, the access token's expiry in RFC 3339.
        """
        grant = DelegatedGrant.for_user(
            self.directory.tenant_id, user, client_id or RCLONE_CLIENT_ID, tuple(scopes)
        )
        app = self.directory.apps.get(grant.client_id)
        return self._delegated_payload(grant, confidential=app is not None)

    def _delegated_payload(self, grant: DelegatedGrant, *, confidential: bool) -> dict[str, Any]:
        app = self.directory.apps.get(grant.client_id)
        access, claims = self.tokens.issue_delegated(
            grant, confidential=confidential, app_name=app.display_name if app else None
        )
        lifetime = self.tokens.lifetime_s
        expiry = datetime.fromtimestamp(claims["exp"], tz=timezone.utc)
        return {
            "token_type": "Bearer",
            "scope": " ".join(grant.scopes),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
            "refresh_token": self.refresh.issue(grant),
            "expiry": expiry.isoformat().replace("+00:00", "Z"),
        }

    def _refresh(
        self,
        form: dict[str, str],
        basic_id: str | None,
        basic_secret: str | None,
    ) -> Response:
        """The refresh_token grant: a new access token and a new refresh token.

        The client authenticates with HTTP Basic or `client_secret` when it is an app of this
        directory (a confidential client); any other client id is taken as a consented
        multi-tenant public client (rclone's, say), its secret unchecked.
        """
        client_id = form.get("client_id") or basic_id
        if not client_id:
            raise _missing("client_id")
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise _missing("refresh_token")
        app = self.directory.apps.get(client_id)
        secret = form.get("client_secret") or basic_secret
        if app is not None:
            self._check_secret(app, secret, "refresh_token")
        grant = self.refresh.redeem(refresh_token, client_id)
        payload = self._delegated_payload(grant, confidential=bool(secret))
        del payload["expiry"]
        return _json(200, payload, "no-store, no-cache")

    def _app(self, client_id: str | None, tenant: str) -> AppRegistration:
        if not client_id:
            raise _missing("client_id")
        app = self.directory.apps.get(client_id)
        if app is None:
            raise UnauthorizedClient(
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may "
                "have sent your authentication request to the wrong tenant.",
            )
        return app

    def _authenticate(
        self,
        app: AppRegistration,
        form: dict[str, str],
        basic_secret: str | None,
        request: Request,
        tenant: str,
    ) -> bool:
        """Check the credential; True when it was a certificate assertion."""
        if form.get("client_assertion") or form.get("client_assertion_type"):
            verify_client_assertion(
                app,
                form.get("client_assertion", ""),
                form.get("client_assertion_type", ""),
                self._token_audiences(request, tenant),
                self.clock.wall(),
            )
            return True
        self._check_secret(app, form.get("client_secret") or basic_secret, "client_credentials")
        return False

    @staticmethod
    def _check_secret(app: AppRegistration, secret: str | None, grant_type: str) -> None:
        """Raises IdentityError 401 invalid_client: AADSTS7000216 without a secret,
        AADSTS7000215 for a wrong one."""
        if not secret:
            raise InvalidClient(
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                f"'{grant_type}' grant type.",
            )
        if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.secrets):
            raise InvalidClient(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )

    def _token_audiences(self, request: Request, tenant: str) -> set[str]:
        """Token endpoint URLs a client assertion may name as `aud` for this request."""
        tenants = {tenant, self.directory.tenant_id, *self.directory.domains}
        return {f"{request.base_url}/{t}/oauth2/v2.0/token".lower() for t in tenants} | {
            f"{request.base_url}/{t}/oauth2/token".lower() for t in tenants
        }

    def _audience(self, scope: str | None, tenant: str) -> str:
        """The token audience for a `{resource}/.default` scope.

        Accepted: Graph of every cloud, Graph's app id, the emulator's own origins (loopback,
        for Graph), and the tenant's SharePoint hosts (graph-facts §16.1). Raises
        IdentityError 400 invalid_resource (AADSTS500011) for another tenant's SharePoint
        host, 400 invalid_scope (AADSTS70011) for anything else.
        """
        if not scope:
            raise _missing("scope")
        text = scope.strip()
        resource = text.lower().removesuffix("/.default")
        audience = self._graph_audience(resource) if resource != text.lower() else None
        if audience is None and " " not in text and resource != text.lower():
            audience = self._sharepoint_audience(resource, tenant)
        if audience is None or " " in text:
            raise InvalidScope(
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope "
                f"{scope} is not valid.",
            )
        return audience

    def _sharepoint_audience(self, resource: str, tenant: str) -> str | None:
        parts = urlsplit(resource)
        host = parts.hostname or ""
        if parts.scheme != "https" or parts.path not in ("", "/"):
            return None
        if host in self.directory.sharepoint_hosts:
            return SHAREPOINT_APP_ID
        if host.endswith(SHAREPOINT_SUFFIXES):
            raise InvalidResource(
                500011,
                f"The resource principal named https://{host} was not found in the tenant "
                f"named {tenant}. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. "
                "You might have sent your authentication request to the wrong tenant.",
            )
        return None

    def _graph_audience(self, resource: str) -> str | None:
        if resource == GRAPH_APP_ID:
            return GRAPH_AUDIENCE
        parts = urlsplit(resource)
        host = parts.hostname or ""
        if parts.scheme != "https" or parts.path not in ("", "/"):
            return None
        if host in self.hosts.graph_hosts:
            named = f"https://{host}"
            return named if named in GRAPH_AUDIENCES else GRAPH_AUDIENCE
        return GRAPH_AUDIENCE if host in LOOPBACK_NAMES else None


def _check_post(request: Request) -> None:
    if request.method != "POST":
        raise InvalidRequest(
            900561,
            f"The endpoint only accepts POST, OPTIONS requests. Received a {request.method} "
            "request.",
        )


def _check_grant(grant_type: str | None, supported: tuple[str, ...]) -> str:
    if not grant_type:
        raise _missing("grant_type")
    if grant_type not in supported:
        raise UnsupportedGrantType(
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    return grant_type


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """client_id and secret from HTTP Basic auth (RFC 6749 §2.3.1: form-encoded, then base64)."""
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:
        return None, None
    user, _, password = decoded.partition(":")
    return unquote_plus(user), unquote_plus(password)
