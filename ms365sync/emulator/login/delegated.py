"""Delegated (user) tokens: the grant a user gave a client, rotating refresh tokens, and what
Graph lets a delegated caller do."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Protocol

from ms365sync.emulator.login.directory import (
    GROUP_READ_ROLES,
    READ_ROLES,
    SITES_SELECTED,
    USER_READ_ROLES,
    AppRegistration,
    Directory,
)
from ms365sync.emulator.login.exceptions import InvalidGrant
from ms365sync.emulator.tenant.clock import Clock

# rclone's built-in OneDrive client id (a multi-tenant public app): the default client of
# `mint_delegated` and `ms365sync emulator token`.
RCLONE_CLIENT_ID = "b15665d9-eda6-4092-8539-0eec376afd59"
# What rclone asks for (backend/onedrive/onedrive.go `scopeAccess`, plus Sites.Read.All).
DEFAULT_SCOPES = (
    "Files.Read",
    "Files.ReadWrite",
    "Files.Read.All",
    "Files.ReadWrite.All",
    "Sites.Read.All",
    "offline_access",
)
# OIDC scopes: asked for, never in `scp`.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
# Entra's default refresh token lifetime outside single-page apps (SPAs: 24 h): "90 days for
# all other scenarios" (learn.microsoft.com, refresh-tokens.md).
REFRESH_LIFETIME_S = 90 * 86400
_DELEGATED_ROLES = READ_ROLES | GROUP_READ_ROLES | USER_READ_ROLES | {SITES_SELECTED}


class DirectoryUser(Protocol):
    """A tenant user as the identity platform needs it (tenant.model.User is one)."""

    @property
    def id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def user_principal_name(self) -> str: ...


@dataclass(frozen=True)
class DelegatedGrant:
    """What a user consented a client to do: the client, the user and the scopes (no OIDC
    scopes), in one tenant."""

    tenant_id: str
    client_id: str
    user_id: str
    upn: str
    name: str
    scopes: tuple[str, ...]

    @classmethod
    def for_user(
        cls, tenant_id: str, user: DirectoryUser, client_id: str, scopes: tuple[str, ...]
    ) -> DelegatedGrant:
        """The grant of `scopes` (OIDC scopes dropped, Graph's prefix removed) to a client."""
        named = tuple(
            dict.fromkeys(
                s.removeprefix("https://graph.microsoft.com/")
                for s in scopes
                if s.lower() not in OIDC_SCOPES
            )
        )
        upn, name = user.user_principal_name, user.display_name
        return cls(tenant_id, client_id, user.id, upn, name, named)


@dataclass(frozen=True)
class _Record:
    grant: DelegatedGrant
    expires_at: float


class RefreshTokens:
    """Opaque refresh tokens, remembered by their SHA-256 only.

    Each redemption issues a new token with a fresh lifetime (Entra's refresh tokens
    "replace themselves with a fresh token upon every use", so the lifetime slides); the
    redeemed token is not revoked and stays valid until its own expiry, as Entra's do
    ("refresh tokens aren't revoked when used to acquire new access tokens").
    """

    def __init__(self, clock: Clock, lifetime_s: int = REFRESH_LIFETIME_S) -> None:
        self._clock = clock
        self.lifetime_s = lifetime_s
        self._records: dict[bytes, _Record] = {}
        self._lock = threading.Lock()

    def issue(self, grant: DelegatedGrant) -> str:
        """A new refresh token for `grant`, valid for `lifetime_s` from now."""
        token = "1.A" + secrets.token_urlsafe(96)
        now = self._clock.now()
        with self._lock:
            self._records = {k: r for k, r in self._records.items() if r.expires_at > now}
            self._records[_digest(token)] = _Record(grant, now + self.lifetime_s)
        return token

    def redeem(self, token: str, client_id: str) -> DelegatedGrant:
        """The grant of a valid refresh token issued to `client_id`.

        Raises IdentityError 400 invalid_grant: AADSTS9002313 for a token the emulator
        never issued, AADSTS70000 for one issued to another client, AADSTS70008 when expired.
        """
        with self._lock:
            record = self._records.get(_digest(token))
        if record is None:
            raise InvalidGrant(9002313, "Invalid request. Request is malformed or invalid.")
        if record.grant.client_id != client_id:
            raise InvalidGrant(70000, "Provided grant is invalid or malformed.")
        if self._clock.now() >= record.expires_at:
            raise InvalidGrant(
                70008,
                "The provided authorization code or refresh token has expired due to "
                "inactivity. Send a new interactive authorization request for this user and "
                "resource.",
            )
        return record.grant


def graph_caller(directory: Directory, claims: dict[str, object]) -> AppRegistration | None:
    """Who a Graph token speaks for, as an app registration Graph's checks understand.

    An app token: its registered app. A delegated token (`idtyp` user): its client, with the
    delegated scopes that name an application role of the same name as its roles. The
    emulator does not model per-user access: a user reads whatever the scopes allow.
    """
    client_id = str(claims.get("appid"))
    if claims.get("idtyp") != "user":
        return directory.apps.get(client_id)
    scopes = str(claims.get("scp") or "").split()
    registered = directory.apps.get(client_id)
    return AppRegistration(
        client_id=client_id,
        display_name=registered.display_name if registered else client_id,
        roles=[scope for scope in scopes if scope in _DELEGATED_ROLES],
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()
