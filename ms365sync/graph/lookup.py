"""Finding a target's site and document library, and remembering their ids.

A site is found by hostname + server-relative path (`/sites/x`, `/teams/x`) or by display
name; a library by its title (drive `name`) or by the URL segment in its webUrl, which stays
when the library is renamed (graph-facts §2.4). Once found, the ids are kept in the state so a
renamed library keeps syncing into the same folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ms365sync.errors import MS365SyncError, NotFoundError, ResolutionError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.types import Drive, Site
from ms365sync.target import SiteRef


@dataclass(frozen=True)
class Resolved:
    site_id: str
    site_name: str
    drive_id: str
    library_title: str
    library_url: str


def url_segment(drive: Drive) -> str:
    """The library's URL name (last segment of its webUrl, decoded)."""
    if not drive.web_url:
        return ""
    return unquote(urlsplit(drive.web_url).path.rstrip("/").rsplit("/", 1)[-1])


def sites_and_libraries(client: GraphClient) -> Iterator[tuple[Site, list[str]]]:
    """Every site the app can list that has a webUrl, with its libraries' URL names (or titles).

    Raises:
        GraphError, TransportError, AuthError: listing failed.
    """
    for site in client.list_sites():
        if site.web_url:
            yield site, [url_segment(d) or d.name or d.id for d in client.list_drives(site.id)]


def find_site(client: GraphClient, ref: SiteRef) -> Site:
    """The site a reference names.

    Raises:
        ResolutionError: no such site (listing the sites the search found).
        GraphError, TransportError, AuthError: the lookup failed.
    """
    if ref.host and ref.path:
        try:
            return client.get_site_by_path(ref.host, ref.path)
        except NotFoundError:
            raise ResolutionError(
                kind="site", name=f"{ref.host}{ref.path}", available=_site_names(client, "")
            ) from None
    name = ref.display_name or ""
    candidates = list(client.search_sites(name))
    exact = [s for s in candidates if (s.display_name or "").lower() == name.lower()]
    if ref.host:
        exact = [s for s in exact if s.id.split(",")[0].lower() == ref.host.lower()]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        urls = sorted(s.web_url or s.id for s in exact)
        raise ResolutionError(kind="site", name=name, available=urls)
    # Partial matches are the likeliest typo; without any, list every site the app can see.
    available = sorted(_describe(s) for s in candidates) or _site_names(client, "")
    raise ResolutionError(kind="site", name=name, available=available)


def _describe(site: Site) -> str:
    return f"{site.display_name} ({site.web_url})"


def _site_names(client: GraphClient, query: str) -> list[str]:
    try:
        found = list(client.search_sites(query or "*"))
    except MS365SyncError:  # the listing only decorates the error message
        return []
    return sorted(_describe(s) for s in found)


def find_library(client: GraphClient, site: Site, name: str) -> Drive:
    """A document library of `site` by title or URL segment (case-insensitive).

    Raises:
        ResolutionError: no such library (listing the site's libraries).
    """
    drives = list(client.list_drives(site.id))
    lowered = name.lower()
    for matches in (
        [d for d in drives if (d.name or "").lower() == lowered],
        [d for d in drives if url_segment(d).lower() == lowered],
    ):
        if len(matches) == 1:
            return matches[0]
    available = sorted({d.name or url_segment(d) for d in drives})
    raise ResolutionError(
        kind="library", name=name, scope=site.web_url or site.id, available=available
    )


def resolve(client: GraphClient, ref: SiteRef, library: str) -> Resolved:
    """Look a target up by name.

    Raises:
        ResolutionError, GraphError, TransportError, AuthError: see find_site/find_library.
    """
    site = find_site(client, ref)
    drive = find_library(client, site, library)
    return Resolved(
        site_id=site.id,
        site_name=site.display_name or site.name or site.id,
        drive_id=drive.id,
        library_title=drive.name or url_segment(drive),
        library_url=url_segment(drive),
    )


def confirm(client: GraphClient, site_id: str, drive_id: str) -> Resolved:
    """Check remembered ids still answer (a renamed library keeps its id).

    Raises:
        NotFoundError, AccessDeniedError: the library is gone or access was revoked: the
            target must fail without touching the mirror.
    """
    drive = client.get_drive(drive_id)
    return Resolved(
        site_id=site_id,
        site_name=site_id,
        drive_id=drive.id,
        library_title=drive.name or url_segment(drive),
        library_url=url_segment(drive),
    )
