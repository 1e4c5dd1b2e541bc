"""The emulator's own exception base and its input errors.

Wire-shaped errors live with the service that answers them: Graph's in
`msgraph/exceptions.py` (one class per Graph error code), the identity platform's in
`login/exceptions.py`. Both derive from `EmulatorError`.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of the emulator's own exceptions."""


class InputError(EmulatorError):
    """A malformed tenant or scenario file: names the file, line or key, and what was expected."""


class ConfigError(EmulatorError, ValueError):
    """A malformed emulator option (latency, throttle or fault spec) naming the bad part."""
