"""quickXorHash against rclone's 70 vectors, fed whole and in odd-sized pieces."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ms365sync.quickxorhash import QuickXorHash, quickxorhash

SAMPLES = Path(__file__).resolve().parent / "data" / "graph-samples"
VECTORS = SAMPLES / "09-quickxorhash-test-vectors.rclone.json"
CASES = json.loads(VECTORS.read_text())["vectors"]


def _reference(data: bytes) -> str:
    """The algorithm exactly as the OneDrive docs describe it, one bit offset per byte."""
    acc = 0
    for index, value in enumerate(data):
        shift = (11 * index) % 160
        acc ^= ((value << shift) | (value >> (160 - shift))) & ((1 << 160) - 1)
    out = bytearray(acc.to_bytes(20, "little"))
    for index, value in enumerate(len(data).to_bytes(8, "little")):
        out[12 + index] ^= value
    return base64.b64encode(bytes(out)).decode()


def test_there_are_seventy_vectors() -> None:
    assert len(CASES) == 70


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"size{c['size']}")
def test_vector_whole(case: dict[str, object]) -> None:
    data = base64.b64decode(str(case["input_b64"]))
    assert quickxorhash(data) == case["quickXorHash"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"size{c['size']}")
def test_vector_in_small_pieces(case: dict[str, object]) -> None:
    data = base64.b64decode(str(case["input_b64"]))
    rng = random.Random(len(data))
    hasher = QuickXorHash()
    pos = 0
    while pos < len(data):
        step = rng.randint(1, 7)
        hasher.update(data[pos : pos + step])
        pos += step
    assert hasher.b64digest() == case["quickXorHash"]


def test_known_values() -> None:
    assert quickxorhash(b"") == "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    assert quickxorhash(b"hello") == "aCgDG9jwBgAAAAAABQAAAAAAAAA="


@given(st.binary(max_size=5000), st.lists(st.integers(1, 700), max_size=30))
def test_matches_reference_for_any_split(data: bytes, cuts: list[int]) -> None:
    hasher = QuickXorHash()
    pos = 0
    for cut in cuts:
        hasher.update(data[pos : pos + cut])
        pos += cut
    hasher.update(data[pos:])
    assert hasher.b64digest() == _reference(data)


def test_large_input_crosses_the_fold_chunk() -> None:
    rng = random.Random(7)
    data = rng.randbytes((160 << 13) * 2 + 12345)
    whole = quickxorhash(data)
    hasher = QuickXorHash()
    for start in range(0, len(data), 99_991):
        hasher.update(memoryview(data)[start : start + 99_991])
    assert hasher.b64digest() == whole
    assert hasher.hexdigest() == base64.b64decode(whole).hex()
