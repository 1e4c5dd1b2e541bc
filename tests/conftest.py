"""Suite-wide set-up: ms365sync's logging on (the library disables it by default), with no
default stderr sink, so tests that capture log records see them and the output stays clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

pytest_plugins = ["output_schemas_plugin"]  # every change log the suite writes is schema-checked


@pytest.fixture(autouse=True, scope="session")
def _library_logging() -> Iterator[None]:
    logger.remove()
    logger.enable("ms365sync")
    yield
    logger.disable("ms365sync")
