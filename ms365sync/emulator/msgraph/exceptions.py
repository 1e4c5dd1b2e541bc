"""Graph's errors, one class per error code the emulator answers with.

Handlers raise these; the pipeline renders them as Graph's error envelope (envelope.py), and
the download host in SharePoint's shorter body (download.py). Each class fixes the HTTP status
and the wire `code`; a raise site gives the message (or takes the class's default), and may
add headers (Retry-After, Allow, Location, WWW-Authenticate) or, rarely, another status::

    GraphError                        (base: status, code, message, inner codes, headers)
     +-- BadRequest                   400 BadRequest
     +-- InvalidRequest               400 invalidRequest
     +-- NotSupported                 400 notSupported (501 when a whole feature is off)
     +-- RequestBadRequest            400 Request_BadRequest (405 for a method not served)
     +-- UnsupportedQuery             400 Request_UnsupportedQuery
     +-- InvalidAuthenticationToken   401 InvalidAuthenticationToken
     +-- Unauthenticated              401 unauthenticated
     +-- AccessDenied                 403 accessDenied (423 for a locked file's download)
     +-- RolesMissing                 403 AccessDenied
     +-- AuthorizationRequestDenied   403 Authorization_RequestDenied
     +-- MalwareDetected              403 malwareDetected
     +-- ItemNotFound                 404 itemNotFound
     +-- ResourceNotFound             404 Request_ResourceNotFound
     +-- MySiteNotFound               404 ResourceNotFound
     +-- ResyncRequired               410 resyncRequired
     +-- NotAllowed                   423 notAllowed (an encrypted file's download)
     +-- FailedDependency             424 FailedDependency
     +-- ActivityLimitReached         429 activityLimitReached > throttledRequest > quota
     +-- TooManyRequests              429 TooManyRequests
     +-- GeneralException             500 generalException
     +-- ServiceNotAvailable          503 serviceNotAvailable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ms365sync.emulator.errors import EmulatorError


class GraphError(EmulatorError):
    """A Graph error response: HTTP status plus the error envelope's codes.

    `inner_codes` is the chain of more specific codes nested in innerError, outermost
    first (e.g. ("throttledRequest", "quota") under "activityLimitReached").
    """

    code: ClassVar[str]
    status: int
    default_message: ClassVar[str] = ""
    inner_codes: tuple[str, ...] = ()

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        inner_codes: Sequence[str] | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        if status is not None:
            self.status = status
        if inner_codes is not None:
            self.inner_codes = tuple(inner_codes)
        self.message = self.default_message if message is None else message
        self.headers = list(headers)
        super().__init__(f"{self.status} {self.code}: {self.message}")


class BadRequest(GraphError):
    """Graph's own routing refusals: an unknown API version or path segment."""

    code = "BadRequest"
    status = 400


class InvalidRequest(GraphError):
    """Malformed URLs, ids, query options and control-request bodies."""

    code = "invalidRequest"
    status = 400


class NotSupported(GraphError):
    """A valid request the service does not do (delta below the root, `$expand=permissions`)."""

    code = "notSupported"
    status = 400


class BadArgument(GraphError):
    """A query option the endpoint does not take (delta with `listItem` expanded or selected,
    graph-facts §18.1)."""

    code = "badArgument"
    status = 400
    default_message = "One of the provided arguments is not acceptable."


class RequestBadRequest(GraphError):
    """The directory's refusals of a malformed request (a garbage object id, `$count` without
    `ConsistencyLevel: eventual`, a bad `$skiptoken`), and with 405 a path served with other
    methods (the only 405 body on record, json-batching.md)."""

    code = "Request_BadRequest"
    status = 400


METHOD_NOT_ALLOWED = "Specified HTTP method is not allowed for the request target."


class UnsupportedQuery(GraphError):
    """A query option the directory cannot run, e.g. `$top` outside 1..999."""

    code = "Request_UnsupportedQuery"
    status = 400


class InvalidAuthenticationToken(GraphError):
    """A missing, malformed, expired or revoked bearer token."""

    code = "InvalidAuthenticationToken"
    status = 401


