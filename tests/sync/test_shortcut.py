"""A run after a converged one plans nothing when nothing changed, and only then."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ms365sync.emulator import BytesContent, Role
from ms365sync.state.store import StateStore
from ms365sync.sync import batches as execute
from ms365sync.sync import shortcut as converged
from ms365sync.target import Filters
from support.harness import World


def _marked(world: World) -> str | None:
    state = StateStore(world.spec().state_dir)
    try:
        return state.meta.converged
    finally:
        state.close()


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a run read the whole tree to plan."""
    calls: list[int] = []
    real = execute.survey

    def counting(*args: object, **kwargs: object) -> execute.Survey:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(execute, "survey", counting)
    return calls


def test_a_quiet_run_after_a_converged_one_plans_nothing(world: World, planned: list[int]) -> None:
    world.ok()
    assert _marked(world) == converged.key(world.spec())
    assert planned == [1]
    quiet = world.ok()
    assert quiet.log is not None and not quiet.log.has_changes and not quiet.log.repairs
    assert planned == [1]  # no second plan: the store and data/ were as the last run left them
    assert _marked(world) == converged.key(world.spec())
    assert world.data() == world.remote_files()


def _edit_local(world: World) -> None:
    path = world.root / "data" / "readme.md"
    path.write_bytes(b"edited here")


def _remove_local(world: World) -> None:
    (world.root / "data" / "Finance" / "q1.txt").unlink()


def _touch_local(world: World) -> None:
    path = world.root / "data" / "readme.md"
    os.utime(path, ns=(0, 0))


CHANGES: dict[str, Callable[[World], object]] = {
    "a remote edit": lambda w: w.tenant.edit_file(w.drive, "readme.md", BytesContent(b"new")),
    "a remote deletion": lambda w: w.tenant.delete(w.drive, "Finance/q1.txt"),
    "a remote grant": lambda w: w.tenant.grant(w.drive, "readme.md", "user:Bob Smith", Role.READ),
    "a local edit": _edit_local,
    "a local deletion": _remove_local,
    "a local mtime change": _touch_local,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_after_convergence_takes_the_full_plan(
    world: World, planned: list[int], change: str
) -> None:
    world.ok()
    CHANGES[change](world)
    after = world.ok()
    assert planned == [1, 1], change
    assert after.log is not None and (after.log.has_changes or after.log.repairs), change
    assert world.data() == world.remote_files()
    for path, labels in world.permissions_json().items():
        assert labels == world.expected_labels(path)
    world.ok()
    assert planned == [1, 1], "converged again: the run after is quiet"


def test_new_filters_take_the_full_plan(world: World, planned: list[int]) -> None:
    world.ok()
    narrowed = world.ok(filters=Filters(include=("*.txt",)))
    assert planned == [1, 1]
    assert narrowed.log is not None and narrowed.log.changes.deleted


def test_a_run_with_a_failing_file_is_not_converged(world: World, planned: list[int]) -> None:
    in_the_way = world.root / "data" / "Finance" / "q1.txt"
    in_the_way.parent.mkdir(parents=True)
    in_the_way.write_bytes(b"someone else's")  # ours never overwrites it: that file fails
    first = world.ok()
    assert first.log is not None and first.log.errors
    assert _marked(world) is None
    world.ok()
    assert planned == [1, 1]  # the failing file is tried again by a full plan
    in_the_way.unlink()
    world.ok()
    assert Path(in_the_way).read_bytes() == world.remote_files()["Finance/q1.txt"]
    assert _marked(world) == converged.key(world.spec())
