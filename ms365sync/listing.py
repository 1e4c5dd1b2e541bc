"""Listing a library through delta: one complete round streamed into the state store's stage.

The stored deltaLink is used when there is one; a 410 on any page discards what was staged
and starts a full enumeration, which the syncer then reconciles with the state. The round
is complete only when a page carries a deltaLink; anything less raises and nothing of the
round is applied (the completeness gate).
"""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from ms365sync.errors import DeltaExpiredError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.convert import remote_item
from ms365sync.state import StateStore

MAX_RESTARTS = 3


@dataclass(frozen=True)
class Round:
    """A completed listing round."""

    delta_link: str
    full: bool  # a full enumeration (first run, or after a 410)
    pages: int
    items: int
    expired: bool  # the stored link answered 410


def list_changes(
    client: GraphClient,
    state: StateStore,
    drive_id: str,
    delta_link: str | None,
    *,
    prefer_sharing: bool = True,
    page_size: int = 500,
) -> Round:
    """Stream one delta round into `state`'s stage and return how it went.

    A 410 (on any page, also during a full enumeration) restarts the listing from scratch,
    at most `MAX_RESTARTS` times.

    Raises:
        DeltaExpiredError: the service kept answering 410.
        GraphError, TransportError, AuthError: the round could not be completed; the stage
            holds a partial round that must not be applied.
    """
    link, expired = delta_link, False
    for _ in range(MAX_RESTARTS + 1):
        try:
            return _round(
                client,
                state,
                drive_id,
                link=link,
                prefer_sharing=prefer_sharing,
                page_size=page_size,
                expired=expired,
            )
        except DeltaExpiredError:
            logger.info("delta answered 410 resyncRequired: listing the whole library again")
            link, expired = None, True
    raise DeltaExpiredError(f"delta kept answering 410 after {MAX_RESTARTS} full restarts")


def _round(
    client: GraphClient,
    state: StateStore,
    drive_id: str,
    *,
    link: str | None,
    prefer_sharing: bool,
    page_size: int,
    expired: bool,
) -> Round:
    state.clear_stage()
    items = 0
    pages = client.delta(drive_id, link, prefer_sharing=prefer_sharing, page_size=page_size)
    for number, page in enumerate(pages, 1):
        items += state.stage_page(remote_item(entry) for entry in page.value)
        logger.debug("delta page {} staged ({} entries so far)", number, items)
        if page.delta_link is not None:
            logger.debug("delta round complete: {} pages, {} entries", number, items)
            return Round(page.delta_link, link is None, number, items, expired)
    raise AssertionError("GraphClient.delta ends with a deltaLink page or raises")
