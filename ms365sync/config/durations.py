"""The one duration grammar ("90s", "15m", "1h30m") for the file, the command line and the API."""

from __future__ import annotations

import re

from ms365sync.target import PermissionPolicy

__all__ = [
    "DURATION_TEXT",
    "POSITIVE_DURATION_TEXT",
    "SWEEP_TEXT",
    "DurationError",
    "format_duration",
    "parse_duration",
    "parse_sweep",
]

DURATION_TEXT = "a duration such as 90s, 30m, 12h, 7d or 1h30m"
"""What a duration looks like, for error messages and help texts."""
SWEEP_TEXT = f'"always", "never" or {DURATION_TEXT}'
"""What a permission sweep policy looks like."""
POSITIVE_DURATION_TEXT = "a duration above zero such as 30s, 1m or 2m30s"
"""What a duration that must be positive (a time limit) looks like."""

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd])")  # ASCII digits only (\d takes any script's)


class DurationError(ValueError):
    """Text that is not a duration (or policy) allowed here; `problem` and `expected` word it."""

    def __init__(self, text: str, problem: str, expected: str) -> None:
        super().__init__(f"{problem}: {text!r}")
        self.problem = problem
        self.expected = expected


def parse_duration(text: str) -> float:
    """Seconds in "90s", "30m", "12h", "7d" or a sum such as "1h30m" (any case, any spaces).

    Every number needs its unit: a bare "90" is not a duration.

    Raises:
        DurationError: `text` is not such a duration (a ValueError).
    """
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise DurationError(text, "not a duration", DURATION_TEXT)
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """`seconds` in the grammar `parse_duration` reads, largest units first ("1d", "1h30m")."""
    rest = round(seconds)
    parts = []
    for unit, size in sorted(_UNIT_SECONDS.items(), key=lambda pair: -pair[1]):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_sweep(text: str) -> PermissionPolicy:
    """A permission sweep policy: "always", "never", or a positive duration between sweeps.

    Raises:
        DurationError: `text` is none of those, or a zero interval.
    """
    word = text.strip().lower()
    if word in {"always", "never"}:
        return PermissionPolicy("always" if word == "always" else "never")
    try:
        seconds = parse_duration(word)
    except DurationError:
        raise DurationError(text, "not a permission sweep policy", SWEEP_TEXT) from None
    if seconds <= 0:
        expected = f'"always" to sweep on every run, or {DURATION_TEXT}'
        raise DurationError(text, "a zero interval", expected)
    return PermissionPolicy("interval", seconds)
