"""A queued change log comes back byte for byte, however large, a piece at a time."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import pytest

from ms365sync.outputs.logstream import unpack
from ms365sync.state.store import PendingExport, StateStore


def _log(size: int) -> bytes:
    rng = random.Random(size)
    entries = {
        f"folder/fïle-{i}.txt": {"item_id": f"{rng.random():.12f}"} for i in range(size // 40)
    }
    return json.dumps({"changes": {"added": entries}}, indent=2, ensure_ascii=False).encode()


def _streams(log: bytes, parts: int) -> bytes:
    """`log` cut into `parts` zlib streams, as `LogDocument.packed()` gives a log."""
    step = max(1, len(log) // parts)
    return b"".join(zlib.compress(log[i : i + step], 1) for i in range(0, len(log), step))


@pytest.mark.parametrize("size", [0, 10, 3_000_000])
def test_a_queued_log_comes_back_byte_for_byte_in_pieces(tmp_path: Path, size: int) -> None:
    log = _log(size)
    state = StateStore(tmp_path / "state")
    try:
        with state.run():
            state.enqueue_export("run-1", "sync_changes_x.json", _streams(log, 7), True)
        (pending,) = state.pending_exports()
        assert isinstance(pending, PendingExport)
        assert (pending.run_id, pending.log_name, pending.permissions) == (
            "run-1",
            "sync_changes_x.json",
            True,
        )
        assert pending.log is not None
        assert len(pending.log) < len(log) or size < 100
        pieces = list(unpack(pending.log))
        assert b"".join(pieces) == log
        assert max(len(piece) for piece in pieces) <= 1 << 20
    finally:
        state.close()


def test_a_log_queued_as_one_stream_before_the_upgrade_is_still_written() -> None:
    """Earlier builds queued the whole log as a single zlib stream: the same form."""
    log = _log(3_000_000)
    packer = zlib.compressobj(1)
    stored = b"".join([packer.compress(log[i : i + 4096]) for i in range(0, len(log), 4096)])
    stored += packer.flush()
    assert b"".join(unpack(stored)) == log
