"""The structure sweep's enumeration: the library's permission roots, as the service marks them.

A delta enumeration without a token, sent with `Prefer: hierarchicalsharing`, carries the
`shared` facet on exactly the roots of permission hierarchies (graph-facts §5.7, §5.10). It
costs 2 RU per page instead of 5 RU per file, and is a round of its own: the stored deltaLink
is neither used nor replaced, so the run's incremental listing goes on from where it was.
Only each entry's id and whether it is marked are kept (in a temporary table of the state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from ms365sync.errors import DeltaExpiredError
from ms365sync.graph.client import RU_LIST, RU_READ, GraphClient
from ms365sync.state.store import StateStore
from ms365sync.sync.stop import Stop, Stopped

# What the enumeration needs of each entry: its id, and whether it is the drive's root or a
# permission root. `deleted` is selected so that a tombstone is never taken for an item.
STRUCTURE_SELECT = ("id", "root", "shared", "deleted")
# A delta request without a token costs 2 RU (graph-facts §9.2); the pages after the first
# follow a nextLink that carries a token, charged as delta with a token (1 RU) by the
# transport's pacing and by the emulator alike.
RU_FIRST_PAGE, RU_NEXT_PAGE = RU_LIST, RU_READ


def enumeration_units(pages: int) -> float:
    """The resource units of an enumeration of `pages` pages."""
    return 0.0 if pages <= 0 else RU_FIRST_PAGE + (pages - 1) * RU_NEXT_PAGE


MAX_RESTARTS = 3


@dataclass(frozen=True)
class Enumeration:
    """A completed structure enumeration (staged in the state's `temp.structure`)."""

    pages: int
    items: int
    paced: float = 0.0  # seconds spent waiting for the sweeps' share of the minute budget
    # Whether the drive's root came marked: it always is when the service honours
    # hierarchical sharing (graph-facts §5.7); unmarked, no item's mark can be trusted.
    root_marked: bool = False

    @property
    def resource_units(self) -> float:
        return enumeration_units(self.pages)


def enumerate_roots(
    client: GraphClient,
    state: StateStore,
    drive_id: str,
    *,
    page_size: int,
    pace: Callable[[float], float] | None = None,
    stop: Stop | None = None,
) -> Enumeration:
    """List the whole drive afresh with the sharing hints; stage each entry's root mark.

    A 410 during the enumeration starts it again (at most `MAX_RESTARTS` times). `pace`, if
    given, is called with each page's units before the page is asked for, and may wait. A
    requested `stop` ends it between pages.

    Raises:
        Stopped: `stop` was requested; the stage holds a partial enumeration.
        DeltaExpiredError: the service kept answering 410.
        GraphError, TransportError, AuthError: the enumeration could not be completed; the
            sweep must not be applied.
    """
    pages_spent, paced = 0, 0.0
    for _ in range(MAX_RESTARTS + 1):
        state.clear_structure()
        items = pages = 0
        root_marked = False
        listing = client.delta(
            drive_id, None, prefer_sharing=True, select=STRUCTURE_SELECT, page_size=page_size
        )
        try:
            while True:
                if stop is not None and stop.requested:
                    raise Stopped("structure enumeration")
                if pace is not None:
                    paced += pace(RU_NEXT_PAGE if pages else RU_FIRST_PAGE)
                page = next(listing, None)
                if page is None:
                    break
                pages += 1
                root_marked |= any(e.is_root and e.shared is not None for e in page.value)
                items += state.stage_structure(
                    (entry.id, entry.shared is not None)
                    for entry in page.value
                    if not entry.is_deleted
                )
        except DeltaExpiredError:
            pages_spent += pages
            logger.info("the structure enumeration answered 410: enumerating again")
            continue
        logger.debug("structure enumeration: {} pages, {} items", pages, items)
        return Enumeration(pages_spent + pages, items, paced, root_marked)
    raise DeltaExpiredError(f"delta kept answering 410 after {MAX_RESTARTS} full restarts")
