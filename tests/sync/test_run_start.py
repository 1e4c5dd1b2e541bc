"""What a run does before it lists anything: it takes the target's lock (a second run on the
same target is refused; a stopped run stops waiting for it) and removes the temporary files
a killed run left in data/."""

from __future__ import annotations

from ms365sync.localfs.mirror import Mirror
from support.harness import World


def test_temporary_files_of_a_killed_run_are_removed(world: World) -> None:
    world.ok()
    leftover = world.root / "data" / "Plans" / ".budget.csv.ms365sync-abcd1234.part"
    journal = Mirror(world.root).journal
    journal.claim(leftover)  # recorded before it was created, as runs do
    journal.close()
    leftover.write_bytes(b"partial")
    result = world.ok()
    assert not leftover.exists()
    assert any("temporary" in note for note in result.counters.notes)
    assert result.log is not None and result.log.summary.untracked_local_files == 0


def test_a_second_run_on_the_same_target_is_refused(world: World) -> None:
    from ms365sync.errors import LockError
    from ms365sync.localfs.lock import target_lock

    world.ok()
    with target_lock(world.root / ".ms365sync"):
        blocked = world.sync()
    assert isinstance(blocked.error, LockError)
    assert world.ok().ok


def test_a_run_waiting_for_the_lock_ends_when_stopped(world: World) -> None:
    from ms365sync.localfs.lock import target_lock
    from ms365sync.sync.stop import Stop
    from ms365sync.sync.syncer import Syncer

    stop = Stop()
    stop.request("SIGTERM")
    with target_lock(world.root / ".ms365sync"), world.client() as client:
        result = Syncer(world.spec(lock_timeout=600.0), client, stop=stop).sync()
    assert result.ok and result.interrupted and result.document is None


def test_a_stopped_run_records_nothing_and_the_next_does_it_all(world: World) -> None:
    from ms365sync.sync.stop import Stop
    from ms365sync.sync.syncer import Syncer

    stop = Stop()
    stop.request("SIGINT")
    with world.client() as client:
        result = Syncer(world.spec(), client, stop=stop).sync()
    assert result.ok and result.interrupted and result.log_path is None
    assert world.data() == {}
    log = world.ok().log
    assert log is not None and log.summary.added_count == len(list(world.drive.files()))
