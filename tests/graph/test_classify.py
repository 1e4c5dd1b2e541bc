"""The retry classification table and the translation of transport exceptions."""

from __future__ import annotations

import json

import pytest
import requests

from ms365sync.errors import (
    AccessDeniedError,
    DeltaExpiredError,
    GraphError,
    InvalidTokenError,
    NotFoundError,
    ThrottledError,
    TransportError,
)
from ms365sync.graph.classify import Action, classify, classify_status, rate_limit, retry_after
from ms365sync.graph.throttle import RateLimit

URL = "https://graph.microsoft.com/v1.0/drives/b!x/items/01A"


def _verdict(status: int, body: object = None, headers: dict[str, str] | None = None):
    raw = json.dumps(body).encode() if body is not None else b""
    return classify_status(status, headers or {}, raw, method="GET", url=URL)


@pytest.mark.parametrize(
    ("status", "action", "error_type", "retryable"),
    [
        (200, Action.DONE, None, None),
        (206, Action.DONE, None, None),
        (302, Action.DONE, None, None),
        (304, Action.DONE, None, None),
        (400, Action.FAIL, GraphError, False),
        (401, Action.RENEW_TOKEN, InvalidTokenError, False),
        (403, Action.FAIL, AccessDeniedError, False),
        (404, Action.FAIL, NotFoundError, False),
        (408, Action.BACKOFF, GraphError, True),
        (409, Action.FAIL, GraphError, False),
        (410, Action.FAIL, DeltaExpiredError, False),
        (429, Action.THROTTLED, ThrottledError, True),
        (500, Action.BACKOFF, GraphError, True),
        (501, Action.FAIL, GraphError, False),
        (502, Action.BACKOFF, GraphError, True),
        (503, Action.THROTTLED, ThrottledError, True),
        (504, Action.BACKOFF, GraphError, True),
        (507, Action.FAIL, GraphError, False),
    ],
)
def test_status_table(
    status: int, action: Action, error_type: type[GraphError] | None, retryable: bool | None
) -> None:
    verdict = _verdict(status)
    assert verdict.action is action
    if error_type is None:
        assert verdict.error is None
    else:
        assert type(verdict.error) is error_type
        assert verdict.error.retryable is retryable
        assert verdict.error.status == status


def test_resync_required_410_real_body(load) -> None:
    verdict = _verdict(410, load("04-delta-410-resyncRequired.real-2020.json"))
    assert isinstance(verdict.error, DeltaExpiredError)
    assert verdict.error.code == "resyncRequired"
    assert verdict.error.request_id == "4066dbff-4e0c-48a0-bf94-31934a1aaea4"


def test_sync_state_not_found_code_is_delta_expired_whatever_the_status() -> None:
    body = {"error": {"code": "syncStateNotFound", "message": "gone"}}
    assert isinstance(_verdict(400, body).error, DeltaExpiredError)


def test_expired_token_401_real_body(load) -> None:
    verdict = _verdict(401, load("08-error-401-expired-token.real-2023.json"))
    assert verdict.action is Action.RENEW_TOKEN
    assert isinstance(verdict.error, InvalidTokenError)
    assert verdict.error.code == "InvalidAuthenticationToken"
    assert verdict.error.request_id == "b04ace1e-13a0-4940-b489-f86dcca10985"


def test_throttle_inner_code_chain_and_retry_after(load) -> None:
    entry = load("06-batch-429-subresponse.real-fixture.json")["responses"][0]
    verdict = classify_status(429, entry["headers"], entry["body"], method="GET", url=URL)
    assert verdict.action is Action.THROTTLED
    assert verdict.retry_after == 28
    assert isinstance(verdict.error, ThrottledError)
    assert verdict.error.codes == ("activityLimitReached", "throttledRequest", "quota")
    assert verdict.error.retry_after == 28


def test_throttle_reports_rate_limit_reset_too() -> None:
    headers = {
        "Retry-After": "9",
        "RateLimit-Limit": "1200",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "31",
    }
    verdict = _verdict(429, None, headers)
    assert (verdict.retry_after, verdict.reset) == (9, 31)


def test_request_id_falls_back_to_the_response_header() -> None:
    verdict = _verdict(
        404,
        {"error": {"code": "itemNotFound", "message": "Item not found"}},
        {"request-id": "hdr-id"},
    )
    assert verdict.error is not None
    assert verdict.error.request_id == "hdr-id"  # type: ignore[attr-defined]


def test_non_json_error_body_gives_a_short_message() -> None:
    verdict = classify_status(
        401, {}, b"<html><body>Unauthorized\n tempauth=abc</body></html>", method="GET", url=URL
    )
    assert verdict.error is not None
    text = str(verdict.error)
    assert "Unauthorized: <html><body>Unauthorized tempauth=<redacted>" in text
    assert "\n" not in text


def test_headers_parsing() -> None:
    assert retry_after({"retry-after": "28"}) == 28
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after({}) is None
    assert rate_limit(
        {"RateLimit-Limit": "1200", "RateLimit-Remaining": "120", "RateLimit-Reset": "5"}
    ) == (RateLimit(limit=1200, remaining=120, reset=5.0))
    assert rate_limit({"RateLimit-Limit": "1200"}) is None


@pytest.mark.parametrize(
    ("exc", "action", "kind"),
    [
        (requests.exceptions.ConnectionError("reset by peer"), Action.BACKOFF, "connection"),
        (requests.exceptions.ConnectTimeout("connect timed out"), Action.BACKOFF, "timeout"),
        (requests.exceptions.ReadTimeout("read timed out"), Action.BACKOFF, "timeout"),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), Action.BACKOFF, "protocol"),
        (requests.exceptions.SSLError("certificate verify failed"), Action.FAIL, "tls"),
        (requests.exceptions.InvalidURL("bad"), Action.FAIL, "invalid-url"),
        (requests.exceptions.TooManyRedirects("loop"), Action.FAIL, "protocol"),
    ],
)
def test_transport_exceptions(exc: requests.RequestException, action: Action, kind: str) -> None:
    verdict = classify(exc, method="GET", url=URL)
    assert verdict.action is action
    assert isinstance(verdict.error, TransportError)
    assert verdict.error.kind == kind
    assert verdict.error.retryable is (action is Action.BACKOFF)


def test_transport_exception_message_is_redacted() -> None:
    exc = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='contoso.sharepoint.com'): Max retries exceeded with url: "
        "/_layouts/15/download.aspx?UniqueId=1&tempauth=v1.SECRETSECRET&ApiVersion=2.0"
    )
    verdict = classify(
        exc, method="GET", url="https://contoso.sharepoint.com/x?tempauth=v1.SECRETSECRET"
    )
    assert "SECRETSECRET" not in str(verdict.error)
