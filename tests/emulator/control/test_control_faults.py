"""Fault decisions: reproducible from the seed whatever the thread interleaving, counted, scoped."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest

from ms365sync.emulator.control.faults import FaultInjector, fingerprint
from ms365sync.emulator.control.settings import FaultConfig
from ms365sync.emulator.transport.http import Headers, Request


def request(path: str, *, method: str = "GET", body: bytes = b"", query: str = "") -> Request:
    made = Request(method, "graph.microsoft.com", path, query, Headers(), body)
    made.context["service"] = "graph"
    return made


# 60 distinct requests, each asked about three times.
WORKLOAD = [f"/drives/d/items/{n}/children" for n in range(60)] * 3


def decisions(seed: int, order: list[str], threads: int) -> Counter[tuple[str, bool]]:
    injector = FaultInjector(FaultConfig.parse("429=0.3"), seed)
    outcome: Counter[tuple[str, bool]] = Counter()
    lock = threading.Lock()
    chunks = [order[i::threads] for i in range(threads)]

    def work(paths: list[str]) -> None:
        for path in paths:
            decided = injector.should("429", request(path))
            with lock:
                outcome[(path, decided)] += 1

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcome


def test_same_seed_same_decisions_regardless_of_thread_order() -> None:
    sequential = decisions(7, WORKLOAD, threads=1)
    shuffled = WORKLOAD.copy()
    random.Random(1).shuffle(shuffled)
    assert decisions(7, shuffled, threads=8) == sequential
    assert decisions(7, list(reversed(WORKLOAD)), threads=3) == sequential


def test_another_seed_decides_differently() -> None:
    assert decisions(7, WORKLOAD, threads=1) != decisions(8, WORKLOAD, threads=1)


def test_repeats_of_one_request_are_decided_independently() -> None:
    injector = FaultInjector(FaultConfig.parse("500=0.5"), 3)
    outcomes = {injector.should("500", request("/me")) for _ in range(40)}
    assert outcomes == {True, False}


def test_rate_is_roughly_honoured_and_counted() -> None:
    injector = FaultInjector(FaultConfig.parse("drop=0.25"), 11)
    injected = sum(injector.should("drop", request(f"/x/{n}")) for n in range(2000))
    assert 400 < injected < 600
    assert injector.stats()["drop"] == injected
    assert injector.stats()["429"] == 0


def test_rates_zero_and_one() -> None:
    injector = FaultInjector(FaultConfig.parse("429=1"), 0)
    assert all(injector.should("429", request(f"/x/{n}")) for n in range(50))
    assert not any(injector.should("503", request(f"/x/{n}")) for n in range(50))


def test_live_reconfiguration() -> None:
    injector = FaultInjector(FaultConfig(), 0)
    assert not injector.should("429", request("/me"))
    injector.configure(FaultConfig.parse("429=1"))
    assert injector.should("429", request("/me"))
    assert injector.config.rate("429") == 1


def test_scope_limits_injection_to_named_routes_or_services() -> None:
    injector = FaultInjector(FaultConfig.parse("429=1,scope=children"), 0)
    inside, outside = request("/a"), request("/b")
    inside.context["route"], outside.context["route"] = "children", "me"
    assert injector.should("429", inside)
    assert not injector.should("429", outside)


def test_post_bodies_are_part_of_the_fingerprint_but_tempauth_is_not() -> None:
    first = fingerprint(request("/echo", method="POST", body=b'{"a":1}'))
    assert first != fingerprint(request("/echo", method="POST", body=b'{"a":2}'))
    one = request("/s/_layouts/15/download.aspx", query="UniqueId=x&tempauth=v1.a.b&ApiVersion=2.0")
    two = request("/s/_layouts/15/download.aspx", query="UniqueId=x&tempauth=v1.c.d&ApiVersion=2.0")
    assert fingerprint(one) == fingerprint(two)


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultInjector(FaultConfig(), 0).should("teapot", request("/me"))
