"""The identity platform's errors, one class per OAuth2 error name the emulator answers with.

The token and discovery endpoints render them as the platform's error body (identity.py:
`error`, `error_description` with the AADSTS code, trace and correlation ids)::

    IdentityError                 (base: status, OAuth2 error name, AADSTS code, description)
     +-- InvalidRequest           400 invalid_request
     +-- InvalidTenant            400 invalid_tenant
     +-- InvalidInstance          400 invalid_instance
     +-- InvalidScope             400 invalid_scope
     +-- InvalidResource          400 invalid_resource
     +-- InvalidGrant             400 invalid_grant
     +-- UnauthorizedClient       400 unauthorized_client
     +-- UnsupportedGrantType     400 unsupported_grant_type
     +-- InvalidClient            401 invalid_client
"""

from __future__ import annotations

from typing import ClassVar

from ms365sync.emulator.errors import EmulatorError


class IdentityError(EmulatorError):
    """An error from the token or discovery endpoints (AADSTS codes, OAuth2 error names)."""

    error: ClassVar[str]
    status: ClassVar[int]

    def __init__(self, aadsts: int, description: str) -> None:
        super().__init__(f"{self.status} {self.error}: AADSTS{aadsts}: {description}")
        self.aadsts = aadsts
        self.description = description


class InvalidRequest(IdentityError):
    """A missing parameter or a request the endpoint does not take (e.g. a GET)."""

    error = "invalid_request"
    status = 400


class InvalidTenant(IdentityError):
    """A tenant id or domain the directory does not know."""

    error = "invalid_tenant"
    status = 400


class InvalidInstance(IdentityError):
    """Instance discovery for an authority that is not the emulator's."""

    error = "invalid_instance"
    status = 400


class InvalidScope(IdentityError):
    """A scope other than a Graph resource's `/.default`."""

    error = "invalid_scope"
    status = 400


class InvalidResource(IdentityError):
    """A resource the tenant has no service principal for (another tenant's SharePoint)."""

    error = "invalid_resource"
    status = 400


class InvalidGrant(IdentityError):
    """A refresh token that is unknown, another client's, or expired."""

    error = "invalid_grant"
    status = 400


class UnauthorizedClient(IdentityError):
    """A client id no app registration has."""

    error = "unauthorized_client"
    status = 400


class UnsupportedGrantType(IdentityError):
    """A grant the endpoint does not take (client_credentials and refresh_token only)."""

    error = "unsupported_grant_type"
    status = 400


class InvalidClient(IdentityError):
    """Missing or wrong client credentials: secret or signed assertion."""

    error = "invalid_client"
    status = 401