class Unauthenticated(GraphError):
    """SharePoint's and the control API's 401: a bad download URL or admin key."""

    code = "unauthenticated"
    status = 401


class AccessDenied(GraphError):
    """The app may not read this site (Sites.Selected without a grant, a revoked site)."""

    code = "accessDenied"
    status = 403
    default_message = (
        "Access denied. You do not have permission to perform this action or access this resource."
    )


LOCKED_MESSAGE = "The file is currently checked out or locked for editing by another user."


class MalwareDetected(GraphError):
    """A download of a file flagged as malware; the body of onedrive-api-docs #1882 (2024),
    graph-facts §17.5."""

    code = "malwareDetected"
    status = 403
    default_message = "Malware detected"


class RolesMissing(GraphError):
    """A token with neither roles nor scp (samples/08-error-403-no-roles-claim); Graph spells
    this code with a capital A."""

    code = "AccessDenied"
    status = 403
    default_message = "Either scp or roles claim need to be present in the token."


class AuthorizationRequestDenied(GraphError):
    """A directory read the app has no role for (e.g. group members without
    GroupMember.Read.All; graph-facts §15.4)."""

    code = "Authorization_RequestDenied"
    status = 403
    default_message = "Insufficient privileges to complete the operation."


class ItemNotFound(GraphError):
    """Unknown sites, drives, items and paths."""

    code = "itemNotFound"
    status = 404
    default_message = "The resource could not be found."


class ResourceNotFound(GraphError):
    """An unknown user or group id."""

    code = "Request_ResourceNotFound"
    status = 404

    def __init__(self, ref: str) -> None:
        super().__init__(
            f"Resource '{ref}' does not exist or one of its queried reference-property objects "
            "are not present."
        )


class MySiteNotFound(GraphError):
    """A user's OneDrive that does not exist (never provisioned): "User's mysite not found."
    (alcionai/corso #966, OneDrive/onedrive-api-docs #530)."""

    code = "ResourceNotFound"
    status = 404
    default_message = "User's mysite not found."


class ResyncRequired(GraphError):
    """A delta token that can no longer be used: the client must enumerate afresh."""

    code = "resyncRequired"
    status = 410
    default_message = (
        "Resync required. Replace any local items with the server's version (including "
        "deletes) if you're sure that the service was up to date with your local changes when "
        "you last sync'd. Upload any local changes that the server doesn't know about."
    )


class NotAllowed(GraphError):
    """A download of a file whose sensitivity label encrypts it: 423 as clients meet it
    (airweave PR #1790), code `notAllowed` as Onyx expects for a 423 (graph-facts §18.5;
    code and message [INFER])."""

    code = "notAllowed"
    status = 423
    default_message = (
        "The file is encrypted by its sensitivity label and cannot be downloaded by this app."
    )


class FailedDependency(GraphError):
    """A $batch member whose dependsOn request failed."""

    code = "FailedDependency"
    status = 424


class ActivityLimitReached(GraphError):
    """429 with the real chain activityLimitReached > throttledRequest > quota
    (samples/06-batch-429-subresponse)."""

    code = "activityLimitReached"
    status = 429
    default_message = "The request has been throttled"
    inner_codes = ("throttledRequest", "quota")


class TooManyRequests(GraphError):
    """429 from the directory's own budget, in Graph's generic throttling body
    (samples/08-throttle-429-generic-graph); no Entra capture was found (graph-facts §15.6)."""

    code = "TooManyRequests"
    status = 429
    default_message = "Please retry again later."


class GeneralException(GraphError):
    """500, worded as OneDrive's concepts/errors.md words it."""

    code = "generalException"
    status = 500
    default_message = "An unspecified error has occurred."


class ServiceNotAvailable(GraphError):
    """503, the documented code for "service busy" (OneDrive docs concepts/errors.md); no real
    503 body was captured."""

    code = "serviceNotAvailable"
    status = 503
    default_message = (
        "The service is temporarily unavailable. Retry after the interval in Retry-After."
    )
