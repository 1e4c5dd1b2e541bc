"""Access-token providers: MSAL client credentials (secret or certificate), a static one for tests.

MSAL facts this relies on (graph-facts §11.5, verified against msal 1.39): the constructor fetches
the OIDC document (and, for hosts MSAL does not know, asks login.microsoftonline.com for
instance discovery unless `instance_discovery=False`); a cached token is reused until fewer
than 5 minutes remain; failures come back either as an error dict or as raised exceptions;
an identical request that got a 400 is answered from MSAL's HTTP cache for 60 s.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import msal
import requests
from msal.exceptions import MsalError, MsalServiceError

from ms365sync.errors import AuthError, ConfigError, redact
from ms365sync.graph.cloud import GLOBAL, Cloud
from ms365sync.graph.credentials import (
    CertificateError,
    ClientCertificate,
    ClientSecret,
    Credential,
    load_certificate,
)
from ms365sync.graph.session import Timeout, build_session, package_version

__all__ = [
    "ClientCertificate",
    "ClientSecret",
    "Credential",
    "MsalTokenProvider",
    "StaticTokenProvider",
    "TokenProvider",
]

# msal.authority.WELL_KNOWN_AUTHORITY_HOSTS (msal 1.39): for any other host MSAL asks
# login.microsoftonline.com for instance discovery unless told not to.
_MSAL_KNOWN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.de",
        "login-us.microsoftonline.com",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.sovcloud-identity.fr",
        "login.sovcloud-identity.de",
        "login.sovcloud-identity.sg",
    }
)

# What to do about the AADSTS errors an unattended client-credentials app meets.
_AADSTS_HINTS: Mapping[int, str] = {
    7000215: "use the client secret's Value, not its Secret ID, and check it was not rotated",
    7000222: "the client secret has expired: create a new one in the app registration",
    700016: "check client_id, and that the app is consented in this tenant",
    90002: "check tenant_id and the cloud (global, us-gov, china)",
    70011: "the scope is invalid: check the cloud / graph_url setting",
    700027: "the certificate is not registered on the app, or the thumbprint does not match it",
    7000112: "the application is disabled in this tenant",
    500011: "the resource (Graph) is not known in this tenant: check the cloud setting",
}
_AADSTS = re.compile(r"AADSTS(\d+)")
_AADSTS_SENTENCE = re.compile(r"AADSTS\d+:[^\"\\\r\n]*")
_TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class TokenProvider(Protocol):
    """Something that hands out a bearer token for Graph; thread-safe."""

    def token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """Return a valid access token; `force_refresh` discards the cached one first.

        `rejected` is the token Graph just refused: when the provider already holds another
        one (a concurrent worker renewed it), that one is returned instead of renewing again.

        Raises:
            AuthError: no token could be obtained.
        """
        ...


class StaticTokenProvider:
    """Fixed tokens for tests: each forced refresh moves on to the next one (the last sticks)."""

    def __init__(self, *tokens: str) -> None:
        self._tokens = tokens or ("static-test-token",)
        self._index = 0
        self._lock = threading.Lock()
        self.refreshes = 0

    def token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """The current token, after advancing to the next one when `force_refresh` is set."""
        with self._lock:
            if force_refresh and (rejected is None or rejected == self._tokens[self._index]):
                self.refreshes += 1
                self._index = min(self._index + 1, len(self._tokens) - 1)
            return self._tokens[self._index]


def _certificate_credential(cert: ClientCertificate) -> dict[str, str]:
    """MSAL's client_credential dict (the key decrypted, so a bad passphrase fails early).

    Raises:
        ConfigError: the certificate credential cannot be used (one line, no passphrase).
    """
    try:
        loaded = load_certificate(cert)
    except CertificateError as exc:
        raise ConfigError(
            exc.problem, file=cert.private_key_path, key=exc.key, expected=exc.expected
        ) from None
    return {"private_key": loaded.private_key_pem, "thumbprint": loaded.thumbprint}


class MsalTokenProvider:
    """App-only tokens for Graph from MSAL's ConfidentialClientApplication; thread-safe.

    MSAL is constructed on the first `token()` call (its constructor already talks to the
    network), so building a provider never fails on connectivity.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        credential: Credential,
        cloud: Cloud = GLOBAL,
        http_client: requests.Session | None = None,
        timeout: Timeout = (10.0, 30.0),
        clock: Callable[[], float] = time.monotonic,
        renew_margin: float = 300.0,
        min_refresh_interval: float = 10.0,
        scope: str | None = None,
    ) -> None:
        """Describe the app; `renew_margin` is how long before expiry a token is renewed;
        `scope` is what the tokens are for (Graph's, unless another resource is named, such
        as `https://contoso.sharepoint.com/.default` for SharePoint REST).

        `min_refresh_interval` coalesces forced refreshes: when many workers see the same
        401 at once, only the first evicts the token and the rest get the new one.
        """
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._credential = credential
        self._cloud = cloud
        self._authority = cloud.authority(tenant_id)
        self._scope = scope or cloud.scope
        self._http_client = http_client or build_session(
            ca_bundle=cloud.ca_bundle, timeout=timeout, pool_size=2
        )
        self._clock = clock
        self._renew_margin = renew_margin
        self._min_refresh_interval = min_refresh_interval
        self._lock = threading.Lock()
        self._app: Any = None
        self._token: str | None = None
        self._expires_at = float("-inf")
        self._forced_at = float("-inf")

    def token(self, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """A token valid for at least `renew_margin` seconds (when the server allows that).

        A forced refresh is skipped when the held token is not the `rejected` one (another
        worker renewed it already); without `rejected`, forced refreshes within
        `min_refresh_interval` of each other are coalesced.

        Raises:
            AuthError: the identity platform refused (with the AADSTS code) or was unreachable.
            ConfigError: the certificate or its private key could not be used.
        """
        with self._lock:
            now = self._clock()
            if self._token is not None:
                if force_refresh and rejected is not None and rejected != self._token:
                    return self._token  # another worker renewed it already
                recent = now - self._forced_at < self._min_refresh_interval
                if force_refresh and rejected is None and recent:
                    return self._token  # another worker renewed it a moment ago
                if not force_refresh and now < self._expires_at - self._renew_margin:
                    return self._token
            if force_refresh:
                self._evict()
                self._forced_at = now
            return self._acquire(now)

    def _evict(self) -> None:
        self._token = None
        if self._app is not None:
            self._app.remove_tokens_for_client()

    def _acquire(self, now: float) -> str:
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._scope])
        except (MsalError, requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
            raise self._exception_error(exc) from None
        if not isinstance(result, dict) or not result.get("access_token"):
            raise self._result_error(result if isinstance(result, dict) else {})
        token = str(result["access_token"])
        self._token = token
        self._expires_at = now + _seconds(result.get("expires_in"))
        return token

    def _application(self) -> Any:
        if self._app is None:
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._client_credential(),
                    authority=self._authority,
                    http_client=self._http_client,
                    instance_discovery=(
                        None if self._cloud.authority_host in _MSAL_KNOWN_HOSTS else False
                    ),
                    app_name="ms365sync",
                    app_version=package_version(),
                    token_cache=msal.TokenCache(),
                )
            except (MsalError, requests.RequestException, ValueError, KeyError) as exc:
                raise self._exception_error(exc) from None
        return self._app

    def _client_credential(self) -> str | dict[str, str]:
        if isinstance(self._credential, ClientSecret):
            return self._credential.value
        return _certificate_credential(self._credential)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets():
            text = text.replace(secret, "<redacted>")
        return redact(text)

    def _secrets(self) -> tuple[str, ...]:
        if isinstance(self._credential, ClientSecret):
            values: tuple[str | None, ...] = (self._credential.value,)
        else:
            values = (self._credential.passphrase,)
        return tuple(value for value in values if value and len(value) >= 4)

    def _result_error(self, result: Mapping[str, Any]) -> AuthError:
        description = str(result.get("error_description") or "no access token in the response")
        codes = result.get("error_codes") or []
        aadsts = int(codes[0]) if codes else _find_aadsts(description)
        error = str(result.get("error") or "") or None
        return AuthError(
            self._scrub(_first_line(description)),
            aadsts=aadsts,
            error=error,
            authority=self._authority,
            correlation_id=result.get("correlation_id"),
            hint=_hint(aadsts),
            retryable=error in _TRANSIENT_OAUTH_ERRORS,
        )

    def _exception_error(self, exc: BaseException) -> AuthError:
        chain = _exception_chain(exc)
        text = " ".join(str(link) for link in chain)
        aadsts = _find_aadsts(text)
        sentence = _AADSTS_SENTENCE.search(text)
        if isinstance(exc, requests.RequestException):
            message = f"cannot reach the identity platform ({type(exc).__name__}: {exc})"
        elif sentence:
            message = sentence.group(0)
        else:
            message = f"{type(exc).__name__}: {exc}"
        transient = isinstance(exc, MsalServiceError | requests.ConnectionError | requests.Timeout)
        tls = isinstance(exc, requests.exceptions.SSLError)
        return AuthError(
            self._scrub(message),
            aadsts=aadsts,
            authority=self._authority,
            hint="check the CA bundle (ca_bundle) and the system clock" if tls else _hint(aadsts),
            retryable=transient and not tls,
        )


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _find_aadsts(text: str) -> int | None:
    match = _AADSTS.search(text)
    return int(match.group(1)) if match else None


def _first_line(text: str) -> str:
    # error_description ends with "\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ..."
    return text.splitlines()[0] if text else text


def _hint(aadsts: int | None) -> str | None:
    if aadsts is None:
        return None
    return _AADSTS_HINTS.get(aadsts, f"see https://login.microsoftonline.com/error?code={aadsts}")


def _seconds(value: object) -> float:
    """expires_in as seconds; MSAL passes ints or numeric strings, and tolerates its absence."""
    if isinstance(value, int | float | str):
        try:
            return float(value)
        except ValueError:
            pass
    return 0.0  # unknown lifetime: do not cache locally, let MSAL's own cache decide
