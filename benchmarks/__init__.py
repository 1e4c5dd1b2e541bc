"""Benchmarks of ms365sync and its emulator; each module runs as `python -m benchmarks.NAME`."""
