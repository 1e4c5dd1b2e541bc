"""$batch: chunking, correlation by id in any order, retry of only the failed entries."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any

import pytest
import requests
import responses

from ms365sync.errors import GraphError, NotFoundError, ThrottledError, TransportError
from ms365sync.graph import GraphClient

GRAPH = "https://graph.microsoft.com/v1.0"
BATCH = f"{GRAPH}/$batch"


def _perm(item_id: str) -> dict[str, Any]:
    return {
        "value": [
            {"id": f"perm-{item_id}", "roles": ["read"], "grantedToV2": {"user": {"id": "u"}}}
        ]
    }


class FakeBatch:
    """A $batch endpoint answering each sub-request URL from a script, in shuffled order."""

    def __init__(
        self, script: dict[str, list[tuple[int, dict[str, str], Any]]] | None = None
    ) -> None:
        self.script = script or {}
        self.default = (200, {}, {"value": []})
        self.envelopes: list[list[dict[str, Any]]] = []
        self.served: dict[str, int] = defaultdict(int)
        self._shuffle = random.Random(7)

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        entries = json.loads(request.body)["requests"]
        self.envelopes.append(entries)
        answers = []
        for entry in entries:
            steps = self.script.get(entry["url"], [self.default])
            step = steps[min(self.served[entry["url"]], len(steps) - 1)]
            self.served[entry["url"]] += 1
            status, headers, body = step
            answers.append({"id": entry["id"], "status": status, "headers": headers, "body": body})
        answers.reverse()
        self._shuffle.shuffle(answers)
        return 200, {}, json.dumps({"responses": answers})

    def urls(self, envelope: int) -> list[str]:
        return [entry["url"] for entry in self.envelopes[envelope]]


def _install(rsps: responses.RequestsMock, fake: FakeBatch) -> None:
    rsps.add_callback(responses.POST, BATCH, callback=fake, content_type="application/json")


def _perm_url(item_id: str) -> str:
    return f"/drives/b!drive/items/{item_id}/permissions"


def test_chunks_of_twenty_with_relative_urls(client: GraphClient, rsps) -> None:
    fake = FakeBatch()
    _install(rsps, fake)
    items = [f"01ITEM{i:03d}" for i in range(45)]
    results = client.permissions_batch("b!drive", items)
    assert [len(envelope) for envelope in fake.envelopes] == [20, 20, 5]
    assert set(results) == set(items)
    assert all(results[item] == [] for item in items)
    for envelope in fake.envelopes:
        ids = [entry["id"] for entry in envelope]
        assert len(set(ids)) == len(ids)
        assert all(entry["method"] == "GET" for entry in envelope)
        assert all(entry["url"].startswith("/drives/") for entry in envelope)
        assert not any("v1.0" in entry["url"] for entry in envelope)


def test_only_the_throttled_entry_is_retried_after_its_retry_after(
    client, rsps, clock, load
) -> None:
    throttled = load("06-batch-429-subresponse.real-fixture.json")["responses"][0]
    fake = FakeBatch(
        {
            _perm_url("A"): [(200, {}, _perm("A"))],
            _perm_url("B"): [(429, throttled["headers"], throttled["body"]), (200, {}, _perm("B"))],
            _perm_url("C"): [
                (404, {}, {"error": {"code": "itemNotFound", "message": "Item not found"}})
            ],
        }
    )
    _install(rsps, fake)
    start = clock.now()
    results = client.permissions_batch("b!drive", ["A", "B", "C"])
    assert fake.urls(0) == [_perm_url("A"), _perm_url("B"), _perm_url("C")]
    assert fake.urls(1) == [_perm_url("B")]
    assert len(fake.envelopes) == 2
    assert clock.now() - start == 28  # the sub-response's Retry-After, through the gate
    assert client.gate.stats.throttled == 1
    assert [p.id for p in results["A"]] == ["perm-A"]  # type: ignore[union-attr]
    assert [p.id for p in results["B"]] == ["perm-B"]  # type: ignore[union-attr]
    assert isinstance(results["C"], NotFoundError)


def test_the_largest_retry_after_wins(client, rsps, clock) -> None:
    throttle = {"error": {"code": "activityLimitReached", "message": "throttled"}}
    fake = FakeBatch(
        {
            _perm_url("A"): [(429, {"Retry-After": "5"}, throttle), (200, {}, _perm("A"))],
            _perm_url("B"): [(429, {"retry-after": "28"}, throttle), (200, {}, _perm("B"))],
            _perm_url("C"): [(503, {"Retry-After": "11"}, throttle), (200, {}, _perm("C"))],
        }
    )
    _install(rsps, fake)
    start = clock.now()
    results = client.permissions_batch("b!drive", ["A", "B", "C"])
    assert clock.now() - start == 28
    assert sorted(fake.urls(1)) == sorted([_perm_url("A"), _perm_url("B"), _perm_url("C")])
    assert all(isinstance(value, list) and len(value) == 1 for value in results.values())


def test_transient_5xx_entries_back_off_and_retry(client, rsps, clock) -> None:
    fake = FakeBatch(
        {
            _perm_url("A"): [(200, {}, _perm("A"))],
            _perm_url("B"): [
                (502, {}, {"error": {"code": "generalException", "message": "bad gateway"}}),
                (200, {}, _perm("B")),
            ],
        }
    )
    _install(rsps, fake)
    results = client.permissions_batch("b!drive", ["A", "B"])
    assert fake.urls(1) == [_perm_url("B")]
    assert isinstance(results["B"], list)
    assert client.gate.stats.throttled == 0


def test_final_failures_are_errors_never_empty_lists(client, rsps) -> None:
    throttle = {"error": {"code": "activityLimitReached", "message": "throttled"}}
    fake = FakeBatch({_perm_url("B"): [(429, {"Retry-After": "1"}, throttle)]})
    _install(rsps, fake)
    results = client.permissions_batch("b!drive", ["A", "B"])
    assert results["A"] == []
    assert isinstance(results["B"], ThrottledError)
    assert len(fake.envelopes) == 4  # max_attempts for B; A answered once


def test_a_missing_entry_is_retried(client, rsps) -> None:
    calls = {"n": 0}

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        calls["n"] += 1
        entries = json.loads(request.body)["requests"]
        kept = entries[1:] if calls["n"] == 1 else entries
        answers = [{"id": e["id"], "status": 200, "body": {"value": []}} for e in kept]
        return 200, {}, json.dumps({"responses": answers})

    rsps.add_callback(responses.POST, BATCH, callback=callback)
    results = client.permissions_batch("b!drive", ["A", "B"])
    assert results == {"A": [], "B": []}
    assert calls["n"] == 2


def test_envelope_errors_are_retried_by_the_transport(client, rsps) -> None:
    fake = FakeBatch()
    rsps.post(BATCH, status=500, json={"error": {"code": "generalException", "message": "oops"}})
    _install(rsps, fake)
    assert client.permissions_batch("b!drive", ["A"]) == {"A": []}


def test_an_envelope_that_never_succeeds_fails_every_key(client, rsps) -> None:
    rsps.post(BATCH, status=400, json={"error": {"code": "invalidRequest", "message": "bad batch"}})
    results = client.permissions_batch("b!drive", ["A", "B"])
    assert all(isinstance(value, GraphError) for value in results.values())


def test_transport_failure_of_the_envelope(client, rsps) -> None:
    rsps.post(BATCH, body=requests.exceptions.ConnectionError("down"))
    results = client.permissions_batch("b!drive", ["A"])
    assert isinstance(results["A"], TransportError)


def test_a_paged_permission_answer_is_followed(client, rsps) -> None:
    next_link = f"{GRAPH}/drives/b!drive/items/A/permissions?$skiptoken=xyz"
    first = _perm("A")
    first["@odata.nextLink"] = next_link
    _install(rsps, FakeBatch({_perm_url("A"): [(200, {}, first)]}))
    rsps.get(
        f"{GRAPH}/drives/b!drive/items/A/permissions",
        json={"value": [{"id": "second", "roles": ["write"]}]},
    )
    results = client.permissions_batch("b!drive", ["A"])
    assert [p.id for p in results["A"]] == ["perm-A", "second"]  # type: ignore[union-attr]


def test_generic_batch_keys_are_the_callers_and_urls_become_relative(client, rsps) -> None:
    fake = FakeBatch({"/drives/b!x": [(200, {}, {"id": "b!x"})]})
    _install(rsps, fake)
    results = client.batch({"Drive": f"{GRAPH}/drives/b!x", "drive": "/v1.0/drives/b!x"})
    assert set(results) == {"Drive", "drive"}  # equal case-insensitively: wire ids are our own
    assert all(result.ok and result.status == 200 for result in results.values())
    assert fake.urls(0) == ["/drives/b!x", "/drives/b!x"]


@pytest.mark.parametrize("count", [1, 20, 21])
def test_every_key_gets_a_result(client, rsps, count: int) -> None:
    _install(rsps, FakeBatch())
    results = client.batch({f"k{i}": f"/drives/d{i}" for i in range(count)})
    assert len(results) == count
