"""The emulator's option parsers: what they accept and the one-line errors naming the bad part."""

from __future__ import annotations

import pytest

from ms365sync.emulator.control.settings import (
    EmulatorConfig,
    FaultConfig,
    LatencyConfig,
    ThrottleConfig,
)
from ms365sync.emulator.errors import ConfigError


def test_latency_fixed_and_jitter() -> None:
    assert LatencyConfig.parse("30") == LatencyConfig(30, 0)
    assert LatencyConfig.parse("30+-10") == LatencyConfig(30, 10)
    assert LatencyConfig.parse(" 2.5±1 ") == LatencyConfig(2.5, 1)


@pytest.mark.parametrize(
    ("spec", "named"), [("abc", "'abc'"), ("30+-x", "'x'"), ("-5", "'-5'"), ("", "expected")]
)
def test_latency_errors_name_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        LatencyConfig.parse(spec)
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)


def test_throttle_budgets() -> None:
    assert ThrottleConfig.parse("1250/min") == ThrottleConfig(per_minute=1250)
    both = ThrottleConfig.parse("1250/min,1200000/day")
    assert (both.per_minute, both.per_day, both.status) == (1250, 1_200_000, 429)
    busy = ThrottleConfig.parse("100/minute,status=503,ratelimit-headers=off")
    assert (busy.status, busy.ratelimit_headers) == (503, False)
    assert not ThrottleConfig.parse("off").enabled
    assert ThrottleConfig.parse(str(both)) == both


@pytest.mark.parametrize(
    ("spec", "named"),
    [("1250/hour", "'1250/hour'"), ("status=404", "'status=404'"), ("x", "'x'")],
)
def test_throttle_errors_name_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        ThrottleConfig.parse(spec)


def test_fault_spec_from_the_cli() -> None:
    spec = (
        "429=0.1,503=0.05,drop=0.02,truncate=0.05,expire-url=0.1,expire-token=0.01,"
        "resync=0.02,retry-after=2"
    )
    config = FaultConfig.parse(spec)
    assert config.rate("429") == 0.1
    assert config.rate("expire-token") == 0.01
    assert config.rate("500") == 0.0
    assert config.retry_after == 2
    assert FaultConfig.parse(str(config)) == config
    assert FaultConfig.parse("none") == FaultConfig()


def test_fault_scope_and_json_round_trip() -> None:
    config = FaultConfig.parse("drop=0.5,scope=download+children")
    assert config.scope == frozenset({"download", "children"})
    assert config.applies_to(["download", ""])
    assert not config.applies_to(["graph", "me"])
    assert FaultConfig.from_dict(config.as_dict()) == config


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("429=2", "rate of 429"),
        ("bogus=0.1", "'bogus'"),
        ("429", "'429' is not KIND=RATE"),
        ("retry-after=soon", "'soon'"),
        ("drop=lots", "'lots'"),
    ],
)
def test_fault_errors_name_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        FaultConfig.parse(spec)


def test_fault_from_dict_rejects_wrong_shapes() -> None:
    with pytest.raises(ConfigError, match="unknown fault settings"):
        FaultConfig.from_dict({"rate": {}})
    with pytest.raises(ConfigError, match="retry_after"):
        FaultConfig.from_dict({"retry_after": "2"})
    with pytest.raises(ConfigError, match="unknown fault kind"):
        FaultConfig.from_dict({"rates": {"418": 0.5}})


def test_config_errors_are_value_errors_for_cli_frameworks() -> None:
    with pytest.raises(ValueError):
        ThrottleConfig(status=500)


def test_emulator_defaults_follow_the_readme() -> None:
    config = EmulatorConfig()
    assert config.token_lifetime_s == 3599
    assert config.download_url_lifetime_s == 3600
    assert not config.throttle.enabled
    assert config.faults == FaultConfig()
