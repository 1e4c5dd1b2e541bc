"""JSON batching: limits, ids, dependsOn and 424, shuffled order, per-member auth and throttling."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ms365sync.emulator.control.settings import FaultConfig, ThrottleConfig
from ms365sync.emulator.transport.http import Response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import AppFactory, body_json, call, issue_token, sample


def batch(app: EmulatorApp, requests: list[dict[str, Any]], token: str | None = None) -> Response:
    body = json.dumps({"requests": requests}).encode()
    headers = [("Content-Type", "application/json")]
    return call(
        app, "POST", "/v1.0/$batch", token=token or issue_token(app), headers=headers, body=body
    )


def get(ident: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "method": "GET", "url": url, **extra}


def by_id(response: Response) -> dict[str, dict[str, Any]]:
    assert response.status == 200
    return {entry["id"]: entry for entry in body_json(response)["responses"]}


def permission_batch(count: int) -> list[dict[str, Any]]:
    return [get(str(n), f"/drives/d/items/item{n}/permissions") for n in range(count)]


def test_members_are_dispatched_and_shaped_like_the_docs(app: EmulatorApp) -> None:
    response = batch(
        app,
        [
            get("1", "/me"),
            get("2", "drives/d/items/x/children?$top=5"),
            get("3", "/drives/d/items/missing/permissions"),
            get("4", "/raw"),
        ],
    )
    assert response.headers.get("OData-Version") == "4.0"
    entries = by_id(response)
    reference = sample("06-batch-response.docs.json")["responses"][0]
    for entry in entries.values():
        assert set(entry) == set(reference)
        assert isinstance(entry["headers"], dict)
        assert "request-id" not in entry["headers"]
    assert entries["1"]["status"] == 200
    assert entries["1"]["headers"]["x-ms-resource-unit"] == "1"
    assert entries["2"]["body"] == {"value": [{"id": "x"}]}
    missing = entries["3"]
    assert missing["status"] == 404
    assert missing["body"]["error"]["code"] == "itemNotFound"
    assert set(missing["body"]["error"]["innerError"]) >= {
        "date",
        "request-id",
        "client-request-id",
    }
    assert base64.b64decode(entries["4"]["body"]) == b"plain \x00 bytes"


def test_json_body_of_a_member_reaches_the_handler(app: EmulatorApp) -> None:
    member = {
        "id": "e",
        "method": "POST",
        "url": "/echo",
        "body": {"name": "x"},
        "headers": {"Content-Type": "application/json"},
    }
    entry = by_id(batch(app, [member]))["e"]
    assert entry["status"] == 201
    assert entry["body"] == {"received": {"name": "x"}}
    del member["headers"]
    assert by_id(batch(app, [member]))["e"]["status"] == 400


def test_more_than_twenty_requests_is_a_400(app: EmulatorApp) -> None:
    assert batch(app, permission_batch(20)).status == 200
    response = batch(app, permission_batch(21))
    assert response.status == 400
    assert body_json(response)["error"]["code"] == "BadRequest"


@pytest.mark.parametrize(
    "requests",
    [
        [get("a", "/me"), get("A", "/me")],
        [],
        [{"id": "1", "url": "/me"}],
        [get("1", "/me", dependsOn=["2"])],
    ],
    ids=["duplicate ids ignoring case", "empty", "no method", "unknown dependency"],
)
def test_malformed_batches_are_rejected_whole(
    app: EmulatorApp, requests: list[dict[str, Any]]
) -> None:
    assert batch(app, requests).status == 400


def test_unparsable_envelope(app: EmulatorApp) -> None:
    response = call(app, "POST", "/v1.0/$batch", token=issue_token(app), body=b"{not json")
    assert response.status == 400


def test_urls_are_relative_to_the_version_root(app: EmulatorApp) -> None:
    entries = by_id(
        batch(app, [get("1", "/v1.0/me"), get("2", "https://graph.microsoft.com/v1.0/me")])
    )
    assert entries["1"]["status"] == 400
    assert entries["1"]["body"]["error"]["message"] == "Resource not found for the segment 'v1.0'."
    assert entries["2"]["status"] == 400


def test_depends_on_orders_and_failed_prerequisites_give_424(app: EmulatorApp) -> None:
    order: list[str] = []
    original = app.graph_call

    def recording(request: Any, path: str, *, in_batch: bool) -> Response:
        order.append(path)
        return original(request, path, in_batch=in_batch)

    app.graph_call = recording  # type: ignore[method-assign]
    entries = by_id(
        batch(
            app,
            [
                get("3", "/drives/d/items/c/children", dependsOn=["2"]),
                get("2", "/drives/d/items/b/children", dependsOn=["1"]),
                get("1", "/drives/d/items/a/children"),
                get("5", "/me", dependsOn=["4"]),
                get("4", "/drives/d/items/missing/permissions"),
            ],
        )
    )
    assert order.index("/drives/d/items/a/children") < order.index("/drives/d/items/b/children")
    assert order.index("/drives/d/items/b/children") < order.index("/drives/d/items/c/children")
    assert [entries[i]["status"] for i in "1234"] == [200, 200, 200, 404]
    assert entries["5"]["status"] == 424
    assert "/me" not in order


def test_dependency_cycles_are_rejected(app: EmulatorApp) -> None:
    cycle = [get("1", "/me", dependsOn=["2"]), get("2", "/me", dependsOn=["1"])]
    assert batch(app, cycle).status == 400


def test_responses_come_back_shuffled_by_the_seed(make_app: AppFactory) -> None:
    members = permission_batch(12)

    def order(seed: int) -> list[str]:
        app = make_app(seed=seed)
        return [e["id"] for e in body_json(batch(app, members))["responses"]]

    listed = [m["id"] for m in members]
    assert sorted(order(1), key=int) == listed
    assert order(1) != listed
    assert order(1) == order(1)
    assert order(1) != order(2)
    unshuffled = make_app(batch_shuffle=False)
    assert [e["id"] for e in body_json(batch(unshuffled, members))["responses"]] == listed


def test_members_are_charged_and_throttled_individually(make_app: AppFactory) -> None:
    app = make_app(throttle=ThrottleConfig.parse("22/min"))
    entries = by_id(batch(app, permission_batch(5)))
    statuses = sorted(e["status"] for e in entries.values())
    assert statuses == [200, 200, 200, 200, 429]
    throttled = next(e for e in entries.values() if e["status"] == 429)
    assert throttled["headers"]["Retry-After"].isdigit()
    assert "RateLimit-Reset" in throttled["headers"]
    reference = sample("06-batch-429-subresponse.real-fixture.json")["responses"][0]
    assert throttled["body"]["error"]["code"] == reference["body"]["error"]["code"]
    assert throttled["headers"]["Content-Type"] == reference["headers"]["Content-Type"]
    # The envelope is free: 4 admitted permission reads at 5 RU.
    apps = app.throttle.stats()["apps"]
    assert [usage["ru_charged"] for usage in apps.values()] == [20]


def test_fault_injected_429_inside_a_batch(make_app: AppFactory) -> None:
    app = make_app(faults=FaultConfig.parse("429=1,retry-after=28"))
    entries = by_id(batch(app, permission_batch(3)))
    assert {e["status"] for e in entries.values()} == {429}
    assert {e["headers"]["Retry-After"] for e in entries.values()} == {"28"}


def test_each_member_is_authorised_with_the_envelope_token(app: EmulatorApp) -> None:
    assert batch(app, [get("1", "/me")], token="garbage").status == 401
    member = get("1", "/me", headers={"Authorization": "Bearer garbage"})
    assert by_id(batch(app, [member]))["1"]["status"] == 200
