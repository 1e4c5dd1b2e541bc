"""Self-signed client certificates, for syncs with certificate credentials."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make_certificate(
    folder: Path, *, passphrase: str | None = None, parts: str = "key+certificate"
) -> tuple[Path, bytes]:
    """A new key and certificate in `folder`/app.pem (key then certificate; `parts` may be
    "key" or "certificate" for just one of them), the key encrypted with `passphrase` if
    given; returns the path and the certificate's PEM, which an app registration is given."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ms365sync tests")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path = folder / "app.pem"
    chosen = {"key+certificate": key_pem + cert_pem, "key": key_pem, "certificate": cert_pem}
    path.write_bytes(chosen[parts])
    return path, cert_pem
