"""One library, one target: the targets of one run claim their libraries by drive id.

The configuration check refuses a library listed twice by the same name, but one library
has two names (its title, "Documents", and its URL segment, "Shared Documents"), and a site
can be named by path or by title: only the ids the service returns show that two targets
are one library. Mirroring it twice would place, report and index every file twice.

Claims are settled in the configuration's order: a target waits, before claiming, until
each earlier target that could name the same library (same site, or a site named by
title) has claimed its own or finished without one, so the target listed first keeps the
library and the later one fails, whatever the timing of the threads. The coordinator
starts targets in that order, so an earlier target is always running or done: nothing
waits for a target that has not started.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence

from ms365sync.errors import ConfigError
from ms365sync.target import SiteRef, TargetSpec

__all__ = ["LibraryClaims", "same_library"]


class LibraryClaims:
    """The libraries the targets of one run hold (see the module). Thread-safe."""

    def __init__(self, targets: Sequence[TargetSpec]) -> None:
        self._settled = {spec.name: threading.Event() for spec in targets}
        self._rivals: dict[str, list[str]] = {}
        for index, spec in enumerate(targets):
            self._rivals[spec.name] = [
                earlier.name
                for earlier in targets[:index]
                if _could_be_one_site(earlier.site, spec.site)
            ]
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()

    def waits_for(self, name: str) -> tuple[str, ...]:
        """The earlier targets the target `name` waits for before it claims."""
        return tuple(self._rivals.get(name, ()))

    def claim(self, name: str, drive_id: str) -> None:
        """Claim the library `drive_id` for the target `name`, once the earlier targets
        that could hold it have settled. Claiming it again is fine.

        Raises:
            ConfigError: an earlier target holds it.
        """
        for rival in self.waits_for(name):
            self._settled[rival].wait()
        with self._lock:
            owner = self._owners.setdefault(drive_id, name)
        self.settle(name)
        if owner != name:
            raise same_library(name, owner, drive_id)

    def settle(self, name: str) -> None:
        """The target `name` claims nothing more (it claimed, or stopped before it could)."""
        event = self._settled.get(name)
        if event is not None:
            event.set()


def same_library(name: str, owner: str, drive_id: str) -> ConfigError:
    """The error of the target `name`, whose library `owner` (listed earlier) holds."""
    return ConfigError(
        f"target {name!r} is the same library as target {owner!r} (drive {drive_id}): "
        "a library's title and its URL name, or a site's path and its title, name one thing",
        expected="each library in one target only; remove one of them",
    )


def _could_be_one_site(a: SiteRef, b: SiteRef) -> bool:
    """Whether two site references may name one site: the same host and path, or either
    one named by title (which only the service resolves)."""
    if not (a.path or a.host) or not (b.path or b.host) or a.display_name or b.display_name:
        return True
    return _site_key(a) == _site_key(b)


def _site_key(site: SiteRef) -> tuple[str, str]:
    path = unicodedata.normalize("NFC", (site.path or "/").rstrip("/") or "/").casefold()
    return ((site.host or "").lower(), path)
