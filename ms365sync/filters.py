"""Include and exclude globs (gitignore style, through pathspec) over library-relative paths."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pathspec


class FilterError(ValueError):
    """An include or exclude pattern pathspec cannot parse."""


def _compile(patterns: Sequence[str], what: str) -> pathspec.GitIgnoreSpec | None:
    if not patterns:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except (ValueError, TypeError) as exc:  # GitWildMatchPatternError is a ValueError
        raise FilterError(f"invalid {what} pattern: {exc}") from exc


@dataclass(frozen=True)
class Filters:
    """A path is mirrored when it matches an include pattern (or none are given) and no
    exclude pattern."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _include: pathspec.GitIgnoreSpec | None = field(init=False, repr=False, compare=False)
    _exclude: pathspec.GitIgnoreSpec | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", _compile(self.include, "include"))
        object.__setattr__(self, "_exclude", _compile(self.exclude, "exclude"))

    def accepts(self, path: str) -> bool:
        if self._include is not None and not self._include.match_file(path):
            return False
        return self._exclude is None or not self._exclude.match_file(path)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the patterns do, so a run can tell the filters changed."""
        raw = json.dumps([list(self.include), list(self.exclude)])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
