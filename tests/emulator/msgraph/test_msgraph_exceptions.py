"""Graph's and the identity platform's errors: one class per wire code, each with its status,
and their wire forms (the Graph envelope and SharePoint's shorter download body)."""

from __future__ import annotations

import inspect
import json

from ms365sync.emulator.login import exceptions as login_errors
from ms365sync.emulator.msgraph import exceptions as graph_errors
from ms365sync.emulator.msgraph.envelope import error_response, throttled
from ms365sync.emulator.msgraph.exceptions import (
    ActivityLimitReached,
    GraphError,
    ItemNotFound,
    NotSupported,
    ResyncRequired,
    ServiceNotAvailable,
)
from ms365sync.emulator.transport.http import Headers, Request

NOW = 1_700_000_000.0


def _classes(module: object, base: type) -> list[type]:
    return [
        value
        for _, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, base) and value is not base
    ]


def _request() -> Request:
    return Request(
        method="GET",
        host="graph.microsoft.com",
        raw_path="/v1.0/drives/x",
        query_string="",
        headers=Headers(),
        request_id="r1",
        client_request_id="c1",
    )


def test_one_graph_class_per_code() -> None:
    classes = _classes(graph_errors, GraphError)
    codes = [cls.code for cls in classes]
    assert len(classes) >= 14
    assert len(codes) == len(set(codes))
    for cls in classes:
        assert 400 <= cls.status < 600, cls


def test_one_identity_class_per_oauth_error() -> None:
    classes = _classes(login_errors, login_errors.IdentityError)
    names = [cls.error for cls in classes]
    assert len(names) == len(set(names))
    assert login_errors.InvalidClient(7000215, "x").status == 401
    assert str(login_errors.InvalidScope(70011, "bad")) == "400 invalid_scope: AADSTS70011: bad"


def test_a_class_carries_status_code_and_default_message() -> None:
    error = ItemNotFound()
    assert (error.status, error.code, error.message) == (
        404,
        "itemNotFound",
        "The resource could not be found.",
    )
    assert str(ItemNotFound("Item not found")) == "404 itemNotFound: Item not found"
    assert NotSupported("off", status=501).status == 501
    assert NotSupported("off").status == 400


def test_the_envelope_is_byte_for_byte_graph_s() -> None:
    request = _request()
    response = error_response(ItemNotFound("Item not found"), request, NOW)
    assert response.status == 404
    assert response.headers.get("Content-Type") == "application/json"
    assert (
        response.body
        == json.dumps(
            {
                "error": {
                    "code": "itemNotFound",
                    "message": "Item not found",
                    "innerError": {
                        "date": "2023-11-14T22:13:20",
                        "request-id": "r1",
                        "client-request-id": "c1",
                    },
                }
            },
            separators=(",", ":"),
        ).encode()
    )


def test_throttling_picks_the_class_and_keeps_the_inner_chain() -> None:
    retry = (("Retry-After", "7"),)
    too_many = throttled(429, retry)
    assert isinstance(too_many, ActivityLimitReached)
    assert too_many.inner_codes == ("throttledRequest", "quota")
    assert too_many.headers == [("Retry-After", "7")]
    assert isinstance(throttled(503, retry), ServiceNotAvailable)
    body = json.loads(error_response(too_many, _request(), NOW).body)["error"]
    assert body["innerError"]["code"] == "throttledRequest"
    assert body["innerError"]["innerError"] == {"code": "quota"}


def test_resync_required_says_what_sharepoint_says() -> None:
    assert ResyncRequired().status == 410
    assert ResyncRequired().message.startswith("Resync required. Replace any local items")
