"""sites.toml -> targets: the schema, the file as text (TOML, .env, ${VAR}), messages, starter.

Callers import from here: `from ms365sync.config import load_config`.
"""

from __future__ import annotations

from ms365sync.config.durations import DurationError, parse_duration, parse_sweep
from ms365sync.config.load import Config, Target, load_config
from ms365sync.config.schema import ConfigFile
from ms365sync.config.starter import (
    StarterCloud,
    StarterSite,
    write_example_config,
    write_starter_config,
)
from ms365sync.errors import ConfigError

__all__ = [
    "Config",
    "ConfigError",
    "ConfigFile",
    "DurationError",
    "StarterCloud",
    "StarterSite",
    "Target",
    "load_config",
    "parse_duration",
    "parse_sweep",
    "write_example_config",
    "write_starter_config",
]
