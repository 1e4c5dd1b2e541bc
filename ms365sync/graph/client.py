"""GraphClient: the Graph operations a library sync needs, over one shared, throttled transport."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Final, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ValidationError

from ms365sync.errors import GraphError, TransportError
from ms365sync.graph.auth import TokenProvider
from ms365sync.graph.download import DEFAULT_CHUNK_SIZE, DownloadInfo, download
from ms365sync.graph.session import Timeout
from ms365sync.graph.throttle import ThrottleGate
from ms365sync.graph.transport import Params, Transport, parse_model, parse_object
from ms365sync.graph.types import (
    CollectionPage,
    DeltaPage,
    Drive,
    DriveItem,
    JsonObject,
    ListDeltaPage,
    Permission,
    PermissionPage,
    Site,
)
from ms365sync.target import DOWNLOAD_GIVE_UP_S

if TYPE_CHECKING:
    from ms365sync.graph.batch import BatchResult

__all__ = [
    "DELTA_SELECT",
    "LIST_ITEM_SELECT",
    "PREFER_SHARING",
    "RU_LIST",
    "RU_PERMISSIONS",
    "RU_READ",
    "GraphClient",
]

# Everything the sync reads from a delta item. `deleted` must be selected or the deleted facet
# is stripped from delta results (graph-facts §3.7); `path` is never returned by delta anyway.
# `content.downloadUrl` brings each file's pre-authenticated URL, under the response key
# `@microsoft.graph.downloadUrl` (graph-facts §3.7), saving the `/content` round trip per download.
DELTA_SELECT: Final = (
    "id",
    "name",
    "size",
    "eTag",
    "cTag",
    "createdDateTime",
    "lastModifiedDateTime",
    "lastModifiedBy",
    "parentReference",
    "file",
    "folder",
    "package",
    "malware",
    "root",
    "deleted",
    "shared",
    "webUrl",
    "content.downloadUrl",
)
# What the sync reads of a list item beside its `fields` (graph-facts §18.1): the id joins it to
# its file (the driveItem's sharepointIds.listItemId), the rest are the document's metadata.
LIST_ITEM_SELECT: Final = ("id", "eTag", "createdBy", "lastModifiedBy", "contentType", "deleted")
# One header, comma-separated; deltashowsharingchanges needs the middle two (graph-facts §5.7).
PREFER_SHARING: Final = (
    "hierarchicalsharing, deltashowremovedasdeleted, "
    "deltatraversepermissiongaps, deltashowsharingchanges"
)
ModelT = TypeVar("ModelT", bound=BaseModel)
PageT = TypeVar("PageT", DeltaPage, ListDeltaPage)
# Resource units per request (graph-facts §9.2): used to pace requests against the tenant budget.
RU_READ, RU_LIST, RU_PERMISSIONS = 1.0, 2.0, 5.0


def _id_segment(value: str) -> str:
    """A drive or item id as one path segment (ids are opaque: encode, never split)."""
    return quote(value, safe="!")


def _site_segment(site_id: str) -> str:
    """A composite site id as one path segment: its commas become %2C (graph-facts §2.2)."""
    return quote(site_id, safe="")


class GraphClient:
    """Microsoft Graph for SharePoint libraries; one instance is shared by all worker threads.

    `graph_url` is the service root ("https://graph.microsoft.com"; "/v1.0" is added unless a
    version is given). Pass the same `gate` to every client of one tenant so a 429 pauses all.
    """

    def __init__(
        self,
        graph_url: str,
        token_provider: TokenProvider,
        *,
        session: requests.Session | None = None,
        gate: ThrottleGate | None = None,
        max_attempts: int = 8,
        timeout: Timeout = (15.0, 120.0),
        user_agent: str | None = None,
        ca_bundle: Path | None = None,
        pool_size: int = 16,
    ) -> None:
        """Build the client; `pool_size` should be at least the number of worker threads."""
        self._transport = Transport(
            graph_url,
            token_provider,
            session=session,
            gate=gate,
            max_attempts=max_attempts,
            timeout=timeout,
            user_agent=user_agent,
            ca_bundle=ca_bundle,
            pool_size=pool_size,
        )

    @property
    def base_url(self) -> str:
        """The versioned root every relative path is joined to."""
        return self._transport.base_url

    def serves(self, url: str) -> bool:
        """Whether `url` (a stored delta link, say) is on this client's Graph endpoint: the
        only origin it sends its access token to."""
        return _origin(url) == _origin(self.base_url)

    @property
    def gate(self) -> ThrottleGate:
        """The throttle gate (shared with other clients when one was passed in)."""
        return self._transport.gate

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- generic reads ---------------------------------------------------------------------

    def get_json(self, url_or_path: str, params: Params | None = None) -> JsonObject:
        """GET a path (relative to the versioned root) or a Graph link; the JSON object.

        Raises:
            GraphError: (or a subclass) Graph answered with an error or a non-object body.
            TransportError: the network failed on every attempt.
            AuthError: no access token could be obtained.
        """
        return parse_object(self._transport.request("GET", url_or_path, params=params))

    def iter_collection(
        self, url_or_path: str, params: Params | None = None, *, cost: float = RU_LIST
    ) -> Iterator[JsonObject]:
        """Every item of a paged collection, following `@odata.nextLink` verbatim.

        Pages may be shorter than `$top`; only the first request carries `params`.

        Raises:
            GraphError, TransportError, AuthError: as for `get_json`, on any page.
        """
        url: str | None = url_or_path
        while url is not None:
            response = self._transport.request("GET", url, params=params, cost=cost)
            page = parse_model(CollectionPage, response)
            yield from page.value
            url, params = page.next_link, None

    def _iter_models(
        self, url_or_path: str, model: type[ModelT], params: Params | None = None
    ) -> Iterator[ModelT]:
        for item in self.iter_collection(url_or_path, params):
            yield _validate(model, item, self._transport.url(url_or_path))

    def _get_model(self, path: str, model: type[ModelT]) -> ModelT:
        return parse_model(model, self._transport.request("GET", path))

    # --- sites and libraries ---------------------------------------------------------------

    def get_site_by_path(self, host: str, path: str = "") -> Site:
        """The site at `host` + server-relative `path` ("/sites/marketing"); "" is the root site.

        Raises:
            NotFoundError: no site at that path.
            GraphError, TransportError, AuthError: as for `get_json`.
        """
        host_name = urlsplit(host).netloc if "://" in host else host.strip("/")
        relative = path.strip().strip("/")
        if not relative:
            # `/sites/{host}:/` fails since 2019 (graph-facts §2.1); `/sites/{host}` is the root.
            return self._get_model(f"sites/{quote(host_name, safe='')}", Site)
        return self._get_model(f"sites/{quote(host_name, safe='')}:/{quote(relative)}", Site)

    def get_site(self, site_id: str) -> Site:
        """The site with the composite `site_id` ("host,collection-guid,web-guid").

        Raises:
            NotFoundError: no such site.
            GraphError, TransportError, AuthError: as for `get_json`.
        """
        return self._get_model(f"sites/{_site_segment(site_id)}", Site)

    def search_sites(self, query: str) -> Iterator[Site]:
        """Sites matching a free-text `query`, all pages (not available with Sites.Selected).

        Raises:
            GraphError, TransportError, AuthError: as for `get_json`, on any page.
        """
        return self._iter_models("sites", Site, {"search": query})

    def list_sites(self) -> Iterator[Site]:
        """Every site collection the app can see (app-only permissions), all pages.

        Raises:
            GraphError, TransportError, AuthError: as for `get_json`, on any page.
        """
        return self._iter_models("sites", Site)

    def list_drives(self, site_id: str) -> Iterator[Drive]:
        """The document libraries of a site (system libraries are hidden by Graph), all pages.

        Raises:
            NotFoundError: no such site.
            GraphError, TransportError, AuthError: as for `get_json`, on any page.
        """
        return self._iter_models(f"sites/{_site_segment(site_id)}/drives", Drive)

    def get_drive(self, drive_id: str) -> Drive:
        """The library with `drive_id`.

        Raises:
            NotFoundError: no such library.
            GraphError, TransportError, AuthError: as for `get_json`.
        """
        return self._get_model(f"drives/{_id_segment(drive_id)}", Drive)

    def get_item(self, drive_id: str, item_id: str) -> DriveItem:
        """One drive item ("root" names the drive's root folder).

        Raises:
            NotFoundError: no such item.
            GraphError, TransportError, AuthError: as for `get_json`.
        """
        return self._get_model(
            f"drives/{_id_segment(drive_id)}/items/{_id_segment(item_id)}", DriveItem
        )

    # --- delta -----------------------------------------------------------------------------

    def delta(
        self,
        drive_id: str,
        link: str | None = None,
        *,
        prefer_sharing: bool = True,
        select: Sequence[str] = DELTA_SELECT,
        page_size: int = 500,
    ) -> Iterator[DeltaPage]:
        """The pages of one delta round, streamed; the last page carries the deltaLink.

        With `link=None` the round is a full enumeration of the drive root; otherwise the
        stored deltaLink is requested verbatim. Persist the deltaLink only after the caller
        has processed every page of the round.

        Raises:
            DeltaExpiredError: the link is no longer valid (410), on any page: start over
                with `link=None` and reconcile.
            GraphError, TransportError, AuthError: as for `get_json`, on any page.
        """
        headers = {"Prefer": PREFER_SHARING} if prefer_sharing else {}
        url: str = link or f"drives/{_id_segment(drive_id)}/root/delta"
        params: Params | None = None
        if link is None:
            params = {"$select": ",".join(select), "$top": page_size}
        return self._rounds(DeltaPage, url, params, headers)

    def list_id(self, drive_id: str) -> str:
        """The id of the list a document library is (`GET /drives/{id}/list`, graph-facts
        §18.1), which the list's delta takes.

        Raises:
            GraphError, TransportError, AuthError: as for `get_json`.
        """
        found = self.get_json(f"drives/{_id_segment(drive_id)}/list", {"$select": "id"})
        value = found.get("id")
        if not isinstance(value, str) or not value:
            raise GraphError("the library's list came without an id", code="invalidResponse")
        return value

    def list_columns(self, site_id: str, list_id: str) -> list[str]:
        """The internal names of a list's visible columns (`GET .../lists/{id}/columns`,
        hidden ones left out), in the service's order.

        Raises:
            GraphError, TransportError, AuthError: as for `get_json`.
        """
        path = f"sites/{_site_segment(site_id)}/lists/{_id_segment(list_id)}/columns"
        names: list[str] = []
        for column in self.iter_collection(path, {"$select": "name,hidden"}):
            name = column.get("name")
            if isinstance(name, str) and name and column.get("hidden") is not True:
                names.append(name)
        return names

    def list_delta(
        self,
        site_id: str,
        list_id: str,
        link: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        page_size: int = 200,
    ) -> Iterator[ListDeltaPage]:
        """The pages of one round of a list's delta (graph-facts §18.1), streamed; the last
        page carries the deltaLink. `columns`: the `fields` to expand (None: all of them).
        Otherwise as `delta`.

        Raises:
            DeltaExpiredError: the link is no longer valid (410), on any page.
            GraphError, TransportError, AuthError: as for `get_json`, on any page.
        """
        url = link or f"sites/{_site_segment(site_id)}/lists/{_id_segment(list_id)}/items/delta"
        params: Params | None = None
        if link is None:
            fields = "fields" if columns is None else f"fields($select={','.join(columns)})"
            params = {"$select": ",".join(LIST_ITEM_SELECT), "$expand": fields, "$top": page_size}
        return self._rounds(ListDeltaPage, url, params, {})

    def _rounds(
        self, model: type[PageT], url: str, params: Params | None, headers: dict[str, str]
    ) -> Iterator[PageT]:
        """The pages of one delta round from `url`, following nextLinks to the deltaLink
        (a request carrying a token costs a read, the enumeration a listing)."""
        while True:
            cost = RU_READ if "token" in url else RU_LIST
            response = self._transport.request(
                "GET", url, params=params, headers=headers, cost=cost
            )
            page = parse_model(model, response)
            yield page
            if page.delta_link is not None:
                return
            if page.next_link is None:
                raise GraphError(
                    "delta page has neither @odata.nextLink nor @odata.deltaLink",
                    code="invalidResponse",
                    url=response.url,
                )
            url, params = page.next_link, None

    # --- batching and permissions ----------------------------------------------------------

    def batch(self, urls: Mapping[str, str], *, cost: float = RU_READ) -> dict[str, BatchResult]:
        """GET many URLs through `$batch` (key -> URL, relative or absolute); key -> result.

        Failed entries are retried on their own (after the largest Retry-After among them);
        entries still failing carry their GraphError in `BatchResult.error`.

        Raises:
            AuthError: no access token could be obtained.
        """
        from ms365sync.graph.batch import run_batch  # noqa: PLC0415 -- loaded once a batch is sent

        return run_batch(self._transport, urls, cost_per_request=cost)

    def permissions_batch(
        self, drive_id: str, item_ids: Iterable[str]
    ) -> dict[str, list[Permission] | GraphError | TransportError]:
        """The permissions of many items of one drive, 20 per `$batch`; item id -> entries.

        A failed item maps to its error, never to an empty list.

        Raises:
            AuthError: no access token could be obtained.
        """
        drive = _id_segment(drive_id)
        urls = {item: f"/drives/{drive}/items/{_id_segment(item)}/permissions" for item in item_ids}
        from ms365sync.graph.batch import run_batch  # noqa: PLC0415 -- loaded once a batch is sent

        results = run_batch(self._transport, urls, cost_per_request=RU_PERMISSIONS)
        return {item: self._permissions_of(result, urls[item]) for item, result in results.items()}

    def _permissions_of(
        self, result: BatchResult, url: str
    ) -> list[Permission] | GraphError | TransportError:
        if result.error is not None:
            return result.error
        try:
            page = _validate(PermissionPage, result.body, self._transport.url(url))
            entries = list(page.value)
            if page.next_link:
                entries.extend(self._permission_pages(page.next_link))
        except (GraphError, TransportError) as exc:
            return exc
        return entries

    def _permission_pages(self, url: str) -> list[Permission]:
        entries: list[Permission] = []
        next_url: str | None = url
        while next_url is not None:
            response = self._transport.request("GET", next_url, cost=RU_PERMISSIONS)
            page = parse_model(PermissionPage, response)
            entries.extend(page.value)
            next_url = page.next_link
        return entries

    # --- content ---------------------------------------------------------------------------

    def download(
        self,
        drive_id: str,
        item_id: str,
        out: BinaryIO,
        *,
        expected_size: int | None = None,
        expected_hash: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Callable[[int], None] | None = None,
        url: str | None = None,
        give_up: float = DOWNLOAD_GIVE_UP_S,
        name: str | None = None,
        verify: bool = True,
    ) -> DownloadInfo:
        """Stream an item's content into `out` (from its current position) and verify it
        (unless `verify` is off: then the caller compares the returned size and hash).

        `progress` receives the bytes written so far after each chunk; on error `out` holds
        partial data for the caller to discard. `url` is a fresh pre-authenticated URL of
        the item (from delta's `@microsoft.graph.downloadUrl`): it is tried first, and when
        it is refused (expired, 403, 404, 410) `/content` is asked once instead. A download
        that keeps failing gives up after `give_up` seconds (or `max_attempts` attempts) in
        a row without getting further; `name` is what its log lines call the file.

        Raises:
            DownloadError: size or quickXorHash mismatch (`content_changed`: re-read the
                item, then retry), or the download gave up (reason "gave-up").
            NotFoundError: the item no longer exists.
            GraphError, TransportError, AuthError: as for `get_json`.
            LocalStorageError: writing to `out` failed.
        """
        path = f"drives/{_id_segment(drive_id)}/items/{_id_segment(item_id)}/content"
        return download(
            self._transport,
            drive_id,
            item_id,
            out,
            content_path=path,
            expected_size=expected_size,
            expected_hash=expected_hash,
            chunk_size=chunk_size,
            progress=progress,
            url=url,
            give_up=give_up,
            name=name,
            verify=verify,
        )


def _validate(model: type[ModelT], value: object, url: str) -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise GraphError(
            f"unexpected {model.__name__} ({exc.error_count()} validation errors)",
            code="invalidResponse",
            url=url,
        ) from None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
