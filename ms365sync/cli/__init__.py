"""The ms365sync command line (click): the only part of the package that prints."""

from __future__ import annotations

from ms365sync.cli import commands, schema  # noqa: F401 - registers the subcommands

# demo and emulator are registered lazily: see LazyGroup in ms365sync.cli.main
from ms365sync.cli.main import cli, main

__all__ = ["cli", "main"]
