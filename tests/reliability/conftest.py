"""The reliability suite reuses the end-to-end harness (tests/integration/harness.py) and
the command-line harness (tests/cli/cli_harness.py): their folders go on the import path,
however this folder is selected. `world` is the harness's small tenant and target."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for _folder in ("integration", "cli"):
    _path = str(_TESTS / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import World, make_world  # noqa: E402 - the path is set just above


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)
