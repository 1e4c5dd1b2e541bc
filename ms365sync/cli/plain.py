"""The console the command line prints to: rich's on a terminal, plain lines otherwise.

Output that is not a terminal (cron, CI, a pipe, `--json`'s stderr) gets no colour, no
table and no wrapping from rich anyway, so it is written here without importing rich
(about a tenth of a sync's start-up). The lines are what rich's console writes there:
markup tags dropped (`\\[` for a literal bracket), control codes removed, tabs expanded,
nothing wrapped; rich's `:name:` emoji codes are left as they are.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["UNWRAPPED_WIDTH", "PlainConsole", "Printer", "console_for", "is_terminal"]

UNWRAPPED_WIDTH = 100_000  # characters: what a console that is not a terminal is given
TAB_SIZE = 8  # rich's

# rich.markup's tag: a backslash run, then [tag], the tag starting with a letter, #, / or @.
_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))  # what rich strips: BEL BS VT FF CR


class Printer(Protocol):
    """What the commands print through: `print` as rich's `Console.print` takes it."""

    @property
    def is_terminal(self) -> bool: ...

    def print(
        self,
        *objects: Any,
        markup: bool | None = None,
        highlight: bool | None = None,
        soft_wrap: bool | None = None,
    ) -> None: ...


def is_terminal(stream: TextIO) -> bool:
    """Whether rich would treat `stream` as a terminal: TTY_COMPATIBLE, then FORCE_COLOR
    (https://force-color.org), then the stream's isatty()."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in {"0", "1"}:
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def console_for(stream: TextIO) -> Printer:
    """rich's console on a terminal (rich then decides the rest, as it always did), else a
    plain one; a console that is not a terminal never wraps."""
    if not is_terminal(stream):
        return PlainConsole(stream)
    from rich.console import Console  # noqa: PLC0415 -- a terminal only: see the docstring

    console: Console = Console(file=stream, highlight=False)
    if not console.is_terminal:
        console.width = UNWRAPPED_WIDTH
    return console


class PlainConsole:
    """`Console.print` for a stream that is not a terminal, without rich."""

    is_terminal = False

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.quiet = False

    def print(
        self,
        *objects: Any,
        markup: bool | None = None,
        highlight: bool | None = None,
        soft_wrap: bool | None = None,
    ) -> None:
        """Write `objects` (str() of each) joined by spaces, and a newline."""
        del highlight, soft_wrap  # never highlighted, never wrapped here
        if self.quiet:
            return
        text = " ".join(str(item) for item in objects)
        if markup is not False:
            text = strip_markup(text)
        lines = text.translate(_CONTROL).split("\n")
        self.stream.write("\n".join(line.expandtabs(TAB_SIZE) for line in lines) + "\n")
        self.stream.flush()


def strip_markup(text: str) -> str:
    """`text` as rich's markup renders it without styles: tags dropped, `\\[` a bracket."""

    def replace(match: re.Match[str]) -> str:
        backslashes, tag = match.group(2), match.group(3)
        pairs, odd = divmod(len(backslashes), 2)
        if odd:  # an odd run escapes the bracket: the tag is text
            return "\\" * pairs + f"[{tag}]"
        return "\\" * pairs

    return _TAG.sub(replace, text)
