"""SharePoint REST's errors, one class per kind of answer the emulator gives.

Most are OData errors whose `code` is SharePoint's "HRESULT, .NET exception" pair and whose
message carries a language (graph-facts §16.4); the gateway renders them as
`{"odata.error": …}` (JSON light) or `{"error": …}` (verbose). Token refusals are not OData:
a 401 with `{"error_description": …}`, `WWW-Authenticate` and `x-ms-diagnostics`::

    SharePointError                (base: status, code, message, headers)
     +-- InvalidClientQuery        400 -1, Microsoft.SharePoint.Client.InvalidClientQueryException
     +-- AccessDenied              403 -2147024891, System.UnauthorizedAccessException
     +-- WebNotFound               404 -2147024894, System.IO.FileNotFoundException
     +-- GroupNotFound             404 -2146232832, Microsoft.SharePoint.SPException
     +-- UserNotFound              404 -2146232832, Microsoft.SharePoint.SPException
     +-- MethodNotAllowed          405 -1, Microsoft.SharePoint.Client.ClientServiceException
     +-- NotAcceptable             406 (an Accept header asking for Atom XML, not emulated)
     +-- Throttled                 429 or 503 -2147024860, ...SPQueryThrottledException
     +-- ServerError               500 -2146233088, System.InvalidOperationException
    TokenRefused                   401 {"error_description": …}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ms365sync.emulator.errors import EmulatorError


class SharePointError(EmulatorError):
    """An OData error answer of SharePoint REST."""

    status: int
    code: ClassVar[str]
    default_message: ClassVar[str] = ""

    def __init__(self, message: str | None = None, *, headers: Sequence[tuple[str, str]] = ()):
        self.message = self.default_message if message is None else message
        self.headers = list(headers)
        super().__init__(f"{self.status} {self.code}: {self.message}")


class InvalidClientQuery(SharePointError):
    """A URL or query option the REST service cannot run."""

    status = 400
    code = "-1, Microsoft.SharePoint.Client.InvalidClientQueryException"


class AccessDenied(SharePointError):
    """The app may not read this site (no SharePoint role, Sites.Selected, revoked)."""

    status = 403
    code = "-2147024891, System.UnauthorizedAccessException"
    default_message = (
        "Access denied. You do not have permission to perform this action or access this resource."
    )


class WebNotFound(SharePointError):
    """A path under no site of the tenant."""

    status = 404
    code = "-2147024894, System.IO.FileNotFoundException"
    default_message = "File Not Found."


class GroupNotFound(SharePointError):
    status = 404
    code = "-2146232832, Microsoft.SharePoint.SPException"
    default_message = "Group cannot be found."


class UserNotFound(SharePointError):
    status = 404
    code = "-2146232832, Microsoft.SharePoint.SPException"
    default_message = "User cannot be found."


class MethodNotAllowed(SharePointError):
    """A write: the emulator's SharePoint REST serves reads only."""

    status = 405
    code = "-1, Microsoft.SharePoint.Client.ClientServiceException"
    default_message = "The HTTP method is not supported by the emulator's SharePoint REST service."


class NotAcceptable(SharePointError):
    """No JSON in `Accept`: SharePoint would answer Atom XML, which is not emulated."""

    status = 406
    code = "-1, Microsoft.SharePoint.Client.ClientServiceException"
    default_message = (
        "The emulator answers SharePoint REST in JSON only: send Accept: application/json; "
        "odata=nometadata, minimalmetadata, fullmetadata or verbose."
    )


class Throttled(SharePointError):
    """Over the app's resource-unit budget (or an injected 429/503), with Retry-After."""

    code = "-2147024860, Microsoft.SharePoint.SPQueryThrottledException"
    default_message = "The request has been throttled."

    def __init__(self, status: int, *, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.status = status  # 429 or 503, chosen per answer
        super().__init__(headers=headers)


class ServerError(SharePointError):
    status = 500
    code = "-2146233088, System.InvalidOperationException"
    default_message = "Operation is not valid due to the current state of the object."


class TokenRefused(EmulatorError):
    """SharePoint's 401 for a bearer token it does not take (graph-facts §16.2).

    `diagnostic` is the number `x-ms-diagnostics` starts with; `reason` is both the header's
    reason and the body's error_description.
    """

    status = 401

    def __init__(self, reason: str, diagnostic: int) -> None:
        super().__init__(f"401 {reason}")
        self.reason = reason
        self.diagnostic = diagnostic
