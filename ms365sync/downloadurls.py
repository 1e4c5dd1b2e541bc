"""The pre-authenticated download URLs a delta round listed, held in memory for one run.

Each URL is a signed credential valid about an hour (README §7): it lives only here, never
in the state store, a change log, a log line, an error message or a repr. Only files get
one; an item listed again replaces or forgets its URL, and a URL is handed out once, while
fresh, so a retry always asks `/content` for a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Final

__all__ = ["URL_FRESH_FOR_S", "DownloadUrls"]

# The service signs for an hour (exp - nbf = 3600 s in real tokens, README §7); ten minutes
# of margin cover clock skew and a slow body.
URL_FRESH_FOR_S: Final = 50 * 60.0


class DownloadUrls:
    """item id -> (URL, monotonic time received), for the files of the current round.

    Filled by the listing on one thread; `take` is then called from the download workers
    (`dict.pop` is atomic, so they need no lock).
    """

    __slots__ = ("_clock", "_urls")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._urls: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"DownloadUrls({len(self._urls)} held)"

    def __len__(self) -> int:
        return len(self._urls)

    def note(self, item_id: str, url: str | None) -> None:
        """Record the URL an item was listed with just now; None (a folder, a deleted item,
        a file listed without one) forgets any URL listed earlier for it."""
        if url:
            self._urls[item_id] = (url, self._clock())
        else:
            self._urls.pop(item_id, None)

    def take(self, item_id: str) -> str | None:
        """The item's URL when it is still fresh; it is forgotten either way (used once)."""
        entry = self._urls.pop(item_id, None)
        if entry is None:
            return None
        url, received = entry
        return url if self._clock() - received < URL_FRESH_FOR_S else None

    def retain(self, item_ids: Collection[str]) -> None:
        """Forget every URL but those of `item_ids` (the files the run will fetch)."""
        for item_id in [i for i in self._urls if i not in item_ids]:
            del self._urls[item_id]

    def clear(self) -> None:
        self._urls.clear()
