"""The emulator's own quickXorHash (it shares no code with the client, on purpose).

Bytes 160 positions apart land on the same accumulator bits, so aligned 160*K-byte blocks
are XORed together as wide integers and folded to 160 bytes only when the digest is taken.
"""

from __future__ import annotations

import base64

_BLOCK = 160
_WIDE = _BLOCK * 4096  # 640 KiB of data per wide XOR


class QuickXor:
    """Incremental quickXorHash over a byte stream."""

    def __init__(self) -> None:
        self._wide = 0
        self._length = 0
        self._carry = b""

    def update(self, data: bytes) -> None:
        if self._carry:
            data = self._carry + data
        self._length += len(data) - len(self._carry)
        usable = len(data) - len(data) % _BLOCK
        view = memoryview(data)
        for start in range(0, usable, _WIDE):
            self._wide ^= int.from_bytes(view[start : min(start + _WIDE, usable)], "little")
        self._carry = bytes(view[usable:])

    def b64(self) -> str:
        block = _fold(self._wide ^ int.from_bytes(self._carry, "little"))
        accumulator = 0
        for position, value in enumerate(block.to_bytes(_BLOCK, "little")):
            shift = 11 * position % _BLOCK
            spread = value << shift
            accumulator ^= (spread | (spread >> _BLOCK)) & ((1 << _BLOCK) - 1)
        digest = bytearray(accumulator.to_bytes(20, "little"))
        for offset, value in enumerate(self._length.to_bytes(8, "little")):
            digest[12 + offset] ^= value
        return base64.b64encode(bytes(digest)).decode("ascii")


def _fold(wide: int) -> int:
    """XOR the 160-byte blocks of `wide` into one, halving the number of blocks each step
    (linear time; peeling one block at a time would copy the whole integer per block)."""
    bits = _BLOCK * 8
    blocks = -(-wide.bit_length() // bits)
    while blocks > 1:
        half = (blocks + 1) // 2 * bits
        wide = (wide & ((1 << half) - 1)) ^ (wide >> half)
        blocks = -(-wide.bit_length() // bits)
    return wide


def quick_xor_b64(data: bytes) -> str:
    hasher = QuickXor()
    hasher.update(data)
    return hasher.b64()
