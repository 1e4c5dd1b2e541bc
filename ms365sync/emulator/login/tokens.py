"""App-only access tokens: issuing JWT-shaped tokens and validating them the way Graph does."""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import secrets
import threading
import uuid
from collections import OrderedDict
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ms365sync.emulator.login.delegated import DelegatedGrant
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
        # A v1 token asked for `resource=https://graph.microsoft.com/` names it as asked.
        f"{GRAPH_AUDIENCE}/",
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

    Tokens are JWTs signed RS256 under a per-emulator RSA key, as Entra signs them; the
    public key is published as a JWK set (`jwks()`, served at the discovery document's
    `jwks_uri`) under the `kid` the tokens' header names, so a client that validates tokens
    can. Only the `uti` of a revoked token is remembered, never the token.
    """

    def __init__(self, clock: Clock, lifetime_s: int, key: rsa.RSAPrivateKey | None = None) -> None:
        self._clock = clock
        self.lifetime_s = lifetime_s
        # Made on first use: an RSA key costs ~80 ms, and many emulators never sign.
        self._key = key
        self._public_jwk: dict[str, str] | None = None
        self._revoked: dict[str, float] = {}  # uti -> exp
        # Recently verified tokens, keyed by their SHA-256 so no token is kept in memory.
        self._verified: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _signing_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    @property
    def kid(self) -> str:
        """The key id tokens name in their header: a digest of the public key."""
        return self._jwk()["kid"]

    def _jwk(self) -> dict[str, str]:
        if self._public_jwk is not None:
            return dict(self._public_jwk)
        numbers = self._signing_key().public_key().public_numbers()
        modulus = b64url(_int_bytes(numbers.n))
        self._public_jwk = {
            "kty": "RSA",
            "use": "sig",
            # Entra's kids are base64url thumbprint-like strings; ours digests the modulus.
            "kid": b64url(hashlib.sha256(modulus.encode()).digest()[:20]),
            "n": modulus,
            "e": b64url(_int_bytes(numbers.e)),
        }
        return dict(self._public_jwk)

    def jwks(self) -> dict[str, Any]:
        """The public signing keys as a JWK set (the body of the `jwks_uri` document)."""
        return {"keys": [self._jwk()]}

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
        return self.sign(claims), claims

    def issue_delegated(
        self, grant: DelegatedGrant, *, confidential: bool, app_name: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A signed Graph token for a user through a client, and its claims.

        The claims follow Entra's v1 delegated Graph tokens: `idtyp` user, `oid` the user's
        object id, `scp` the space-separated delegated scopes, `appidacr` 0 for a public
        client and 1 for one that authenticated with a secret, no `roles`.
        """
        now = int(self._clock.now())
        issuer = f"https://sts.windows.net/{grant.tenant_id}/"
        pairwise = f"sub:{grant.tenant_id}:{grant.client_id}:{grant.user_id}"
        claims: dict[str, Any] = {
            "aud": GRAPH_AUDIENCE,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "amr": ["pwd"],
            "app_displayname": app_name or grant.client_id,
            "appid": grant.client_id,
            "appidacr": "1" if confidential else "0",
            "idp": issuer,
            "idtyp": "user",
            "name": grant.name,
            "oid": grant.user_id,
            "scp": " ".join(grant.scopes),
            "sub": b64url(hashlib.sha256(pairwise.encode()).digest()),
            "tid": grant.tenant_id,
            "unique_name": grant.upn,
            "upn": grant.upn,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        return self.sign(claims), claims

    def sign(self, claims: dict[str, Any]) -> str:
        """The compact JWS of these claims, RS256 under this authority's key."""
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        key = self._signing_key()
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def _signature_ok(self, signing_input: str, signature: bytes) -> bool:
        try:
            self._signing_key().public_key().verify(
                signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return False
        return True

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
            signature = b64url_decode(parts[2])
            if not isinstance(header, dict) or not isinstance(claims, dict):
                raise ValueError("not JSON objects")
        except ValueError:
            raise BadTokenError(TokenProblem.MALFORMED) from None
        signed = f"{parts[0]}.{parts[1]}"
        if header.get("alg") != "RS256" or not self._signature_ok(signed, signature):
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


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
