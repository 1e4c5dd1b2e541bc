"""Suite-wide set-up: ms365sync's logging on (the library disables it by default), with no
default stderr sink, so tests that capture log records see them and the output stays clean;
every output the suite writes checked against its JSON Schema; hypothesis without its
per-example deadline; and `world`, the harness's
small tenant and target (tests/support/harness.py), for any test that asks for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from loguru import logger

from support.harness import World, make_world

pytest_plugins = ["support.schemas_plugin"]  # every change log the suite writes is schema-checked

# Property tests assert behaviour, never speed: hypothesis's per-example deadline (200 ms)
# would fail them on a loaded machine without any change in the code.
settings.register_profile("ms365sync", deadline=None)
settings.load_profile("ms365sync")


@pytest.fixture(autouse=True, scope="session")
def _library_logging() -> Iterator[None]:
    logger.remove()
    logger.enable("ms365sync")
    yield
    logger.disable("ms365sync")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)
