"""Shared fixtures for the Graph layer tests: a fake clock, a gate on it, a mocked Graph."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from ms365sync.graph import GraphClient, StaticTokenProvider, ThrottleGate

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "graph-samples"
GRAPH = "https://graph.microsoft.com/v1.0"


def sample(name: str) -> Any:
    """A JSON sample payload from tests/data/graph-samples."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


class FakeClock:
    """A monotonic clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(seconds, 0.0)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture
def load() -> Callable[[str], Any]:
    """Loader of the JSON samples in tests/data/graph-samples."""
    return sample


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(clock: FakeClock) -> ThrottleGate:
    # rng=1.0: back-off delays are exactly base * 2**(n-1), so tests can name them.
    return ThrottleGate(clock=clock.now, sleep=clock.sleep, rng=lambda: 1.0)


@pytest.fixture
def tokens() -> StaticTokenProvider:
    return StaticTokenProvider("token-one", "token-two")


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client(tokens: StaticTokenProvider, gate: ThrottleGate) -> Iterator[GraphClient]:
    with GraphClient("https://graph.microsoft.com", tokens, gate=gate, max_attempts=4) as graph:
        yield graph
