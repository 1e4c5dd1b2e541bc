"""Partial failures, disk trouble and random histories again, one action per batch.

See tests/sync/test_batches.py: with `batches.BATCH` at 1, an action wrongly
taken for independent is applied alone, and these tests' invariants (the mirror equals the
truth, each change reported once, nothing overwritten while its place is held) catch it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability.test_disk_trouble import *  # noqa: F403 - collected again with batches of one
from reliability.test_history_properties import *  # noqa: F403
from reliability.test_partial_failures import *  # noqa: F403

from ms365sync.sync import batches as execute


@pytest.fixture(autouse=True)
def _batches_of_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(execute, "BATCH", 1)
    yield


def test_batches_here_hold_one_action() -> None:
    assert execute.BATCH == 1
