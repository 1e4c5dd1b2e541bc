"""Click parameter types that read values with the configuration file's own grammar."""

from __future__ import annotations

import click

from ms365sync.config.durations import DurationError, parse_duration

__all__ = ["Duration"]


# Generic in recent click (ParamType[value, input]), plain in 8.1, which pyproject allows.
class Duration(click.ParamType):  # type: ignore[type-arg, unused-ignore]
    """A duration option ("90s", "15m", "1h30m"), read by `config.durations.parse_duration`.

    The value is seconds (a float). With `positive`, zero is refused too.
    """

    name = "duration"

    def __init__(self, *, positive: bool = False) -> None:
        self.positive = positive

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)  # a default given in seconds
        text = str(value)
        try:
            seconds = parse_duration(text)
        except DurationError:
            seconds = None
        if seconds is None or (self.positive and seconds <= 0):
            wanted = "a positive duration" if self.positive else "a duration"
            self.fail(f"{text!r}: expected {wanted} such as 30s, 15m, 2h", param, ctx)
        return seconds
