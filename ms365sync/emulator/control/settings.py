"""The emulator's tunables (latency, RU budgets, fault rates, lifetimes) and their CLI parsers."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ms365sync.emulator.errors import ConfigError

FAULT_KINDS = ("429", "503", "500", "drop", "truncate", "expire-url", "expire-token", "resync")
"""Every fault the emulator can inject; see FaultConfig."""

_OFF_WORDS = frozenset({"", "off", "none", "0"})


def _number(text: str, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{spec!r}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{spec!r}: {what} {text!r} must be a non-negative number")
    return value


def _integer(text: str, what: str, spec: str) -> int:
    if not text.strip().isdigit():
        raise ConfigError(f"{spec!r}: {what} {text!r} is not a whole non-negative number")
    return int(text)


def _parts(spec: str) -> list[str]:
    return [part.strip() for part in spec.split(",") if part.strip()]


@dataclass(frozen=True)
class LatencyConfig:
    """Delay added before answering each request: `fixed_ms` plus a seeded ±`jitter_ms`."""

    fixed_ms: float = 0.0
    jitter_ms: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> LatencyConfig:
        """Parse "30" (fixed ms) or "30+-10" / "30±10" (fixed ± jitter).

        Raises ConfigError naming the bad part.
        """
        text = spec.strip().replace("±", "+-")
        fixed, _, jitter = text.partition("+-")
        if not fixed:
            raise ConfigError(f"latency {spec!r}: expected MS or MS+-JITTER, e.g. 30+-10")
        return cls(
            _number(fixed, "fixed latency", spec),
            _number(jitter, "jitter", spec) if jitter else 0.0,
        )

    def __str__(self) -> str:
        return f"{self.fixed_ms:g}+-{self.jitter_ms:g}"


@dataclass(frozen=True)
class ThrottleConfig:
    """Resource-unit budgets per app per tenant (graph-facts §9.3); None means unlimited.

    Off by default so functional tests never wait on a Retry-After; the smallest real band is
    `ThrottleConfig.parse("1250/min,1200000/day")`. `status` is 429 or 503 (SharePoint sends
    both). `ratelimit_headers=False` models throttling "by a limit RateLimit-* does not
    describe": no RateLimit headers at all.
    """

    per_minute: int | None = None
    per_day: int | None = None
    status: int = 429
    ratelimit_headers: bool = True

    def __post_init__(self) -> None:
        if self.status not in (429, 503):
            raise ConfigError(f"throttle status {self.status} must be 429 or 503")

    @property
    def enabled(self) -> bool:
        return self.per_minute is not None or self.per_day is not None

    @classmethod
    def parse(cls, spec: str) -> ThrottleConfig:
        """Parse "1250/min", "1250/min,1200000/day", optionally with "503" / "status=503" and
        "ratelimit-headers=off"; "off" disables throttling.

        Raises ConfigError naming the bad part.
        """
        values: dict[str, Any] = {}
        for part in _parts(spec.lower()):
            if part in _OFF_WORDS or part == "unlimited":
                continue
            values.update(cls._parse_part(part, spec))
        return cls(**values)

    @staticmethod
    def _parse_part(part: str, spec: str) -> dict[str, Any]:
        budget = re.fullmatch(r"(\d+)\s*/\s*(min|minute|day)", part)
        if budget:
            key = "per_minute" if budget.group(2).startswith("min") else "per_day"
            return {key: int(budget.group(1))}
        name, _, value = part.rpartition("=")
        if name in ("", "status") and value in ("429", "503"):
            return {"status": int(value)}
        if name == "ratelimit-headers" and value in ("on", "off"):
            return {"ratelimit_headers": value == "on"}
        raise ConfigError(
            f"throttle {spec!r}: cannot read {part!r} (expected N/min, N/day, status=429|503 "
            "or ratelimit-headers=on|off)"
        )

    def __str__(self) -> str:
        parts = [f"{self.per_minute}/min"] if self.per_minute is not None else []
        parts += [f"{self.per_day}/day"] if self.per_day is not None else []
        return ",".join([*parts, f"status={self.status}"]) if parts else "off"


@dataclass(frozen=True)
class FaultConfig:
    """Probability (0..1) of injecting each fault kind, per request.

    Kinds: `429` / `503` (throttled, integer Retry-After = `retry_after`), `500`
    (generalException), `drop` (connection closed without a response), `truncate` (download
    body cut short), `expire-url` (a valid download URL answered as expired), `expire-token`
    (the presented access token is revoked), `resync` (delta answers 410; decided by the
    delta handler through FaultInjector). `scope` limits injection to the named route names
    or services (`graph`, `download`); empty means everywhere.
    """

    rates: Mapping[str, float] = field(default_factory=dict)
    retry_after: int = 1
    scope: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise ConfigError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"fault rate {kind}={rate} must be between 0 and 1")
        if self.retry_after < 0:
            raise ConfigError(f"retry-after {self.retry_after} must not be negative")
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))
        object.__setattr__(self, "scope", frozenset(self.scope))

    def rate(self, kind: str) -> float:
        return self.rates.get(kind, 0.0)

    def applies_to(self, names: Iterable[str]) -> bool:
        """Whether a request known by these names (service, route) is in scope."""
        return not self.scope or not self.scope.isdisjoint(names)

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        """Parse "429=0.1,drop=0.02,retry-after=2,scope=download+delta"; "none" means no faults.

        Raises ConfigError naming the bad part.
        """
        rates: dict[str, float] = {}
        retry_after, scope = 1, frozenset[str]()
        for part in _parts(spec):
            if part.lower() in _OFF_WORDS:
                continue
            name, eq, value = part.partition("=")
            name = name.strip().lower()
            if not eq:
                raise ConfigError(f"faults {spec!r}: {part!r} is not KIND=RATE")
            if name == "retry-after":
                retry_after = _integer(value.strip(), "retry-after", spec)
            elif name == "scope":
                scope = frozenset(s.strip() for s in value.split("+") if s.strip())
            elif name in FAULT_KINDS:
                rates[name] = cls._rate(value.strip(), name, spec)
            else:
                raise ConfigError(f"faults {spec!r}: unknown fault kind {name!r}")
        return cls(rates, retry_after, scope)

    @staticmethod
    def _rate(text: str, kind: str, spec: str) -> float:
        rate = _number(text, f"rate of {kind}", spec)
        if rate > 1:
            raise ConfigError(f"faults {spec!r}: rate of {kind} {text!r} must be between 0 and 1")
        return rate

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape GET/PUT /_emulator/faults use."""
        return {
            "rates": dict(self.rates),
            "retry_after": self.retry_after,
            "scope": sorted(self.scope),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultConfig:
        """The inverse of as_dict; raises ConfigError on a wrong shape."""
        unknown = set(data) - {"rates", "retry_after", "scope"}
        if unknown:
            raise ConfigError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        rates, scope = data.get("rates", {}), data.get("scope", [])
        retry_after = data.get("retry_after", 1)
        if not isinstance(rates, Mapping) or not isinstance(scope, list):
            raise ConfigError("faults: 'rates' must be an object and 'scope' a list")
        if not isinstance(retry_after, int) or isinstance(retry_after, bool):
            raise ConfigError("faults: 'retry_after' must be an integer number of seconds")
        if not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in rates.values()):
            raise ConfigError("faults: every rate must be a number")
        return cls({str(k): float(v) for k, v in rates.items()}, retry_after, frozenset(scope))

    def __str__(self) -> str:
        parts = [f"{kind}={rate:g}" for kind, rate in self.rates.items() if rate]
        parts.append(f"retry-after={self.retry_after}")
        if self.scope:
            parts.append("scope=" + "+".join(sorted(self.scope)))
        return ",".join(parts)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour, apart from the tenant's content.

    `seed` makes latency jitter, fault decisions, truncation points and $batch response order
    reproducible. `admin_key` guards /_emulator/ (a random key when None). Lifetimes are in
    seconds: 3599 for access tokens as the token endpoint reports them (graph-facts §11.2), 3600 for
    download URLs (two real tempauth tokens decode to exp - nbf = 3600, graph-facts §8.3).
    """

    seed: int = 0
    latency: LatencyConfig = LatencyConfig()
    throttle: ThrottleConfig = ThrottleConfig()
    faults: FaultConfig = FaultConfig()
    token_lifetime_s: int = 3599
    download_url_lifetime_s: int = 3600
    admin_key: str | None = None
    batch_shuffle: bool = True
