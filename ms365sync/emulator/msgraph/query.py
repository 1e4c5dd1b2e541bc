"""Graph's query options and paging as the emulator reads and writes them: `$top`,
`$skiptoken` (in SharePoint's `Paged=TRUE&p_...` form), absolute nextLinks that keep the
request's own query (graph-facts §4.2), the `Prefer` tokens, `$expand=permissions` (refused) and
`If-None-Match`.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qs, quote, quote_plus, urlencode

from ms365sync.emulator.msgraph import render
from ms365sync.emulator.msgraph.exceptions import BadArgument, InvalidRequest, NotSupported
from ms365sync.emulator.msgraph.urls import collapse_slashes
from ms365sync.emulator.tenant.model import Item
from ms365sync.emulator.transport.http import Request, parse_query_pairs

DEFAULT_PAGE = 200  # list-children's documented default
MAX_PAGE = 999  # the largest $top clients use (Corso); the real maximum is undocumented


def top(request: Request) -> int:
    """The page size: `$top` (capped at MAX_PAGE) or 200; raises GraphError 400 if invalid."""
    raw = request.query.get("$top")
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidRequest(f"Invalid value '{raw}' for $top.")
    return min(int(raw), MAX_PAGE)


def kept_query(request: Request) -> list[tuple[str, str]]:
    """The request's query pairs a next page must carry again (all but a delta `token`)."""
    return [(k, v) for k, v in parse_query_pairs(request.query_string) if k != "token"]


_DELTA_CALL = re.compile(r"/delta(?:\(.*\)|%28.*)$", re.IGNORECASE)


def link(request: Request, raw_path: str, pairs: list[tuple[str, str]]) -> str:
    """An absolute URL on the request's own origin (so links work over HTTPS and in-process),
    its empty path segments collapsed as routing collapses them."""
    query = urlencode(pairs, quote_via=quote, safe="$")
    return f"{request.base_url}{collapse_slashes(raw_path)}" + (f"?{query}" if query else "")


def delta_path(request: Request) -> str:
    """The path delta links carry: the request's own (`/sites/{id}/drive/root/delta` stays so,
    as `/me/drive/root/delta` does in Graph's samples), the function call written as `delta`
    since the token travels as `?token=`."""
    return _DELTA_CALL.sub("/delta", request.raw_path)


def encode_skip(index: int, name: str) -> str:
    """A `$skiptoken` naming the position after `index` / the item called `name`."""
    # Form-encoded like the real token (`p_FileLeafRef=Microsoft+Teams+Chat+Files`,
    # samples/03-children-nextlink-skiptoken).
    raw = f"Paged=TRUE&p_SortBehavior=1&p_FileLeafRef={quote_plus(name)}&p_ID={index}"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _skip_fields(token: str | None) -> dict[str, str] | None:
    if token is None:
        return None
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("Invalid $skiptoken.") from exc
    return {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def decode_skip(token: str | None) -> int:
    """The index a `$skiptoken` resumes at (0 without one); raises GraphError 400."""
    fields = _skip_fields(token)
    if fields is None:
        return 0
    value = fields.get("p_ID", "")
    if not value.isdigit():
        raise InvalidRequest("Invalid $skiptoken.")
    return int(value)


def decode_skip_name(token: str | None) -> str | None:
    """The name a `$skiptoken` resumes after (None without one); raises GraphError 400."""
    fields = _skip_fields(token)
    return None if fields is None else fields.get("p_FileLeafRef", "")


def name_key(name: str) -> tuple[str, str]:
    """SharePoint's default order: by name, case-insensitively (then exactly, for ties)."""
    return (name.lower(), name)


def sorted_children(folder: Item) -> list[Item]:
    """A folder's children in the order children listings page through them."""
    return sorted(folder.children.values(), key=lambda child: name_key(child.name))


def prefer_tokens(request: Request) -> set[str]:
    """Every token of every `Prefer` header, lower-cased (graph-facts §5.7: one comma list)."""
    tokens: set[str] = set()
    for name, value in request.headers.items():
        if name.lower() == "prefer":
            tokens.update(part.strip().lower() for part in value.split(",") if part.strip())
    return tokens


def reject_permission_expand(request: Request) -> None:
    """Raise 400 notSupported for `$expand=permissions` (samples/04-delta-expand-...)."""
    if "permissions" in request.query.get("$expand", ""):
        raise NotSupported("Permission is not supported in this item.")


def reject_list_item_on_delta(request: Request) -> None:
    """Raise 400 badArgument when a drive's delta is asked to expand or select `listItem`:
    the service refuses it, though `/children` takes it (graph-facts §18.1)."""
    for option in ("$expand", "$select"):
        names = re.split(r"[,()]", request.query.get(option, ""))
        if any(name.strip().casefold() == "listitem" for name in names):
            raise BadArgument()


def not_modified(request: Request, item: Item) -> bool:
    """Whether `If-None-Match` names the item's eTag (or a file's cTag): answer 304."""
    tag = request.headers.get("If-None-Match")
    if tag is None or item.is_root:
        return False
    return tag in (render.etag(item), *([] if item.is_folder else [render.ctag(item)]))
