"""The ms365sync command line (click): the only part of the package that prints."""

from __future__ import annotations

from ms365sync.cli import commands, demo, schema  # noqa: F401 - registers the subcommands
from ms365sync.cli.main import cli, main

__all__ = ["cli", "main"]
