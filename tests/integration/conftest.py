"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import World, build_tenant

from ms365sync.emulator.core import Emulator


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    tenant, drive = build_tenant()
    yield World(Emulator(tenant), tenant, drive, tmp_path / "target")
