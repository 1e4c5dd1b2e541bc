"""Who signs in to Graph: an app registration's ids and its credential, as plain values.

Nothing here talks to the network or imports `requests`, so the configuration can build
these values without loading the HTTP stack; `graph.connect` turns them into a client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "AppCredentials",
    "CertificateError",
    "ClientCertificate",
    "ClientSecret",
    "Credential",
    "LoadedCertificate",
    "load_certificate",
]


@dataclass(frozen=True)
class ClientSecret:
    """An app registration's client secret (its Value, not its Secret ID)."""

    value: str = field(repr=False)


@dataclass(frozen=True)
class ClientCertificate:
    """A PEM file holding the private key (and usually the certificate, to derive the thumbprint).

    `thumbprint` is the certificate's SHA-1 thumbprint as the app registration shows it; when
    it is omitted it is computed from the certificate in the same PEM file.
    """

    private_key_path: Path
    thumbprint: str | None = None
    passphrase: str | None = field(default=None, repr=False)


Credential = ClientSecret | ClientCertificate


@dataclass(frozen=True)
class AppCredentials:
    """An app registration in a tenant (a GUID or a domain) and the credential it signs in with."""

    tenant_id: str
    client_id: str
    credential: Credential


class CertificateError(ValueError):
    """A certificate credential that cannot be used; `key` names the configuration key at
    fault, `problem` and `expected` word it (never the passphrase)."""

    def __init__(self, key: str, problem: str, expected: str) -> None:
        super().__init__(f"{key}: {problem} (expected {expected})")
        self.key, self.problem, self.expected = key, problem, expected


@dataclass(frozen=True)
class LoadedCertificate:
    """What MSAL signs its client assertions with: the key (decrypted) and the thumbprint."""

    private_key_pem: str = field(repr=False)
    thumbprint: str


_PEM_FILE = "a PEM file holding the private key and its certificate"


def load_certificate(cert: ClientCertificate) -> LoadedCertificate:
    """Read and check a certificate credential, as the configuration is loaded (so a bad
    one is a configuration error) and again at sign-in.

    Raises:
        CertificateError: unreadable, empty or not PEM; no private key; encrypted without a
            passphrase or with the wrong one; no thumbprint and no certificate to compute it.
    """
    try:
        pem = cert.private_key_path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CertificateError(
            "certificate_path", f"cannot read it ({reason})", _PEM_FILE
        ) from None
    if not pem.strip():
        raise CertificateError("certificate_path", "an empty file", _PEM_FILE)
    if b"-----BEGIN" not in pem:
        raise CertificateError("certificate_path", "not a PEM file (DER or other data)", _PEM_FILE)
    key = _private_key(pem, cert.passphrase)
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 -- certificates only

    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    thumbprint = _thumbprint(cert.thumbprint) if cert.thumbprint else _computed_thumbprint(pem)
    return LoadedCertificate(private_pem, thumbprint)


def _private_key(pem: bytes, passphrase: str | None) -> PrivateKeyTypes:
    if b"PRIVATE KEY-----" not in pem:
        raise CertificateError("certificate_path", "no private key in the file", _PEM_FILE)
    password = passphrase.encode() if passphrase else None
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415 -- certificates only

    try:
        return serialization.load_pem_private_key(pem, password=password)
    except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
        if password is None:
            raise CertificateError(
                "certificate_passphrase",
                "the private key is encrypted and no passphrase is given",
                "the key's passphrase",
            ) from None
        raise CertificateError(
            "certificate_passphrase",
            "a passphrase is given but the private key is not encrypted",
            "no certificate_passphrase for an unencrypted key",
        ) from None
    except ValueError:
        if password is not None:
            raise CertificateError(
                "certificate_passphrase",
                "cannot decrypt the private key (a wrong passphrase?)",
                "the passphrase the key was encrypted with",
            ) from None
        raise CertificateError(
            "certificate_path", "the private key cannot be read", _PEM_FILE
        ) from None


def _thumbprint(value: str) -> str:
    thumbprint = re.sub(r"[\s:]", "", value).upper()
    if not re.fullmatch(r"[0-9A-F]{40}", thumbprint):
        raise CertificateError(
            "certificate_thumbprint",
            "not a thumbprint",
            "40 hex digits (the SHA-1 thumbprint the app registration shows)",
        )
    return thumbprint


def _computed_thumbprint(pem: bytes) -> str:
    from cryptography import x509  # noqa: PLC0415 -- certificates only
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    try:
        certificate = x509.load_pem_x509_certificates(pem)[0]
    except ValueError:
        raise CertificateError(
            "certificate_thumbprint",
            "not given, and the PEM file holds no certificate to compute it from",
            "certificate_thumbprint, or the certificate in the same PEM file",
        ) from None
    # SHA-1 because that is the thumbprint Entra shows and MSAL sends as x5t when given one.
    return certificate.fingerprint(hashes.SHA1()).hex().upper()
