"""Who signs in to Graph: an app registration's ids and its credential, as plain values.

Nothing here talks to the network or imports `requests`, so the configuration can build
these values without loading the HTTP stack; `graph.connect` turns them into a client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AppCredentials", "ClientCertificate", "ClientSecret", "Credential"]


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
