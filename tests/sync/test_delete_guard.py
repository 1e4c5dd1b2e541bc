"""The max-delete guard: a pure decision over how many of the mirror's records a plan deletes,
and runs it stops (by count, by percentage, a library emptied remotely) until forced."""

from __future__ import annotations

from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent
from ms365sync.errors import SafetyError
from ms365sync.sync.plan import DeleteLimit, check_deletions
from support.harness import FIRST_FILES, World, add_many, make_world, tree_snapshot


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


@pytest.mark.parametrize(
    ("deleting", "mirrored", "limit", "words"),
    [
        (3, 18, DeleteLimit(max_count=2), "3 of 18 local files (17%): more than max_delete = 2 "),
        (
            9,
            20,
            DeleteLimit(max_count=None, max_percent=40.0),
            "9 of 20 local files (45%): more than max_delete_percent = 40% allows (at most 8 ",
        ),
        (4, 4, DeleteLimit(), "4 of 4 local files (100%): that empties the mirror"),
    ],
)
def test_guard_names_the_setting_its_value_the_count_and_the_share(
    deleting: int, mirrored: int, limit: DeleteLimit, words: str
) -> None:
    with pytest.raises(SafetyError) as caught:
        check_deletions("t", deleting, mirrored, limit)
    assert words in str(caught.value)
    assert "--force" in (caught.value.hint or "")


def test_max_delete_count(world: World) -> None:
    world.ok()
    for path in ("readme.md", "Plans/budget.csv", "Finance/q1.txt"):
        world.tenant.delete(world.drive, path)
    world.tenant.add_file(world.drive, "new.txt", BytesContent(b"n"))
    before = tree_snapshot(world.root)
    stopped = world.sync(max_delete_count=2)
    assert not stopped.ok and isinstance(stopped.error, SafetyError)
    assert stopped.error.would_delete == 3 and stopped.error.limit == 2
    assert "refusing to delete 3" in str(stopped.error) and "force" in (stopped.error.hint or "")
    assert tree_snapshot(world.root) == {
        k: v for k, v in tree_snapshot(world.root).items() if k in before
    }
    assert world.data() == FIRST_FILES
    assert len(world.logs()) == 1
    forced = world.ok(max_delete_count=2, force=True)
    assert forced.log is not None
    assert set(forced.log.changes.deleted) == {"readme.md", "Plans/budget.csv", "Finance/q1.txt"}
    assert set(forced.log.changes.added) == {"new.txt"}
    assert world.data() == world.remote_files()


def test_max_delete_percent(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    paths = add_many(world, 16)  # 20 files
    world.ok()
    for path in paths[:9]:
        world.tenant.delete(world.drive, path)
    stopped = world.sync(max_delete_count=None, max_delete_percent=40.0)
    assert isinstance(stopped.error, SafetyError)
    assert stopped.error.would_delete == 9 and stopped.error.limit == 8
    assert len(world.data()) == 20
    allowed = world.ok(max_delete_count=None, max_delete_percent=50.0)
    assert allowed.log is not None and len(allowed.log.changes.deleted) == 9


def test_library_emptied_remotely_trips_the_guard(world: World) -> None:
    world.ok()
    for path in ("readme.md", "Plans", "Finance"):
        world.tenant.delete(world.drive, path)
    stopped = world.sync()
    assert isinstance(stopped.error, SafetyError)
    assert world.data() == FIRST_FILES
    forced = world.ok(force=True)
    assert forced.log is not None and len(forced.log.changes.deleted) == len(FIRST_FILES)
    assert world.data() == {}
