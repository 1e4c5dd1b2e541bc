"""Verification of certificate client assertions: RFC 7523 JWTs signed with a registered key."""

from __future__ import annotations

import binascii
import functools
import json
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.login.exceptions import (
    IdentityError,
    InvalidClient,
    InvalidRequest,
)
from ms365sync.emulator.login.tokens import b64url_decode

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Entra tolerates this much clock skew on assertion times.
CLOCK_SKEW_S = 300


@functools.lru_cache(maxsize=256)
def _certificate(pem: bytes) -> tuple[bytes, bytes, x509.Certificate]:
    """(SHA-1, SHA-256 thumbprint, certificate) of a registered PEM certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    return cert.fingerprint(hashes.SHA1()), cert.fingerprint(hashes.SHA256()), cert


def _invalid_client(aadsts: int, description: str) -> IdentityError:
    return InvalidClient(aadsts, description)


def _malformed() -> IdentityError:
    return _invalid_client(50027, "JWT token is invalid or malformed.")


def _parse(assertion: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS; raises AADSTS50027."""
    parts = assertion.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header, claims = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError:
        raise _malformed() from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _malformed()
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _find_key(app: AppRegistration, header: dict[str, Any]) -> x509.Certificate:
    """The registered certificate named by the x5t#S256 or x5t header (thumbprints)."""
    wanted: list[tuple[int, bytes]] = []
    for index, name in ((1, "x5t#S256"), (0, "x5t")):
        value = header.get(name)
        if isinstance(value, str):
            try:
                wanted.append((index, b64url_decode(value.rstrip("="))))
            except (ValueError, binascii.Error):
                raise _malformed() from None
    if not wanted:
        raise _invalid_client(
            50027, "Invalid JWT token. No certificate thumbprint specified in token header."
        )
    for pem in app.certificates:
        prints = _certificate(pem)
        if any(prints[index] == thumbprint for index, thumbprint in wanted):
            return prints[2]
    shown = wanted[0][1].hex().upper()
    raise _invalid_client(
        700027,
        "Client assertion contains an invalid signature. [Reason - The key was not found., "
        f"Thumbprint of key used by client: '{shown}', Please visit the Azure Portal, Graph "
        f"Explorer or directly use MS Graph to see configured keys for app Id '{app.client_id}'.]",
    )


def _verify_signature(cert: x509.Certificate, alg: object, data: bytes, signature: bytes) -> None:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or alg not in ("RS256", "PS256"):
        raise _invalid_client(50027, f"Invalid JWT token. Unsupported signing algorithm '{alg}'.")
    scheme: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    )
    try:
        key.verify(signature, data, scheme, hashes.SHA256())
    except InvalidSignature:
        raise _invalid_client(
            700027,
            "Client assertion contains an invalid signature. [Reason - The provided signature "
            "value did not match the expected signature value.]",
        ) from None


def _check_claims(
    app: AppRegistration, claims: dict[str, Any], audiences: set[str], now: float
) -> None:
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise _invalid_client(
            700021, "Client assertion application identifier doesn't match 'client_id' parameter."
        )
    audience = claims.get("aud")
    if not isinstance(audience, str) or audience.lower() not in audiences:
        raise _invalid_client(
            50013,
            f"Assertion audience claim does not match the required value. The audience in the "
            f"assertion was '{audience}' and the expected audience is one of the token endpoint "
            "URLs of this tenant.",
        )
    expires, not_before = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(expires, (int, float)) or not isinstance(not_before, (int, float)):
        raise _malformed()
    if not not_before - CLOCK_SKEW_S <= now < expires + CLOCK_SKEW_S:
        shown = datetime.fromtimestamp(now, tz=timezone.utc).isoformat()
        raise _invalid_client(
            700024,
            f"Client assertion is not within its valid time range. Current time: {shown}, "
            f"assertion valid from {not_before}, expiry time of assertion {expires}.",
        )


def verify_client_assertion(
    app: AppRegistration, assertion: str, assertion_type: str, audiences: set[str], now: float
) -> None:
    """Check a client assertion the way Entra does for private_key_jwt.

    `audiences` are the lower-cased token endpoint URLs the `aud` may name; `now` is the wall
    clock (the client stamps assertions with its own, unadvanced clock). Raises IdentityError
    (invalid_request / invalid_client with AADSTS codes) on the first failed check.
    """
    if assertion_type != JWT_BEARER or not assertion:
        raise InvalidRequest(
            90014,
            "The required fields 'client_assertion' and 'client_assertion_type' "
            f"('{JWT_BEARER}') must both be present.",
        )
    header, claims, signing_input, signature = _parse(assertion)
    cert = _find_key(app, header)
    _verify_signature(cert, header.get("alg"), signing_input, signature)
    _check_claims(app, claims, audiences, now)
