"""The emulator's own quickXorHash (it shares no code with the client) against rclone's
vectors and the algorithm as the OneDrive docs state it, and the generated contents it hashes."""

from __future__ import annotations

import base64
import random

import pytest

from ms365sync.emulator.tenant.content import GeneratedContent
from ms365sync.emulator.tenant.qxh import QuickXor, quick_xor_b64
from support.emulator_fakes import sample

VECTORS = sample("09-quickxorhash-test-vectors.rclone.json")["vectors"]


def reference(data: bytes) -> str:
    """graph-facts §3.6, one rotated byte at a time (slow, obviously right)."""
    acc = 0
    mask = (1 << 160) - 1
    for index, value in enumerate(data):
        shift = (11 * index) % 160
        acc ^= ((value << shift) | (value >> (160 - shift))) & mask
    out = bytearray(acc.to_bytes(20, "little"))
    for index, value in enumerate(len(data).to_bytes(8, "little")):
        out[12 + index] ^= value
    return base64.b64encode(bytes(out)).decode()


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: f"size{c['size']}")
def test_rclone_vectors(case: dict[str, object]) -> None:
    data = base64.b64decode(str(case["input_b64"]))
    assert quick_xor_b64(data) == case["quickXorHash"]
    hasher = QuickXor()
    rng = random.Random(len(data))
    position = 0
    while position < len(data):
        step = rng.randint(1, 200)
        hasher.update(data[position : position + step])
        position += step
    assert hasher.b64() == case["quickXorHash"]


@pytest.mark.parametrize("size", [0, 1, 159, 160, 161, 1280, 655_359, 655_360, 655_361, 2_000_003])
def test_sizes_around_block_and_wide_boundaries(size: int) -> None:
    data = random.Random(size).randbytes(size)
    expected = reference(data) if size <= 2000 else None
    got = quick_xor_b64(data)
    if expected is not None:
        assert got == expected
    hasher = QuickXor()
    for start in range(0, size, 300_007):  # odd chunks across the 640 KiB wide blocks
        hasher.update(data[start : start + 300_007])
    assert hasher.b64() == got


def test_large_input_matches_the_reference_on_a_sparse_pattern() -> None:
    # Bytes far apart exercise the fold of many 160-byte blocks; the reference only has to
    # walk the non-zero bytes, so compare on a sparse buffer.
    data = bytearray(1_500_000)
    rng = random.Random(5)
    for _ in range(300):
        data[rng.randrange(len(data))] = rng.randrange(1, 256)
    acc = 0
    mask = (1 << 160) - 1
    for index, value in enumerate(data):
        if value:
            shift = (11 * index) % 160
            acc ^= ((value << shift) | (value >> (160 - shift))) & mask
    out = bytearray(acc.to_bytes(20, "little"))
    for index, value in enumerate(len(data).to_bytes(8, "little")):
        out[12 + index] ^= value
    assert quick_xor_b64(bytes(data)) == base64.b64encode(bytes(out)).decode()


@pytest.mark.parametrize("text", [False, True])
def test_generated_content_is_deterministic_and_range_consistent(text: bool) -> None:
    size = 200_000
    whole = GeneratedContent(42, size, text=text).read_all()
    assert whole == GeneratedContent(42, size, text=text).read_all()
    assert whole != GeneratedContent(43, size, text=text).read_all()
    assert len(whole) == size
    part = b"".join(GeneratedContent(42, size, text=text).iter_range(70_000, 140_001, 4096))
    assert part == whole[70_000:140_001]
    assert GeneratedContent(42, size, text=text).quick_xor_hash == quick_xor_b64(whole)
    if text:
        assert whole.isascii()
        assert len(set(whole.split())) > 20  # word-like, not one repeated token
