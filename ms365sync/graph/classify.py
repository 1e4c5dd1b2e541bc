"""The one place that decides, for any Graph answer or transport failure, whether and how to retry.

Modelled on rclone backend/onedrive `shouldRetry`: 429/503 pause the shared gate for the
server's delay; 408/500/502/504 and dropped connections back off and retry; 401 earns one
token renewal; everything else (400/403/404/410/507 ...) becomes a typed error at once.
Requests exceptions are translated into TransportError here too, so callers above graph/
never see a `requests` type.
"""

from __future__ import annotations

import enum
import http
import json
from collections.abc import Mapping
from dataclasses import dataclass

import requests
from pydantic import JsonValue, ValidationError
from requests.structures import CaseInsensitiveDict

from ms365sync.errors import (
    AccessDeniedError,
    DeltaExpiredError,
    GraphError,
    InvalidTokenError,
    MS365SyncError,
    NotFoundError,
    ThrottledError,
    TransportError,
    TransportKind,
)
from ms365sync.graph.throttle import RateLimit
from ms365sync.graph.types import ErrorDetail, ErrorEnvelope

__all__ = [
    "Action",
    "Verdict",
    "classify",
    "classify_status",
    "graph_error",
    "rate_limit",
    "retry_after",
    "transport_error",
]


class Action(enum.Enum):
    """What the transport does next with an answer."""

    DONE = "done"  # success (or a redirect / 304 the caller asked for): hand it back
    THROTTLED = "throttled"  # pause the shared gate for the server's delay, then retry
    BACKOFF = "backoff"  # transient failure: back off this request only, then retry
    RENEW_TOKEN = "renew-token"  # 401: renew the access token once, then retry
    FAIL = "fail"  # permanent: raise `Verdict.error`


@dataclass(frozen=True)
class Verdict:
    """The classification of one answer; `error` is what to raise if no retry happens."""

    action: Action
    error: MS365SyncError | None = None
    retry_after: float | None = None
    reset: float | None = None


_THROTTLE_STATUSES = frozenset({429, 503})
_TRANSIENT_STATUSES = frozenset({408, 500, 502, 504})
# Graph error codes meaning "this delta token is dead, enumerate again" (graph-facts §5.6).
_RESYNC_CODES = frozenset(
    code.lower()
    for code in (
        "resyncRequired",
        "syncStateNotFound",
        "resyncChangesApplyDifferences",
        "resyncChangesUploadDifferences",
        "resyncApplyDifferences",
        "resyncUploadDifferences",
    )
)
_STATUS_ERRORS: Mapping[int, type[GraphError]] = {
    401: InvalidTokenError,
    403: AccessDeniedError,
    404: NotFoundError,
}
_BODY_SNIPPET = 200


def classify(
    outcome: requests.Response | requests.RequestException, *, method: str, url: str
) -> Verdict:
    """Classify a response or a transport exception raised while getting one."""
    if isinstance(outcome, requests.RequestException):
        error = transport_error(outcome, method=method, url=url)
        return Verdict(Action.BACKOFF if error.retryable else Action.FAIL, error)
    if outcome.status_code < 400:
        return Verdict(Action.DONE)
    return classify_status(
        outcome.status_code, outcome.headers, outcome.content, method=method, url=url
    )


def classify_status(
    status: int,
    headers: Mapping[str, str],
    body: bytes | JsonValue,
    *,
    method: str,
    url: str,
) -> Verdict:
    """Classify an HTTP status with its headers and body (also used for $batch entries)."""
    if status < 400:
        return Verdict(Action.DONE)
    error = graph_error(status, headers, body, method=method, url=url)
    if isinstance(error, ThrottledError):
        reset = _rate_limit_reset(headers)
        return Verdict(Action.THROTTLED, error, retry_after=error.retry_after, reset=reset)
    if isinstance(error, InvalidTokenError):
        return Verdict(Action.RENEW_TOKEN, error)
    if status in _TRANSIENT_STATUSES:
        return Verdict(Action.BACKOFF, error)
    return Verdict(Action.FAIL, error)


def graph_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes | JsonValue,
    *,
    method: str,
    url: str,
) -> GraphError:
    """The typed error for an error answer; the code chain is read from Graph's envelope."""
    headers = CaseInsensitiveDict(headers)
    detail = _error_detail(body)
    codes = detail.code_chain() if detail else ()
    message = (detail.message if detail else None) or _fallback_message(status, body)
    error_type = _error_type(status, codes)
    return error_type(
        message,
        status=status,
        code=codes[0] if codes else None,
        inner_codes=codes[1:],
        request_id=(detail.request_id() if detail else None) or headers.get("request-id"),
        method=method,
        url=url,
        retry_after=retry_after(headers) if error_type is ThrottledError else None,
        retryable=True if status in _TRANSIENT_STATUSES else None,
    )


def _error_type(status: int, codes: tuple[str, ...]) -> type[GraphError]:
    if status == 410 or _RESYNC_CODES.intersection(code.lower() for code in codes):
        return DeltaExpiredError
    if status in _THROTTLE_STATUSES:
        return ThrottledError
    return _STATUS_ERRORS.get(status, GraphError)


def _error_detail(body: bytes | JsonValue) -> ErrorDetail | None:
    try:
        if isinstance(body, bytes | str):
            return ErrorEnvelope.model_validate_json(body).error
        return ErrorEnvelope.model_validate(body).error
    except ValidationError:
        return None


def _fallback_message(status: int, body: bytes | JsonValue) -> str:
    if isinstance(body, bytes):
        text = body.decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body) if body else ""
    text = " ".join(text.split())[:_BODY_SNIPPET]
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP error"
    return f"{phrase}: {text}" if text else phrase


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date: Graph sends integer seconds, so fall back to back-off
    return seconds if seconds >= 0 else None


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The Retry-After header in seconds, or None when absent or not a number."""
    return _seconds(CaseInsensitiveDict(headers).get("Retry-After"))


def _rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    return _seconds(CaseInsensitiveDict(headers).get("RateLimit-Reset"))


def rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The RateLimit-Limit / -Remaining / -Reset headers, or None unless all three parse."""
    lookup = CaseInsensitiveDict(headers)
    try:
        return RateLimit(
            limit=int(lookup["RateLimit-Limit"]),
            remaining=int(lookup["RateLimit-Remaining"]),
            reset=float(lookup["RateLimit-Reset"]),
        )
    except (KeyError, ValueError):
        return None


def transport_error(exc: requests.RequestException, *, method: str, url: str) -> TransportError:
    """Translate a `requests` exception; TLS and malformed-URL failures are not retryable."""
    kind: TransportKind
    retryable = True
    if isinstance(exc, requests.exceptions.SSLError):
        kind, retryable = "tls", False
    elif isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidHeader,
    ):
        kind, retryable = "invalid-url", False
    elif isinstance(exc, requests.exceptions.Timeout):
        kind = "timeout"
    elif isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        kind = "protocol"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        kind = "connection"
    else:
        kind, retryable = "protocol", False
    message = f"{type(exc).__name__}: {exc}"
    return TransportError(message, kind=kind, method=method, url=url, retryable=retryable)
