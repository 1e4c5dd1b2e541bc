"""The change detection, moves, downloads, filters, max-delete guard, change-log and local
safety tests and those of a run's start again, with the plan applied one action per batch.

A run applies the actions that no other action depends on in batches (`batches.BATCH`,
2,000), recording each batch before the next, and the dependent ones (deletions, moves,
and whatever takes or holds their places) together at the end. These libraries are far
smaller than a batch, so here every batch holds a single action: a dependent action
classified as independent would be applied on its own, before the place it needs is free,
and these tests would see the wrong file or a wrong change log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from outputs.test_change_log import *  # noqa: F403 - collected again with batches of one
from sync.test_change_detection import *  # noqa: F403
from sync.test_delete_guard import *  # noqa: F403
from sync.test_file_downloads import *  # noqa: F403
from sync.test_filters import *  # noqa: F403
from sync.test_local_safety import *  # noqa: F403
from sync.test_moves import *  # noqa: F403
from sync.test_run_start import *  # noqa: F403

from ms365sync.sync import batches as execute

del test_downloads_run_concurrently  # noqa: F821
del test_guard  # noqa: F821 - a pure decision, no batches in it


@pytest.fixture(autouse=True)
def _batches_of_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(execute, "BATCH", 1)
    yield


def test_batches_here_hold_one_action() -> None:
    assert execute.BATCH == 1
