"""The `served` fixture: the emulator on its public names behind the shipped proxy."""

from support.clients import served  # noqa: F401  (a fixture)
