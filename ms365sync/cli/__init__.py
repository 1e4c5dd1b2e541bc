"""The ms365sync command line (click): the only part of the package that prints."""

from __future__ import annotations

# Every subcommand is registered lazily, loaded when it runs or --help lists it (a sync
# imports none of them): see LazyGroup in ms365sync.cli.main.
from ms365sync.cli.main import cli, main

__all__ = ["cli", "main"]
