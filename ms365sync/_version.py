"""The package version, in a module of its own so that any module can import it."""

__version__ = "0.4.0.dev0"
