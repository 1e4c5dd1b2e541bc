"""GraphClient request policy: decoration, retry classification, token renewal, redaction."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
import responses
from loguru import logger

from ms365sync.errors import (
    AccessDeniedError,
    GraphError,
    InvalidTokenError,
    NotFoundError,
    ThrottledError,
    TransportError,
)
from ms365sync.graph import GraphClient, StaticTokenProvider

GRAPH = "https://graph.microsoft.com/v1.0"
DRIVE_URL = f"{GRAPH}/drives/b!drive"
DRIVE = {"id": "b!drive", "name": "Documents", "driveType": "documentLibrary"}


def _error(code: str, message: str = "failed") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "rid"}}}


def test_requests_are_decorated(client: GraphClient, rsps: responses.RequestsMock) -> None:
    rsps.get(DRIVE_URL, json=DRIVE)
    rsps.get(DRIVE_URL, json=DRIVE)
    assert client.get_drive("b!drive").name == "Documents"
    client.get_drive("b!drive")
    first, second = (call.request.headers for call in rsps.calls)
    assert first["Authorization"] == "Bearer token-one"
    assert re.fullmatch(r"NONISV\|ms365sync\|ms365sync/\S+", first["User-Agent"])
    assert uuid.UUID(first["client-request-id"])
    assert first["client-request-id"] != second["client-request-id"]


def test_graph_url_may_carry_the_version(tokens, gate, rsps: responses.RequestsMock) -> None:
    rsps.get(DRIVE_URL, json=DRIVE)
    with GraphClient("https://graph.microsoft.com/v1.0/", tokens, gate=gate) as graph:
        assert graph.base_url == GRAPH
        graph.get_drive("b!drive")


def test_429_pauses_the_gate_for_retry_after_and_retries(client, rsps, clock) -> None:
    rsps.get(
        DRIVE_URL, status=429, json=_error("activityLimitReached"), headers={"Retry-After": "7"}
    )
    rsps.get(DRIVE_URL, json=DRIVE)
    start = clock.now()
    assert client.get_drive("b!drive").id == "b!drive"
    assert len(rsps.calls) == 2
    assert clock.now() - start == 7
    assert client.gate.stats.throttled == 1
    assert client.gate.stats.paused_seconds == 7


def test_429_honours_the_larger_rate_limit_reset(client, rsps, clock) -> None:
    headers = {
        "Retry-After": "5",
        "RateLimit-Limit": "1200",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "31",
    }
    rsps.get(DRIVE_URL, status=429, json=_error("TooManyRequests"), headers=headers)
    rsps.get(DRIVE_URL, json=DRIVE)
    start = clock.now()
    client.get_drive("b!drive")
    assert clock.now() - start == 31


def test_503_without_retry_after_backs_off_globally(client, rsps, clock) -> None:
    rsps.get(DRIVE_URL, status=503, json=_error("serviceNotAvailable"))
    rsps.get(DRIVE_URL, json=DRIVE)
    client.get_drive("b!drive")
    assert client.gate.stats.throttled == 1
    assert client.gate.stats.paused_seconds == 1.0  # first step of the exponential back-off


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_transient_5xx_backs_off_this_request_only_and_retries(
    client, rsps, clock, status: int
) -> None:
    rsps.get(DRIVE_URL, status=status, json=_error("generalException"))
    rsps.get(DRIVE_URL, json=DRIVE)
    client.get_drive("b!drive")
    assert len(rsps.calls) == 2
    assert clock.sleeps == [1.0]
    assert client.gate.stats.paused_seconds == 0
    assert client.gate.stats.throttled == 0


def test_throttled_on_every_attempt_raises_throttled_error(client, rsps) -> None:
    rsps.get(
        DRIVE_URL, status=429, json=_error("activityLimitReached"), headers={"Retry-After": "2"}
    )
    with pytest.raises(ThrottledError) as caught:
        client.get_drive("b!drive")
    assert len(rsps.calls) == 4  # max_attempts
    assert caught.value.retry_after == 2
    assert caught.value.retryable


def test_connection_errors_are_retried_then_translated(client, rsps) -> None:
    rsps.get(DRIVE_URL, body=requests.exceptions.ConnectionError("connection reset by peer"))
    with pytest.raises(TransportError) as caught:
        client.get_drive("b!drive")
    assert len(rsps.calls) == 4
    assert caught.value.kind == "connection"
    assert isinstance(caught.value.__cause__, requests.exceptions.ConnectionError)


def test_a_dropped_connection_then_success(client, rsps) -> None:
    rsps.get(DRIVE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.get(DRIVE_URL, json=DRIVE)
    assert client.get_drive("b!drive").id == "b!drive"


def test_tls_failure_is_not_retried(client, rsps) -> None:
    rsps.get(DRIVE_URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(TransportError) as caught:
        client.get_drive("b!drive")
    assert len(rsps.calls) == 1
    assert caught.value.kind == "tls"


def test_401_renews_the_token_once_and_retries(client, rsps, tokens, load) -> None:
    rsps.get(DRIVE_URL, status=401, json=load("08-error-401-expired-token.real-2023.json"))
    rsps.get(DRIVE_URL, json=DRIVE)
    client.get_drive("b!drive")
    assert tokens.refreshes == 1
    assert [call.request.headers["Authorization"] for call in rsps.calls] == [
        "Bearer token-one",
        "Bearer token-two",
    ]


def test_a_second_401_is_final_never_a_loop(client, rsps, tokens, load) -> None:
    rsps.get(DRIVE_URL, status=401, json=load("08-error-401-expired-token.real-2023.json"))
    with pytest.raises(InvalidTokenError) as caught:
        client.get_drive("b!drive")
    assert len(rsps.calls) == 2
    assert tokens.refreshes == 1
    assert caught.value.code == "InvalidAuthenticationToken"
    assert "token-one" not in str(caught.value)
    assert "token-two" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "error_type"),
    [
        (403, _error("accessDenied"), AccessDeniedError),
        (404, {"error": {"code": "itemNotFound", "message": "Item does not exist"}}, NotFoundError),
        (400, _error("invalidRequest"), GraphError),
        (507, _error("quotaLimitReached"), GraphError),
    ],
)
def test_permanent_errors_are_not_retried(client, rsps, status: int, body, error_type) -> None:
    rsps.get(DRIVE_URL, status=status, json=body)
    with pytest.raises(error_type) as caught:
        client.get_drive("b!drive")
    assert len(rsps.calls) == 1
    assert caught.value.status == status
    assert not caught.value.retryable


def test_error_carries_request_id_and_url(client, rsps) -> None:
    rsps.get(f"{DRIVE_URL}/items/01X", status=404, json=_error("itemNotFound", "Item not found"))
    with pytest.raises(NotFoundError) as caught:
        client.get_item("b!drive", "01X")
    assert caught.value.request_id == "rid"
    assert caught.value.url == f"{DRIVE_URL}/items/01X"
    assert (
        str(caught.value)
        == f"Graph 404 itemNotFound: Item not found [GET {DRIVE_URL}/items/01X; request-id rid]"
    )


def test_links_to_another_host_never_receive_the_token(client, rsps) -> None:
    with pytest.raises(GraphError) as caught:
        client.get_json("https://evil.example/v1.0/drives")
    assert caught.value.code == "foreignLink"
    assert len(rsps.calls) == 0


def test_query_parameters_keep_odata_dollar_and_commas(client, rsps) -> None:
    rsps.get(f"{GRAPH}/drives/b!drive/root/children", json={"value": []})
    client.get_json("drives/b!drive/root/children", {"$select": "id,name", "$top": 200})
    assert (
        rsps.calls[0].request.url
        == f"{GRAPH}/drives/b!drive/root/children?$select=id,name&$top=200"
    )


def test_invalid_json_body_is_a_graph_error(client, rsps) -> None:
    rsps.get(DRIVE_URL, body="<html>not json</html>", status=200)
    with pytest.raises(GraphError) as caught:
        client.get_json(f"{DRIVE_URL}")
    assert caught.value.code == "invalidResponse"


def test_unexpected_shape_is_a_graph_error(client, rsps) -> None:
    rsps.get(DRIVE_URL, json={"name": "no id"})
    with pytest.raises(GraphError) as caught:
        client.get_drive("b!drive")
    assert caught.value.code == "invalidResponse"


def test_debug_log_never_contains_the_token(rsps, gate) -> None:
    records: list[str] = []
    sink = logger.add(records.append, level="DEBUG", format="{message}")
    try:
        secret_token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlcGFydA"
        with GraphClient(
            "https://graph.microsoft.com", StaticTokenProvider(secret_token), gate=gate
        ) as graph:
            rsps.get(DRIVE_URL, status=500, json=_error("generalException"))
            rsps.get(DRIVE_URL, json=DRIVE)
            graph.get_drive("b!drive")
    finally:
        logger.remove(sink)
    assert records, "requests are logged at debug level"
    assert all(secret_token not in record for record in records)
