"""Streaming quickXorHash, the content hash SharePoint and OneDrive for Business report for files.

The algorithm (OneDrive docs, code-snippets/quickxorhash.md): the byte at position i is
rotated left by (11 * i) mod 160 bits inside a 160-bit accumulator and XORed into it; the
accumulator is serialised little-endian and the 64-bit little-endian length is XORed into
its last 8 bytes. Because 11 * 160 is a multiple of 160, bytes 160 positions apart land on
the same bits, so the data can first be XOR-folded into one 160-byte block using CPython's
big-integer XOR (C speed, several hundred MB/s) and rotated once at the end.
"""

from __future__ import annotations

import base64
from typing import Final

__all__ = ["QuickXorHash", "quickxorhash"]

_WIDTH: Final = 160  # bits in the accumulator, and bytes in one fold block
_LEVELS: Final = 13  # fold chunks of 160 * 2**13 bytes (1.25 MiB) at a time
_CHUNK: Final = _WIDTH << _LEVELS
_MASKS: Final = [(1 << ((_WIDTH << level) * 8)) - 1 for level in range(_LEVELS)]
_FULL: Final = (1 << _WIDTH) - 1


def _fold(data: memoryview, levels: int) -> int:
    """XOR the 2**levels blocks of 160 bytes in `data` into one 160-byte integer."""
    x = int.from_bytes(data, "little")
    for level in range(levels - 1, -1, -1):
        x = (x >> ((_WIDTH << level) * 8)) ^ (x & _MASKS[level])
    return x


class QuickXorHash:
    """Incremental quickXorHash: feed bytes with update(), read the base64 digest."""

    __slots__ = ("_acc", "_length", "_pending")

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        self._acc = 0  # XOR of all complete 160-byte blocks, as a little-endian integer
        self._length = 0
        self._pending = bytearray()  # < 160 bytes not yet folded, aligned to a block start
        if data:
            self.update(data)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Add `data` to the hash."""
        view = memoryview(data).cast("B")
        self._length += len(view)
        if self._pending:
            need = _WIDTH - len(self._pending)
            self._pending += view[:need]
            view = view[need:]
            if len(self._pending) < _WIDTH:
                return
            self._acc ^= int.from_bytes(self._pending, "little")
            self._pending.clear()
        pos, end = 0, len(view)
        while end - pos >= _CHUNK:
            self._acc ^= _fold(view[pos : pos + _CHUNK], _LEVELS)
            pos += _CHUNK
        for level in range(_LEVELS - 1, -1, -1):
            size = _WIDTH << level
            if end - pos >= size:
                self._acc ^= _fold(view[pos : pos + size], level)
                pos += size
        self._pending += view[pos:]

    def digest(self) -> bytes:
        """The 20-byte hash of everything fed so far (the object stays usable)."""
        block = (self._acc ^ int.from_bytes(self._pending, "little")).to_bytes(_WIDTH, "little")
        result = 0
        for index, value in enumerate(block):
            if value:
                shift = (11 * index) % _WIDTH
                result ^= ((value << shift) | (value >> (_WIDTH - shift))) & _FULL
        out = bytearray(result.to_bytes(20, "little"))
        for index, value in enumerate(self._length.to_bytes(8, "little")):
            out[12 + index] ^= value
        return bytes(out)

    def hexdigest(self) -> str:
        """The digest as lower-case hex."""
        return self.digest().hex()

    def b64digest(self) -> str:
        """The digest in base64, as Graph reports it in file.hashes.quickXorHash."""
        return base64.b64encode(self.digest()).decode("ascii")


def quickxorhash(data: bytes | bytearray | memoryview) -> str:
    """The base64 quickXorHash of `data`."""
    return QuickXorHash(data).b64digest()
