"""A change log queued in the state is written out byte for byte: one queued by this
version (its sections' streams as built) and one queued before the upgrade (one stream)."""

from __future__ import annotations

import zlib

from ms365sync.emulator import BytesContent
from ms365sync.state.store import StateStore
from support.harness import World


def test_a_log_queued_before_the_upgrade_is_written_at_the_next_start(world: World) -> None:
    world.ok()
    (first,) = world.logs()
    content = first.read_bytes()
    packer = zlib.compressobj(1)  # how earlier builds kept a queued log: one zlib stream
    old_form = b"".join(packer.compress(content[i : i + 100]) for i in range(0, len(content), 100))
    old_form += packer.flush()
    name = "sync_changes_2000-01-01_00-00-00.json"
    state = StateStore(world.root / ".ms365sync")
    try:
        with state.run():
            state.enqueue_export("queued-before", name, old_form, False)
    finally:
        state.close()
    world.ok()
    assert (world.root / "sync_logs" / name).read_bytes() == content
    state = StateStore(world.root / ".ms365sync")
    try:
        assert state.pending_exports() == []
    finally:
        state.close()


def test_the_written_log_is_the_runs_change_log_byte_for_byte(world: World) -> None:
    world.ok()
    for n in range(30):
        world.tenant.add_file(world.drive, f"More/file {n}.txt", BytesContent(b"x" * n))
    world.tenant.delete(world.drive, "Plans/budget.csv")
    result = world.ok()
    assert result.log is not None and result.log_path is not None
    assert result.log_path.read_bytes() == result.log.to_json_bytes()
    assert len(result.log.changes.added) == 30 and len(result.log.changes.deleted) == 1
