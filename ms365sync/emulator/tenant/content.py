"""File contents: literal bytes, or bytes generated lazily and deterministically from a seed.

Generated content is produced in fixed-size blocks, each from its own seeded generator, so
any byte range can be served without producing what comes before it, and a 100,000-file
tenant costs no memory for its contents until a file is read. Hashes are computed on first
use and cached.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import mimetypes
import random
from collections.abc import Iterator

from ms365sync.emulator.tenant.qxh import QuickXor

_GEN_BLOCK = 64 * 1024
_CORPUS_SIZE = 1 << 20

_WORDS = (
    "account", "action", "agenda", "analysis", "approval", "archive", "budget", "campaign",
    "client", "contract", "customer", "deadline", "delivery", "design", "draft", "estimate",
    "forecast", "goal", "invoice", "launch", "market", "meeting", "milestone", "minutes",
    "partner", "plan", "policy", "priority", "product", "project", "proposal", "quarter",
    "report", "request", "review", "revenue", "risk", "roadmap", "sales", "schedule", "service",
    "strategy", "summary", "supplier", "target", "team", "timeline", "update", "vendor",
    "workshop",
)  # fmt: skip

_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


@functools.cache
def _text_corpus() -> bytes:
    """1 MiB of space-separated words, the same in every process (built once, on first use)."""
    words = random.Random(0x5EED).choices(_WORDS, k=_CORPUS_SIZE // 6)
    return " ".join(words).encode("ascii")[:_CORPUS_SIZE]


def mime_type_for(name: str) -> str:
    """The MIME type SharePoint would report for a file name."""
    lowered = name.lower()
    for suffix, mime in _EXTRA_TYPES.items():
        if lowered.endswith(suffix):
            return mime
    guessed, _ = mimetypes.guess_type(lowered, strict=False)
    return guessed or "application/octet-stream"


class Content(abc.ABC):
    """Immutable file content with lazily computed hashes."""

    __slots__ = ("_qxh", "_sha1", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._qxh: str | None = None
        self._sha1: str | None = None

    @abc.abstractmethod
    def iter_range(self, start: int, stop: int, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """Yield bytes [start, stop) in chunks of at most `chunk_size`."""

    def __deepcopy__(self, memo: dict[int, object]) -> Content:
        return self  # immutable: a copied tenant shares its contents

    def read_all(self) -> bytes:
        return b"".join(self.iter_range(0, self.size))

    def _compute_hashes(self) -> None:
        hasher, sha1 = QuickXor(), hashlib.sha1(usedforsecurity=False)
        for chunk in self.iter_range(0, self.size, 1 << 20):
            hasher.update(chunk)
            sha1.update(chunk)
        self._qxh, self._sha1 = hasher.b64(), sha1.hexdigest().upper()

    @property
    def quick_xor_hash(self) -> str:
        if self._qxh is None:
            self._compute_hashes()
        assert self._qxh is not None
        return self._qxh

    @property
    def sha1(self) -> str:
        if self._sha1 is None:
            self._compute_hashes()
        assert self._sha1 is not None
        return self._sha1


class BytesContent(Content):
    """Content held as literal bytes (demo files, scenario edits)."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        super().__init__(len(data))
        self._data = data

    def iter_range(self, start: int, stop: int, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        view = memoryview(self._data)
        for offset in range(start, min(stop, self.size), chunk_size):
            yield bytes(view[offset : min(offset + chunk_size, stop)])


class GeneratedContent(Content):
    """`size` bytes derived from `seed`: random bytes, or word-like text when `text` is set."""

    __slots__ = ("_seed", "_text")

    def __init__(self, seed: int, size: int, *, text: bool = False) -> None:
        super().__init__(size)
        self._seed = seed
        self._text = text

    def _block(self, index: int) -> bytes:
        rng = random.Random(self._seed * 1_000_003 + index)
        length = min(_GEN_BLOCK, self.size - index * _GEN_BLOCK)
        if not self._text:
            return rng.randbytes(length)
        # A seeded window into a fixed word corpus: word-like text at memcpy speed (drawing
        # word by word cost milliseconds per block, paid on every file's first hash).
        corpus = _text_corpus()
        start = rng.randrange(len(corpus) - _GEN_BLOCK)
        return corpus[start : start + length]

    def iter_range(self, start: int, stop: int, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        stop = min(stop, self.size)
        position = start
        while position < stop:
            index, offset = divmod(position, _GEN_BLOCK)
            block = self._block(index)
            piece = block[offset : offset + min(chunk_size, stop - position)]
            yield piece
            position += len(piece)


class SuffixedContent(Content):
    """`base` followed by `suffix`: the bytes a download serves for a file SharePoint rewrites
    (graph-facts §17.1), readable by range like any content."""

    __slots__ = ("_base", "_suffix")

    def __init__(self, base: Content, suffix: bytes) -> None:
        super().__init__(base.size + len(suffix))
        self._base = base
        self._suffix = suffix

    def iter_range(self, start: int, stop: int, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        stop = min(stop, self.size)
        base_size = self._base.size
        if start < base_size:
            yield from self._base.iter_range(start, min(stop, base_size), chunk_size)
        if stop > base_size:
            yield self._suffix[max(start, base_size) - base_size : stop - base_size]
