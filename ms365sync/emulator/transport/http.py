"""Transport-neutral request and response types shared by the server, the in-process adapter
and the handlers, plus a small regex router.

The same `Request` reaches the handlers whether it came over HTTPS (cheroot WSGI) or through
the `requests` transport adapter, so both paths behave identically.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote


class Headers:
    """Case-insensitive, order-preserving header multimap (last value wins on get)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        lowered = name.lower()
        for key, value in reversed(self._items):
            if key.lower() == lowered:
                return value
        return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def set(self, name: str, value: str) -> None:
        """Replace every value of `name` with `value`."""
        lowered = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lowered]
        self._items.append((name, value))

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def as_dict(self) -> dict[str, str]:
        return dict(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)


@dataclass
class Request:
    """One HTTP request as the emulator sees it."""

    method: str
    host: str  # the Host header as sent, with the port if one was given
    raw_path: str  # the path as sent, still percent-encoded
    query_string: str  # the raw query string, without '?'
    headers: Headers
    body: bytes = b""
    scheme: str = "https"
    # Filled in by the pipeline:
    request_id: str = ""
    client_request_id: str = ""
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The percent-decoded path."""
        return unquote(self.raw_path)

    @property
    def query(self) -> dict[str, str]:
        """Query parameters, percent-decoded, the first value of each name."""
        result: dict[str, str] = {}
        for key, value in parse_qsl(self.query_string, keep_blank_values=True):
            result.setdefault(key, value)
        return result

    @property
    def base_url(self) -> str:
        """scheme://host of this request, the origin absolute URLs are built from."""
        return f"{self.scheme}://{self.host}"

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """A response, with optional fault directives for the transport.

    `body` is bytes or an iterable of byte chunks (large downloads stream). When `drop` is
    set the transport closes the connection without answering; when `truncate_at` is set
    it sends the headers (with the full Content-Length) and only that many body bytes, then
    closes the connection.
    """

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes | Iterable[bytes] = b""
    content_length: int | None = None
    drop: bool = False
    truncate_at: int | None = None

    def __post_init__(self) -> None:
        if self.content_length is None and isinstance(self.body, bytes):
            self.content_length = len(self.body)

    def body_bytes(self) -> bytes:
        """The whole body (consumes a streaming body)."""
        if isinstance(self.body, bytes):
            return self.body
        return b"".join(self.body)


JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


def json_response(
    status: int,
    payload: Any,
    *,
    content_type: str = JSON_CONTENT_TYPE,
    headers: Iterable[tuple[str, str]] = (),
) -> Response:
    """A JSON response with Graph's success Content-Type (errors pass application/json)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    result = Response(status, Headers([("Content-Type", content_type), *headers]), body)
    return result


Handler = Callable[..., Response]
CostFn = Callable[[Request], int]


SHAREPOINT_BUDGET = "sharepoint"
DIRECTORY_BUDGET = "directory"


@dataclass(frozen=True)
class Route:
    """A method + path pattern, its handler, its resource-unit cost and the budget it is
    charged to: SharePoint's (sites, drives, items) or the directory's (users, groups)."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    cost: int | CostFn
    name: str
    budget: str = SHAREPOINT_BUDGET

    def cost_for(self, request: Request) -> int:
        return self.cost(request) if callable(self.cost) else self.cost


class Router:
    """Ordered regex routes over the decoded path; named groups become handler kwargs."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        cost: int | CostFn = 1,
        name: str = "",
        budget: str = SHAREPOINT_BUDGET,
        flags: int = 0,
    ) -> None:
        self._routes.append(
            Route(
                method.upper(),
                re.compile(pattern, flags),
                handler,
                cost,
                name or handler.__name__,
                budget,
            )
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route whose pattern matches `path` with this method, and its groups.

        Returns None when nothing matches; a path that matches only with another method is
        reported by `allowed_methods`.
        """
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found and route.method == method.upper():
                return route, found.groupdict()
        return None

    def allowed_methods(self, path: str) -> list[str]:
        return [r.method for r in self._routes if r.pattern.fullmatch(path)]


def parse_query_pairs(query_string: str) -> list[tuple[str, str]]:
    """All query pairs, decoded, in order (repeated names kept)."""
    return parse_qsl(query_string, keep_blank_values=True)


def header_map(headers: Mapping[str, str]) -> Headers:
    return Headers(headers.items())
