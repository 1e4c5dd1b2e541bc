"""Graph v1.0's routing table: method, path pattern, handler and resource-unit cost per route.

Paths are matched after the `/v1.0` prefix is stripped, so `$batch` sub-requests (relative
URLs) reach the same handlers; the first matching route wins, and named groups become the
handler's keyword arguments. Handlers are `GraphService` methods (responses.py,
directory.py). Site, drive and item routes cost what SharePoint's table says (graph-facts
§9.2): 1 for a single-item read, delta with a token and a download, 2 for multi-item reads
and delta without a token, 5 for permissions. Directory routes (users, groups) are charged to
the directory's own budget at Entra's costs (graph-facts §15.6), and match without regard to
case, as Graph does (`transitivemembers` works).

Real clients send more than one form of the same request, and Graph answers each as the
canonical one: empty path segments (`/v1.0//drives/...`, which kiota's URL templates produce
from a base URL ending in `/`) are collapsed before matching (`GraphRouter`), `delta()` is
`delta`, and every drive route is served again under `/sites/{site-id}/drives/{drive-id}` and
`/sites/{site-id}/drive` (`SITE_DRIVE_ROUTES`) at the same cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ms365sync.emulator.transport.http import Request, Route, Router

SITE_BY_PATH = r"/sites/(?P<host>[^/:,]+):(?P<path>/[^:]*)"
SITE = r"/sites/(?P<site_ref>[^/:]+)"
DRIVE = r"/drives/(?P<drive_id>[^/]+)"
ITEM = r"(?:root|items/(?P<item_id>[^/]+))"
ITEM_BY_PATH = r"root:/(?P<path>[^:]+)"
DELTA_FUNCTION = r"(?:\(\)|\(token='(?P<fn_token>[^']*)'\))?"
_TOKEN_CALL = re.compile(r"/delta\(token='[^']+'\)$")
_SLASHES = re.compile(r"/{2,}")


def collapse_slashes(path: str) -> str:
    """`path` with each run of `/` made one: Graph ignores empty segments."""
    return _SLASHES.sub("/", path)


class GraphRouter(Router):
    """The Graph routes, matched on the path with its empty segments collapsed.

    The collapsing lives here rather than in the transport so that only Graph's routing
    sees it: the download host and SharePoint REST keep the path as sent.
    """

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        return super().match(method, collapse_slashes(path))

    def allowed_methods(self, path: str) -> list[str]:
        return super().allowed_methods(collapse_slashes(path))


def delta_cost(request: Request) -> int:
    """1 RU for a delta page with a token (`?token=` or `delta(token='…')`), 2 for a new
    enumeration. The decoded path is read, as a client may percent-encode the call."""
    has_token = bool(request.query.get("token")) or _TOKEN_CALL.search(request.path)
    return 1 if has_token else 2


Cost = int | Callable[[Request], int]
RouteTable = tuple[tuple[str, str, str, Cost], ...]

SITE_ROUTES: RouteTable = (
    ("GET", r"/sites", "list_sites", 2),
    ("GET", r"/sites/root", "root_site", 1),
    ("GET", SITE_BY_PATH + r":?", "site_by_path", 1),
    ("GET", SITE_BY_PATH + r":/drives", "drives_by_path", 2),
    ("GET", SITE_BY_PATH + r":/drive", "default_drive_by_path", 1),
    ("GET", SITE_BY_PATH + r":/drives?/.+", "deep_path_rejected", 1),
    ("GET", SITE, "site_by_id", 1),
    ("GET", SITE + r"/drives", "drives_of_site", 2),
    ("GET", SITE + r"/lists/(?P<list_id>[^/]+)/items/delta", "list_delta", delta_cost),
    ("GET", SITE + r"/lists/(?P<list_id>[^/]+)/columns", "list_columns", 2),
    ("GET", SITE + r"/drive", "default_drive", 1),
)

DRIVE_ROUTES: RouteTable = (
    ("GET", DRIVE, "get_drive", 1),
    ("GET", DRIVE + r"/list", "get_list", 1),
    ("GET", DRIVE + r"/list/columns", "drive_list_columns", 2),
    ("GET", DRIVE + r"/items", "list_items_rejected", 1),
    ("GET", DRIVE + "/" + ITEM, "get_item", 1),
    ("GET", DRIVE + "/" + ITEM_BY_PATH + r":?", "get_item_by_path", 1),
    ("GET", DRIVE + "/" + ITEM + r"/children", "children", 2),
    ("GET", DRIVE + "/" + ITEM_BY_PATH + r":/children", "children", 2),
    ("GET", DRIVE + "/" + ITEM + r"/delta" + DELTA_FUNCTION, "delta", delta_cost),
    ("GET", DRIVE + "/" + ITEM + r"/listItem", "list_item", 1),
    ("GET", DRIVE + "/" + ITEM + r"/permissions", "permissions", 5),
    ("GET", DRIVE + "/" + ITEM + r"/permissions/(?P<perm_id>[^/]+)", "permission", 5),
    ("GET", DRIVE + "/" + ITEM + r"/content", "content", 1),
    ("GET", DRIVE + "/" + ITEM_BY_PATH + r":/content", "content", 1),
)

# `/me` needs a signed-in user; the handler answers app-only tokens as Graph does.
ME_ROUTES: RouteTable = (("GET", r"/me(?:/.*)?", "me", 1),)

ROUTES = SITE_ROUTES + DRIVE_ROUTES + ME_ROUTES


def _on_site(routes: RouteTable) -> RouteTable:
    """Each drive route again under `/sites/{site-id}/drives/{drive-id}` and, but for the
    drive itself (`default_drive` serves it), under the site's default `/sites/{site-id}/drive`.
    The handlers get `site_ref` too; `GraphService` resolves the drive within the site."""
    scoped = []
    for method, pattern, handler, cost in routes:
        rest = pattern.removeprefix(DRIVE)
        scoped.append((method, SITE + r"/drives/(?P<drive_id>[^/]+)" + rest, handler, cost))
        if rest:
            scoped.append((method, SITE + r"/drive" + rest, handler, cost))
    return tuple(scoped)


SITE_DRIVE_ROUTES = _on_site(DRIVE_ROUTES)


def directory_cost(base: int) -> Callable[[Request], int]:
    """Entra's cost of a read: the path's base cost, 1 less with `$select`, 1 less with a
    `$top` under 20, 1 more with `$expand`, never under 1 (graph-facts §15.6)."""

    def cost(request: Request) -> int:
        query = request.query
        total = base - ("$select" in query) + ("$expand" in query)
        top = query.get("$top", "")
        if top.isdigit() and int(top) < 20:
            total -= 1
        return max(1, total)

    cost.__name__ = f"directory_cost_{base}"
    return cost


GROUP = r"/groups/(?P<group_id>[^/]+)"
CAST = r"(?:/microsoft\.graph\.(?P<cast>user|group))?"
COUNT = r"(?P<count>/\$count)?"

DIRECTORY_ROUTES: RouteTable = (
    ("GET", GROUP, "get_group", directory_cost(1)),
    ("GET", GROUP + "/members" + CAST + COUNT, "group_members", directory_cost(3)),
    (
        "GET",
        GROUP + "/transitiveMembers" + CAST + COUNT,
        "group_transitive_members",
        directory_cost(5),
    ),
    ("GET", GROUP + "/owners" + CAST + COUNT, "group_owners", directory_cost(1)),
    ("GET", r"/users/(?P<user_ref>[^/]+)", "get_user", directory_cost(1)),
)
