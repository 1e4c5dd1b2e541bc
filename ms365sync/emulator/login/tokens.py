"""App-only access tokens: issuing JWT-shaped tokens and validating them the way Graph does."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections import OrderedDict
from typing import Any

from ms365sync.emulator.login.directory import AppRegistration, Directory
from ms365sync.emulator.msgraph.exceptions import InvalidAuthenticationToken
from ms365sync.emulator.tenant.clock import Clock

GRAPH_AUDIENCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# A token for https://{tenant}.sharepoint.com/.default names SharePoint's app id as its
# audience (graph-facts §16.1).
SHAREPOINT_APP_ID = "00000003-0000-0ff1-ce00-000000000000"
# The audiences a Graph token may carry: the public and national clouds, and Graph's app id.
GRAPH_AUDIENCES = frozenset(
    {
        GRAPH_AUDIENCE,
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
        "https://microsoftgraph.chinacloudapi.cn",
        GRAPH_APP_ID,
    }
)
# What Graph sends with every 401 (samples/08-401-headers.real-2022.http).
WWW_AUTHENTICATE = (
    'Bearer realm="", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
_CACHE_SIZE = 1024


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The inverse of b64url; raises ValueError on bad input."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unauthenticated(message: str) -> InvalidAuthenticationToken:
    """Graph's 401 InvalidAuthenticationToken with its WWW-Authenticate header."""
    return InvalidAuthenticationToken(message, headers=[("WWW-Authenticate", WWW_AUTHENTICATE)])


class TokenProblem(enum.Enum):
    """Why a bearer token is refused, before any service words it its own way."""

    EMPTY = "empty"
    MALFORMED = "malformed"
    SIGNATURE = "signature"
    EXPIRED = "expired"


class BadTokenError(Exception):
    """A bearer token that is not one of the emulator's valid tokens; an expired one keeps
    its `claims` (services word its validity period)."""

    def __init__(self, problem: TokenProblem, claims: dict[str, Any] | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.claims = claims


# How Graph words each problem (graph-facts §10.3).
_GRAPH_WORDS = {
    TokenProblem.EMPTY: "Access token is empty.",
    TokenProblem.MALFORMED: "CompactToken parsing failed with error code: 80049217",
    TokenProblem.SIGNATURE: "Access token validation failure.",
    TokenProblem.EXPIRED: "Access token has expired or is not yet valid.",
}


class TokenAuthority:
    """Issues and validates the emulator's access tokens.

    Tokens are header.claims.signature in base64url with an HMAC-SHA256 signature under a
    per-emulator key: the shape of Entra tokens without their RSA signing, which no client
    may verify anyway (Graph tokens are opaque to apps). Only the `uti` of a revoked token
    is remembered, never the token.
    """

    def __init__(self, clock: Clock, lifetime_s: int, key: bytes | None = None) -> None:
        self._clock = clock
        self.lifetime_s = lifetime_s
        self._key = key or secrets.token_bytes(32)
        self._revoked: dict[str, float] = {}  # uti -> exp
        # Recently verified tokens, keyed by their SHA-256 so no token is kept in memory.
        self._verified: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(
        self,
        directory: Directory,
        app: AppRegistration,
        *,
        audience: str,
        certificate: bool,
        roles: list[str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A signed token for this app and its claims.

        The claims follow the v1 access tokens Graph and SharePoint receive for app-only
        calls: `iss` https://sts.windows.net/{tid}/, `appidacr` 1 for a secret and 2 for a
        certificate, `roles` (the app's roles on the audience's API, by default its Graph
        roles) only when there are any.
        """
        roles = app.roles if roles is None else roles
        now = int(self._clock.now())
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{directory.tenant_id}:{app.client_id}"))
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{directory.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "2" if certificate else "1",
            "idp": f"https://sts.windows.net/{directory.tenant_id}/",
            "idtyp": "app",
            "oid": oid,
            "sub": oid,
            "tid": directory.tenant_id,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if roles:
            claims["roles"] = sorted(roles)
        return self._sign(claims), claims

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "HS256", "kid": "emulator"}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        return f"{signing_input}.{self._mac(signing_input)}"

    def _mac(self, signing_input: str) -> str:
        return b64url(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())

    def validate(self, authorization: str | None) -> dict[str, Any]:
        """The claims of a valid Graph bearer token from an Authorization header value.

        Raises GraphError 401 InvalidAuthenticationToken (empty, unparsable, bad signature,
        wrong audience, expired or revoked) exactly as Graph words them (graph-facts §10.3).
        """
        try:
            claims = self.check(authorization)
        except BadTokenError as rejected:
            raise unauthenticated(_GRAPH_WORDS[rejected.problem]) from None
        if claims.get("aud") not in GRAPH_AUDIENCES:
            raise unauthenticated("Access token validation failure. Invalid audience.")
        return claims

    def check(self, authorization: str | None) -> dict[str, Any]:
        """The claims of one of this emulator's unexpired, unrevoked tokens, whatever its
        audience; raises BadTokenError saying why not."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise BadTokenError(TokenProblem.EMPTY)
        claims = self._verified_claims(token)
        now = self._clock.now()
        if not claims["nbf"] <= now < claims["exp"] or claims["uti"] in self._revoked:
            raise BadTokenError(TokenProblem.EXPIRED, claims)
        return claims

    def _verified_claims(self, token: str) -> dict[str, Any]:
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        with self._lock:
            cached = self._verified.get(digest)
            if cached is not None:
                self._verified.move_to_end(digest)
                return cached
        claims = self._parse_and_verify(token)
        with self._lock:
            self._verified[digest] = claims
            if len(self._verified) > _CACHE_SIZE:
                self._verified.popitem(last=False)
        return claims

    def _parse_and_verify(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not three parts")
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            b64url_decode(parts[2])
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not JSON objects")
        except ValueError:
            raise BadTokenError(TokenProblem.MALFORMED) from None
        expected = self._mac(f"{parts[0]}.{parts[1]}")
        if header.get("alg") != "HS256" or not hmac.compare_digest(expected, parts[2]):
            raise BadTokenError(TokenProblem.SIGNATURE)
        if not all(isinstance(claims.get(k), (int, float)) for k in ("nbf", "exp")):
            raise BadTokenError(TokenProblem.SIGNATURE)
        return claims

    def revoke(self, claims: dict[str, Any]) -> None:
        """Make the token with these claims invalid from now on."""
        with self._lock:
            now = self._clock.now()
            self._revoked = {u: exp for u, exp in self._revoked.items() if exp > now}
            self._revoked[str(claims["uti"])] = float(claims["exp"])
