"""A queued change log comes back byte for byte, however large, a piece at a time."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ms365sync.state.store import StateStore


@pytest.mark.parametrize("size", [0, 10, 3_000_000])
def test_a_queued_log_comes_back_byte_for_byte_in_pieces(tmp_path: Path, size: int) -> None:
    rng = random.Random(size)
    entries = {
        f"folder/fïle-{i}.txt": {"item_id": f"{rng.random():.12f}"} for i in range(size // 40)
    }
    log = json.dumps({"changes": {"added": entries}}, indent=2, ensure_ascii=False).encode()
    state = StateStore(tmp_path / "state")
    try:
        with state.run():
            pieces_in = (log[i : i + 4096] for i in range(0, len(log), 4096))
            state.enqueue_export("run-1", "sync_changes_x.json", pieces_in, True)
        ((run_id, name, stored, permissions),) = state.pending_exports()
        assert (run_id, name, permissions) == ("run-1", "sync_changes_x.json", True)
        assert (isinstance(stored, bytes) and len(stored) < len(log)) or size < 100
        assert stored is not None
        pieces = list(StateStore.log_chunks(stored, chunk=1 << 16))
        assert b"".join(pieces) == log
        assert max(len(piece) for piece in pieces) <= 1 << 16
    finally:
        state.close()


def test_a_log_queued_as_text_by_an_earlier_build_is_still_written() -> None:
    text = '{"name": "café"}' * 1000
    assert b"".join(StateStore.log_chunks(text, chunk=7)) == text.encode("utf-8")
