"""sites.toml -> targets: the schema, the file as text (TOML, .env, ${VAR}), messages, starter.

Callers import from here: `from ms365sync.config import load_config`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ms365sync.config.durations import DurationError, parse_duration, parse_sweep
from ms365sync.config.load import Config, Target, load_config
from ms365sync.config.schema import ConfigFile
from ms365sync.errors import ConfigError

if TYPE_CHECKING:
    from ms365sync.config.starter import (
        StarterCloud,
        StarterSite,
        write_example_config,
        write_starter_config,
    )

# `init`'s starter files load on first use (PEP 562): a sync never writes one.
_STARTER = frozenset(
    {"StarterCloud", "StarterSite", "write_example_config", "write_starter_config"}
)


def __getattr__(name: str) -> Any:
    if name not in _STARTER:
        raise AttributeError(f"module 'ms365sync.config' has no attribute {name!r}")
    value = getattr(importlib.import_module("ms365sync.config.starter"), name)
    globals()[name] = value
    return value


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
