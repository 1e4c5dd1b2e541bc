"""The pre-authenticated download URLs a delta round listed, held in memory for one run.

Each URL is a signed credential valid about an hour (graph-facts §8.3): it lives only here, never
in the state store, a change log, a log line, an error message or a repr. Only files get
one; an item listed again replaces or forgets its URL, and a URL is handed out once, while
fresh, so a retry always asks `/content` for a new one.

The URLs of one library share most of their text (host, site path, query, the token's
claims): each is kept deflated against the first one as a preset dictionary, about a
third of its size (100,000 URLs of 500 characters: 15 MB instead of 60 MB).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Collection
from typing import Final

__all__ = ["URL_FRESH_FOR_S", "DownloadUrls"]

# The service signs for an hour (exp - nbf = 3600 s in real tokens, graph-facts §8.3); ten minutes
# of margin cover clock skew and a slow body.
URL_FRESH_FOR_S: Final = 50 * 60.0


class DownloadUrls:
    """item id -> (deflated URL, monotonic time received), for the files of the current
    round.

    Filled by the listing on one thread; `take` is then called from the download workers
    (`dict.pop` is atomic, and the preset dictionary is set before the first `take`).
    """

    __slots__ = ("_clock", "_preset", "_urls")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._urls: dict[str, tuple[bytes, float]] = {}
        self._preset = b""

    def __repr__(self) -> str:
        return f"DownloadUrls({len(self._urls)} held)"

    def __len__(self) -> int:
        return len(self._urls)

    def note(self, item_id: str, url: str | None) -> None:
        """Record the URL an item was listed with just now; None (a folder, a deleted item,
        a file listed without one) forgets any URL listed earlier for it."""
        if url:
            raw = url.encode()
            if not self._preset:
                self._preset = raw
            packer = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=self._preset)
            self._urls[item_id] = (packer.compress(raw) + packer.flush(), self._clock())
        else:
            self._urls.pop(item_id, None)

    def take(self, item_id: str) -> str | None:
        """The item's URL when it is still fresh; it is forgotten either way (used once)."""
        entry = self._urls.pop(item_id, None)
        if entry is None:
            return None
        packed, received = entry
        if self._clock() - received >= URL_FRESH_FOR_S:
            return None
        unpacker = zlib.decompressobj(-15, zdict=self._preset)
        return (unpacker.decompress(packed) + unpacker.flush()).decode()

    def retain(self, item_ids: Collection[str]) -> None:
        """Forget every URL but those of `item_ids` (the files the run will fetch)."""
        for item_id in [i for i in self._urls if i not in item_ids]:
            del self._urls[item_id]

    def clear(self) -> None:
        self._urls.clear()
        self._preset = b""
