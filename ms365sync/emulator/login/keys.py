"""A key pair and self-signed certificate for an app registration, as an app owner makes one
to sign client assertions (SharePoint REST takes only certificate-based app tokens)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class AppCertificate:
    """PEM private key and certificate, and the SHA-1 thumbprint MSAL asks for (hex)."""

    key_pem: bytes
    cert_pem: bytes
    thumbprint: str


def make_app_certificate(name: str, *, days: int = 365) -> AppCertificate:
    """A fresh 2048-bit RSA key and a certificate for it, valid from yesterday for `days`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return AppCertificate(
        key_pem,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.fingerprint(hashes.SHA1()).hex(),
    )
