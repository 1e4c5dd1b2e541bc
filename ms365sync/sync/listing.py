"""Listing a library through delta: one complete round streamed into the state store's stage.

The stored deltaLink is used when there is one; a 410 on any page discards what was staged
and starts a full enumeration, which the syncer then reconciles with the state. The round
is complete only when a page carries a deltaLink; anything less raises and nothing of the
round is applied (the completeness gate). The files' pre-authenticated download URLs
are collected on the side, in memory only (`DownloadUrls`), never staged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loguru import logger

from ms365sync.errors import DeltaExpiredError
from ms365sync.graph.client import DELTA_SELECT, GraphClient
from ms365sync.graph.convert import remote_item
from ms365sync.graph.types import DriveItem
from ms365sync.state.store import StateStore
from ms365sync.sync.downloadurls import DownloadUrls
from ms365sync.sync.stop import Stop, Stopped

MAX_RESTARTS = 3


@dataclass(frozen=True)
class Round:
    """A completed listing round."""

    delta_link: str
    full: bool  # a full enumeration (first run, or after a 410)
    pages: int
    items: int
    expired: bool  # the stored link answered 410
    # The files' download URLs as listed (empty unless asked for); secrets: not in the repr.
    urls: DownloadUrls = field(default_factory=DownloadUrls, repr=False, compare=False)


def list_changes(
    client: GraphClient,
    state: StateStore,
    drive_id: str,
    delta_link: str | None,
    *,
    prefer_sharing: bool = True,
    page_size: int = 500,
    keep_urls: bool = True,
    stop: Stop | None = None,
    list_ids: bool = False,
) -> Round:
    """Stream one delta round into `state`'s stage and return how it went; a requested
    `stop` ends it between pages (raising Stopped).

    A 410 (on any page, also during a full enumeration) restarts the listing from scratch,
    at most `MAX_RESTARTS` times. With `keep_urls` the round's `urls` hold the files'
    download URLs (a run that downloads nothing need not hold them). With `list_ids` a new
    round selects the items' sharepointIds too (their list item ids, `sync.metadata`).

    Raises:
        Stopped: `stop` was requested; the stage holds a partial round.
        DeltaExpiredError: the service kept answering 410.
        GraphError, TransportError, AuthError: the round could not be completed; the stage
            holds a partial round that must not be applied.
    """
    link, expired = delta_link, False
    urls = DownloadUrls() if keep_urls else None
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
                urls=urls,
                stop=stop,
                select=(*DELTA_SELECT, "sharepointIds") if list_ids else DELTA_SELECT,
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
    urls: DownloadUrls | None,
    stop: Stop | None,
    select: tuple[str, ...],
) -> Round:
    state.clear_stage()
    if urls is not None:
        urls.clear()
    items = 0
    pages = client.delta(
        drive_id, link, prefer_sharing=prefer_sharing, select=select, page_size=page_size
    )
    for number, page in enumerate(pages, 1):
        items += state.stage_page(remote_item(entry) for entry in page.value)
        if urls is not None:
            for entry in page.value:  # in order: an item listed again replaces its URL
                urls.note(entry.id, _file_url(entry))
        logger.debug("delta page {} staged ({} entries so far)", number, items)
        if page.delta_link is not None:
            logger.debug("delta round complete: {} pages, {} entries", number, items)
            kept = urls if urls is not None else DownloadUrls()
            return Round(page.delta_link, link is None, number, items, expired, kept)
        if stop is not None and stop.requested:
            raise Stopped("listing")
    raise AssertionError("GraphClient.delta ends with a deltaLink page or raises")


def _file_url(entry: DriveItem) -> str | None:
    """A live file's download URL (deleted items never carry one; folders neither)."""
    if entry.file is None or entry.is_deleted or entry.folder is not None:
        return None
    return entry.download_url
