"""Pre-authenticated SharePoint download URLs (graph-facts §8): signing them and serving them."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from ms365sync.emulator.login.tokens import b64url, b64url_decode
from ms365sync.emulator.msgraph.envelope import throttled
from ms365sync.emulator.msgraph.exceptions import (
    GraphError,
    ItemNotFound,
    NotSupported,
    Unauthenticated,
)
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.http import Headers, Request, Response

DOWNLOAD_PATH = "/_layouts/15/download.aspx"
CHUNK_SIZE = 64 * 1024


class ContentSource(Protocol):
    """The bytes of one file version, readable by range without loading the file."""

    @property
    def size(self) -> int: ...

    @property
    def mime_type(self) -> str: ...

    def iter_range(self, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        """Bytes [start, stop) in chunks of at most chunk_size."""
        ...


class RangedBytes(Protocol):
    """Content that knows its size and reads by range but not its MIME type."""

    @property
    def size(self) -> int: ...

    def iter_range(self, start: int, stop: int, chunk_size: int) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class TypedContent:
    """A ContentSource made of typeless content plus the MIME type of the item it belongs to."""

    content: RangedBytes
    mime_type: str

    @property
    def size(self) -> int:
        return self.content.size

    def iter_range(self, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        return self.content.iter_range(start, stop, chunk_size)


@runtime_checkable
class Restartable(Protocol):
    """A ContentSource whose bytes may differ per download (graph-facts §17.1, an unstable
    file): `restart()` is asked for the bytes of each GET that starts at offset 0."""

    def restart(self) -> ContentSource: ...


ContentFor = Callable[[str, str], "ContentSource | None"]
"""content_for(drive_id, item_id): the item's current content, or None when it is gone; it
may raise a GraphError (a file flagged as malware, locked, vanished), which is the answer."""


@dataclass(frozen=True)
class DownloadGrant:
    """What a verified tempauth allows: one item of one drive, issued to `app` ("tenant/app
    id", the throttle's bucket key; None for a URL issued without one)."""

    drive_id: str
    item_id: str
    app: str | None = None


Admit = Callable[[Request, DownloadGrant], "Response | None"]
"""admit(request, grant), asked just before a GET answers 200/206: None to serve the bytes, or
the response that refuses them (a throttled app)."""


class DownloadDeniedError(Exception):
    """A download URL that does not verify; `expired` tells a stale URL from a forged one."""

    def __init__(self, expired: bool, valid_from: float = 0.0, valid_to: float = 0.0) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired
        self.valid_from = valid_from
        self.valid_to = valid_to


def _split_tempauth(query_string: str) -> tuple[str, str]:
    """(tempauth value, query without the tempauth pair); raises DownloadDeniedError when absent."""
    pairs = query_string.split("&")
    tokens = [p[len("tempauth=") :] for p in pairs if p.startswith("tempauth=")]
    if len(tokens) != 1:
        raise DownloadDeniedError(expired=False)
    return tokens[0], "&".join(p for p in pairs if not p.startswith("tempauth="))


class DownloadSigner:
    """Makes and verifies download URLs whose `tempauth` signs the exact path and query.

    tempauth = "v1." + base64url(claims JSON) + "." + base64url(HMAC-SHA256) where the HMAC
    covers the claims and the URL's path + query with the tempauth pair removed, byte for byte:
    reordering or re-encoding the query breaks the signature, as on SharePoint (graph-facts §8.4).
    """

    def __init__(
        self, key: bytes | None = None, lifetime_s: int = 3600, clock: Clock | None = None
    ) -> None:
        self._key = key or secrets.token_bytes(32)  # random per emulator when not given
        self.lifetime_s = lifetime_s
        self._clock = clock or Clock()

    def url(
        self,
        origin: str,
        site_path: str,
        *,
        drive_id: str,
        item_id: str,
        unique_id: str,
        app: str | None = None,
    ) -> str:
        """A download URL on `origin` for the site at server-relative `site_path` (unencoded,
        "" for the root site); `unique_id` is the item's GUID as in its eTag; `app` (signed
        with the rest) is who the download is charged to."""
        path = quote(site_path.rstrip("/"), safe="/") + DOWNLOAD_PATH
        before, after = f"UniqueId={unique_id.lower()}&Translate=false", "ApiVersion=2.0"
        now = int(self._clock.now())
        claims = {
            "aud": "emulator/download",
            "driveId": drive_id,
            "itemId": item_id,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "jti": b64url(secrets.token_bytes(9)),
        }
        if app is not None:
            claims["app"] = app
        encoded = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signed = f"{path}?{before}&{after}"
        token = f"v1.{encoded}.{self._mac(encoded, signed)}"
        return f"{origin}{path}?{before}&tempauth={token}&{after}"

    def _mac(self, encoded_claims: str, signed: str) -> str:
        message = f"v1.{encoded_claims}\n{signed}".encode()
        return b64url(hmac.new(self._key, message, hashlib.sha256).digest())

    def verify(self, raw_path: str, query_string: str) -> DownloadGrant:
        """The grant of a download URL; raises DownloadDeniedError (expired or invalid)."""
        claims = self.claims(raw_path, query_string)
        now = self._clock.now()
        if not claims["nbf"] <= now < claims["exp"]:
            raise DownloadDeniedError(True, claims["nbf"], claims["exp"])
        app = claims.get("app")
        return DownloadGrant(
            str(claims["driveId"]), str(claims["itemId"]), None if app is None else str(app)
        )

    def claims(self, raw_path: str, query_string: str) -> dict[str, Any]:
        """The claims of a correctly signed URL, expired or not; raises DownloadDeniedError."""
        token, rest = _split_tempauth(query_string)
        version, _, remainder = token.partition(".")
        encoded, _, mac = remainder.partition(".")
        expected = self._mac(encoded, f"{raw_path}?{rest}")
        if version != "v1" or not hmac.compare_digest(expected, mac):
            raise DownloadDeniedError(expired=False)
        claims: dict[str, Any] = json.loads(b64url_decode(encoded))
        return claims


def _sharepoint_time(stamp: float) -> str:
    """SharePoint's US-style time, e.g. 5/31/2019 7:33:29 AM (samples/09-upload-session-expired)."""
    moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {suffix}"


def _error(error: GraphError) -> Response:
    """SharePoint's error body: codes only, inner codes nested outermost first, no date or ids
    (samples/09-upload-session-expired-401); the error's headers follow the Content-Type."""
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    nested = body
    for inner in error.inner_codes:
        nested["innerError"] = {"code": inner}
        nested = nested["innerError"]
    payload = json.dumps({"error": body}, separators=(",", ":")).encode()
    headers = Headers([("Content-Type", "application/json"), *error.headers])
    return Response(error.status, headers, payload)


def throttled_response(status: int, headers: tuple[tuple[str, str], ...]) -> Response:
    """A throttled download (429 or 503): the Graph throttling codes in SharePoint's body shape,
    with the Retry-After and RateLimit-* headers the throttle decided."""
    return _error(throttled(status, headers))


class _UnsatisfiableError(Exception):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, stop) of a single-range `Range` header; None to ignore it (absent, malformed or
    multi-range: the service may answer 200 with the whole file, graph-facts §8.6).

    Raises _UnsatisfiableError when the range starts beyond the end (416).
    """
    unit, _, spec = (header or "").partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # suffix range: the last N bytes
        if int(last) == 0 or size == 0:
            raise _UnsatisfiableError
        return max(0, size - int(last)), size
    start = int(first)
    if last and (not last.isdigit() or int(last) < start):
        return None
    if start >= size:
        raise _UnsatisfiableError
    return start, min(int(last) + 1, size) if last else size


class DownloadService:
    """Serves verified download URLs from `content_for(drive_id, item_id)`, streaming in chunks.

    No Authorization is needed; one sent is ignored. Errors: 401 `unauthenticated` for expired
    (innerError `expiredToken`, as samples/09-upload-session-expired-401) or invalid URLs,
    404 `itemNotFound` when the item is gone, 416 for an unsatisfiable range. A GET about to
    answer 200/206 is first put to `admit` (the pipeline's resource-unit charge), whose
    response, if any, is sent instead.
    """

    def __init__(
        self,
        signer: DownloadSigner,
        content_for: ContentFor | None,
        chunk_size: int = CHUNK_SIZE,
        *,
        admit: Admit | None = None,
    ) -> None:
        self.signer = signer
        self.content_for = content_for
        self.chunk_size = chunk_size
        self.admit = admit

    def handle(self, request: Request) -> Response:
        """Answer one request to the download host."""
        if not request.raw_path.endswith(DOWNLOAD_PATH):
            return _error(ItemNotFound())
        if request.method not in ("GET", "HEAD"):
            return _error(
                NotSupported(
                    "The HTTP method is not supported.",
                    status=405,
                    headers=[("Allow", "GET, HEAD")],
                )
            )
        try:
            grant = self.signer.verify(request.raw_path, request.query_string)
        except DownloadDeniedError as denied:
            return self.denied_response(denied)
        try:
            source = self.content_for(grant.drive_id, grant.item_id) if self.content_for else None
        except GraphError as refused:
            return _error(refused)
        if source is None:
            return _error(ItemNotFound())
        return self._content(request, source, grant)

    def expired_response(self, request: Request) -> Response:
        """The 401 a URL gets once expired, for the `expire-url` fault on a still-valid URL."""
        try:
            claims = self.signer.claims(request.raw_path, request.query_string)
        except DownloadDeniedError as denied:
            return self.denied_response(denied)
        return self.denied_response(DownloadDeniedError(True, claims["nbf"], claims["exp"]))

    @staticmethod
    def denied_response(denied: DownloadDeniedError) -> Response:
        if not denied.expired:
            return _error(
                Unauthenticated("The access token is invalid.", inner_codes=["invalidToken"])
            )
        valid_from, valid_to = (
            _sharepoint_time(denied.valid_from),
            _sharepoint_time(denied.valid_to),
        )
        message = (
            f"The access token has expired. It's valid from '{valid_from}' and to '{valid_to}'."
        )
        return _error(Unauthenticated(message, inner_codes=["expiredToken"]))

    def _content(self, request: Request, source: ContentSource, grant: DownloadGrant) -> Response:
        size = source.size
        try:
            wanted = byte_range(request.headers.get("Range"), size)
        except _UnsatisfiableError:
            return Response(416, Headers([("Content-Range", f"bytes */{size}")]), b"")
        if self.admit is not None and request.method == "GET":
            refused = self.admit(request, grant)
            if refused is not None:
                return refused
        start, stop = wanted or (0, size)
        if request.method == "GET" and start == 0 and isinstance(source, Restartable):
            source = source.restart()
        headers = Headers([("Content-Type", source.mime_type or "application/octet-stream")])
        if wanted is not None:
            headers.add("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        body = (
            iter(())
            if request.method == "HEAD"
            else source.iter_range(start, stop, self.chunk_size)
        )
        status = 206 if wanted is not None else 200
        return Response(status, headers, body, content_length=stop - start)
