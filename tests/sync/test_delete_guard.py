"""The max-delete guard: a pure decision over how many of the mirror's records a plan deletes."""

from __future__ import annotations

import pytest

from ms365sync.errors import SafetyError
from ms365sync.sync.plan import DeleteLimit, check_deletions


@pytest.mark.parametrize(
    ("deleting", "mirrored", "limit", "stops"),
    [
        (0, 0, DeleteLimit(), False),
        (3, 4, DeleteLimit(max_count=2), True),
        (2, 4, DeleteLimit(max_count=2), False),
        (9, 20, DeleteLimit(max_count=None, max_percent=40.0), True),
        (8, 20, DeleteLimit(max_count=None, max_percent=40.0), False),
        (5, 9, DeleteLimit(max_count=None, max_percent=10.0), False),  # too few for a percentage
        (4, 4, DeleteLimit(), True),  # the whole mirror
        (1, 1, DeleteLimit(), False),  # a one-file mirror may empty
        (4, 4, DeleteLimit(None, None, protect_empty=False), False),  # forced
    ],
)
def test_guard(deleting: int, mirrored: int, limit: DeleteLimit, stops: bool) -> None:
    if stops:
        with pytest.raises(SafetyError) as caught:
            check_deletions("t", deleting, mirrored, limit)
        assert caught.value.would_delete == deleting
    else:
        check_deletions("t", deleting, mirrored, limit)
