"""Seeded decisions independent of thread order: which requests get faults, jitter, batch order."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

from ms365sync.emulator.control.settings import FAULT_KINDS, FaultConfig
from ms365sync.emulator.transport.http import Request

# Query parameters that change on every issue of the same URL (signed download tokens): left
# out of the fingerprint so a re-fetched URL for the same item draws like the first one did.
_VOLATILE_PARAMS = frozenset({"tempauth"})


def fingerprint(request: Request) -> str:
    """method + path + query (+ a body digest), the identity of "the same request".

    Login requests leave their body out: it holds the client secret, and nothing about a
    token request is fault-injected, only delayed.
    """
    query = request.query_string
    if "tempauth=" in query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, v) for k, v in pairs if k not in _VOLATILE_PARAMS])
    body = ""
    if request.body and request.context.get("service") != "login":
        body = hashlib.blake2b(request.body, digest_size=8).hexdigest()
    return f"{request.method.upper()} {request.raw_path}?{query} {body}"


class SeededDraws:
    """Uniform numbers in [0, 1) derived from (seed, purpose, request fingerprint, occurrence).

    The n-th time the same request is seen for the same purpose always draws the same number,
    whatever the thread interleaving: two identical concurrent requests may swap their
    occurrence numbers, but they are indistinguishable, so the set of outcomes is the same.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def draw(self, purpose: str, request: Request) -> tuple[float, float]:
        """Two independent uniforms for the next occurrence of this request and purpose."""
        key = (purpose, fingerprint(request))
        with self._lock:
            occurrence = self._seen[key]
            self._seen[key] = occurrence + 1
        digest = hashlib.blake2b(
            f"{self._seed}|{purpose}|{key[1]}|{occurrence}".encode(), digest_size=16
        ).digest()
        return (
            int.from_bytes(digest[:8], "big") / 2**64,
            int.from_bytes(digest[8:], "big") / 2**64,
        )


# The faults a front door (Graph's, SharePoint REST's) draws for a request, in this order:
# each decision is seeded, so the order is part of which request gets which fault. A
# member of a $batch is never dropped alone (its envelope is, in the batch handler).
FRONT_DOOR_FAULTS = ("expire-token", "drop", "503", "429", "500")
BATCH_MEMBER_FAULTS = ("expire-token", "503", "429", "500")


class FaultInjector:
    """Decides, per request and fault kind, whether to inject that fault; counts what it injected.

    Handlers that own a fault (the delta handler and `resync`) call `should("resync", request)`
    through `request.context["faults"]`.
    """

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._config = config
        self._draws = SeededDraws(seed)
        self._injected: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Switch to new rates from the next decision on (counters are kept)."""
        self._config = config

    def should(self, kind: str, request: Request) -> bool:
        """Whether to inject `kind` into this request (counted when True)."""
        return self.draw(kind, request) is not None

    def draw(self, kind: str, request: Request) -> float | None:
        """None when `kind` is not injected; otherwise a seeded uniform in [0, 1) the caller
        may use to shape the fault (e.g. where to cut a truncated body).

        Raises ValueError for an unknown kind.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        config = self._config
        rate = config.rate(kind)
        names = (request.context.get("service", ""), request.context.get("route", ""))
        if rate <= 0.0 or not config.applies_to(names):
            return None
        decide, shape = self._draws.draw(kind, request)
        if decide >= rate:
            return None
        with self._lock:
            self._injected[kind] += 1
        return shape

    def first(self, kinds: Iterable[str], request: Request) -> str | None:
        """The first of `kinds`, drawn in order, injected into this request (None: none),
        noted in `request.context["fault"]`: how a front door picks its fault."""
        for kind in kinds:
            if self.should(kind, request):
                request.context["fault"] = kind
                return kind
        return None

    def stats(self) -> dict[str, int]:
        """Faults injected so far, per kind (every kind listed)."""
        with self._lock:
            return {kind: self._injected[kind] for kind in FAULT_KINDS}
