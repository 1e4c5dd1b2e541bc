"""Streams a file's content: /content redirect, opaque pre-authenticated URL, resume, verify.

graph-facts §8: `/content` answers 302 with a pre-authenticated URL on another host. That URL is
fetched without the bearer token and byte for byte (its signature covers it). When it
expires it answers 401 (403 was also seen), and the cure is a fresh URL from `/content`, not
a token refresh. A body cut short is resumed with `Range: bytes=N-`; the service may ignore
the Range and send 200 with the whole file, in which case the copy restarts from zero.

A URL already listed with the item (delta's `@microsoft.graph.downloadUrl`) saves the
`/content` round trip. Whatever makes it fail short of a content mismatch (expired, 403,
404, 410, the network after every retry) sends the download to `/content` once, resuming
from what was written: the listed URL may be older than the item, `/content` never is.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
from loguru import logger

from ms365sync.errors import (
    DownloadError,
    DownloadFailure,
    GraphError,
    LocalStorageError,
    MS365SyncError,
    TransportError,
)
from ms365sync.graph.classify import classify
from ms365sync.graph.transport import Transport
from ms365sync.quickxorhash import QuickXorHash

__all__ = ["DEFAULT_CHUNK_SIZE", "DownloadInfo", "download"]

DEFAULT_CHUNK_SIZE = 1 << 20
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_URL_EXPIRED = frozenset({401, 403})
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
# Failures of a listed URL that `/content` may cure (a local error, LocalStorageError, is not
# one of them; nor a content mismatch, found after the body is complete).
_LISTED_URL_FAILURES = (GraphError, TransportError, DownloadError)


@dataclass(frozen=True)
class DownloadInfo:
    """What a completed download wrote and how hard it was to get."""

    size: int
    quick_xor_hash: str
    attempts: int
    resumes: int
    url_refreshes: int


def download(
    transport: Transport,
    drive_id: str,
    item_id: str,
    out: BinaryIO,
    *,
    content_path: str,
    expected_size: int | None = None,
    expected_hash: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    url: str | None = None,
) -> DownloadInfo:
    """Write the content of `drive_id`/`item_id` to `out` from its current position.

    `progress` is called with the number of bytes written so far after every chunk (the
    number drops back when a download restarts). On error `out` holds partial data. `url`
    is a pre-authenticated URL listed with the item, tried before asking `/content`.

    Raises:
        DownloadError: size or quickXorHash differ from the expected ones (re-read the item
            and try again), or the body could not be completed within the attempts.
        NotFoundError: the item no longer exists.
        GraphError: Graph refused `/content` for another reason.
        TransportError: the network failed on every attempt.
        LocalStorageError: writing to `out` failed (disk full, read-only ...).
    """
    job = _Download(
        transport,
        out,
        drive_id=drive_id,
        item_id=item_id,
        content_path=content_path,
        chunk_size=chunk_size,
        expected_size=expected_size,
        progress=progress,
        url=url,
    )
    job.run()
    return job.verify(expected_size, expected_hash)


class _Download:
    """The state of one download across its attempts."""

    def __init__(
        self,
        transport: Transport,
        out: BinaryIO,
        *,
        drive_id: str,
        item_id: str,
        content_path: str,
        chunk_size: int,
        expected_size: int | None,
        progress: Callable[[int], None] | None,
        url: str | None = None,
    ) -> None:
        self._transport = transport
        self._expected_size = expected_size
        self._progress = progress
        self._drive_id = drive_id
        self._item_id = item_id
        self._out = out
        self._content_path = content_path
        self._chunk_size = chunk_size
        self._start = out.tell() if out.seekable() else None
        self._hasher = QuickXorHash()
        self._written = 0
        self._total: int | None = None  # the size the server announced, when it did
        self._url = url
        self._listed = url is not None  # the URL in use came with the listing, not /content
        self.attempts = 0
        self.resumes = 0
        self.url_refreshes = 0

    def run(self) -> None:
        """Fetch until the whole body is written or the attempts run out; when the listed
        URL fails, once more from a URL that `/content` hands out."""
        try:
            self._run_attempts()
        except _LISTED_URL_FAILURES as exc:
            local = isinstance(exc, DownloadError) and exc.reason == "not-seekable"
            if local or not self._listed:
                raise
            # The message is redacted (MS365SyncError): the signed URL never reaches a log.
            logger.debug("item {}: the listed download URL failed ({})", self._item_id, exc)
            self._listed, self._url = False, None
            self.url_refreshes += 1
            self._run_attempts()

    def _run_attempts(self) -> None:
        last_error: MS365SyncError | None = None
        for attempt in range(1, self._transport.max_attempts + 1):
            self.attempts += 1
            last_error = self._attempt(attempt)
            if last_error is None:
                return
        assert last_error is not None
        raise last_error

    def _attempt(self, attempt: int) -> MS365SyncError | None:
        """One fetch; None when complete, else the problem (already waited for, if needed)."""
        if self._url is None:
            self._listed = False  # set first: a failing /content is not the listed URL's
            self._url = self._content_url()
        headers = {"Range": f"bytes={self._written}-"} if self._written else {}
        outcome = self._transport.fetch(self._url, headers=headers)
        if isinstance(outcome, requests.Response) and outcome.status_code in _URL_EXPIRED:
            outcome.close()
            self._url = None  # the pre-authenticated URL expired: get a fresh one
            self.url_refreshes += 1
            return self._error("url-expired", f"download URL answered {outcome.status_code}")
        if isinstance(outcome, requests.Response) and outcome.status_code < 400:
            return self._receive(outcome, attempt)
        if isinstance(outcome, requests.Response) and outcome.status_code == 416 and self._written:
            outcome.close()  # nothing left after our offset: the file shrank, start over
            self._restart()
            return self._error("bad-response", "range not satisfiable; restarting")
        verdict = classify(outcome, method="GET", url=self._url)
        if isinstance(outcome, requests.Response):
            outcome.close()
        assert verdict.error is not None
        # renewed=True: the pre-authenticated URL carries no token, so a renewal cannot help.
        if not self._transport.prepare_retry(verdict, attempt, renewed=True):
            cause = outcome if isinstance(outcome, requests.RequestException) else None
            raise verdict.error from cause
        return verdict.error

    def _receive(self, response: requests.Response, attempt: int) -> MS365SyncError | None:
        with response:
            problem = self._accept(response)
            if problem is not None:
                return problem
            try:
                self._copy(response)
            except requests.RequestException as exc:
                self.resumes += 1
                self._transport.gate.backoff(attempt)
                return self._error("truncated", f"body cut after {self._written} bytes ({exc})")
        target = self._total if self._total is not None else self._expected_size
        if target is not None and self._written < target:
            self.resumes += 1  # the body ended early without an error: resume from here
            return self._error("truncated", f"body ended after {self._written} bytes")
        return None

    def _accept(self, response: requests.Response) -> MS365SyncError | None:
        """Check the status against the Range sent; rewind when the server ignored it."""
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match is None or int(match.group(1)) != self._written:
                self._restart()
                return self._error("bad-response", "unusable Content-Range; restarting")
            self._total = None if match.group(3) == "*" else int(match.group(3))
            return None
        if response.status_code in _REDIRECTS and response.headers.get("Location"):
            self._url = _absolute(response.url, response.headers["Location"])
            return self._error("bad-response", "download URL redirected; following")
        if response.status_code != 200:
            return self._error("bad-response", f"unexpected status {response.status_code}")
        if self._written:
            self._restart()  # Range ignored: the whole file follows
        length = response.headers.get("Content-Length")
        self._total = int(length) if length and length.isdigit() else None
        return None

    def _copy(self, response: requests.Response) -> None:
        for chunk in response.iter_content(self._chunk_size):
            if not chunk:
                continue
            try:
                self._out.write(chunk)
            except OSError as exc:
                raise LocalStorageError.from_oserror(exc, path=self._out_path()) from exc
            self._hasher.update(chunk)
            self._written += len(chunk)
            if self._progress is not None:
                self._progress(self._written)

    def _restart(self) -> None:
        if self._start is None:
            raise self._error("not-seekable", "cannot rewind the output", retryable=False)
        try:
            self._out.seek(self._start)
            self._out.truncate()
        except OSError as exc:
            raise LocalStorageError.from_oserror(exc, path=self._out_path()) from exc
        self._hasher = QuickXorHash()
        self._written = 0

    def _content_url(self) -> str:
        response = self._transport.request(
            "GET",
            self._content_path,
            headers={"Accept": "*/*"},
            allow_redirects=False,
            stream=True,
        )
        with response:
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                raise self._error(
                    "bad-response", f"/content answered {response.status_code} without a redirect"
                )
        return _absolute(response.url, location)

    def verify(self, expected_size: int | None, expected_hash: str | None) -> DownloadInfo:
        """Compare what was written with the expected size and quickXorHash."""
        actual_hash = self._hasher.b64digest()
        if expected_size is not None and self._written != expected_size:
            raise self._error(
                "size-mismatch", "size differs", expected=expected_size, actual=self._written
            )
        if expected_hash is not None and not _same_hash(expected_hash, actual_hash):
            raise self._error(
                "hash-mismatch", "quickXorHash differs", expected=expected_hash, actual=actual_hash
            )
        return DownloadInfo(
            size=self._written,
            quick_xor_hash=actual_hash,
            attempts=self.attempts,
            resumes=self.resumes,
            url_refreshes=self.url_refreshes,
        )

    def _error(
        self,
        reason: DownloadFailure,
        message: str,
        *,
        expected: str | int | None = None,
        actual: str | int | None = None,
        retryable: bool = True,
    ) -> DownloadError:
        return DownloadError(
            message,
            reason=reason,
            drive_id=self._drive_id,
            item_id=self._item_id,
            expected=expected,
            actual=actual,
            retryable=retryable,
        )

    def _out_path(self) -> str | None:
        name = getattr(self._out, "name", None)
        return name if isinstance(name, str) else None


def _absolute(base: str, location: str) -> str:
    """Keep a Location exactly as sent; only a relative one is resolved against `base`."""
    return location if urlsplit(location).scheme else urljoin(base, location)


def _same_hash(expected: str, actual: str) -> bool:
    try:
        return base64.b64decode(expected, validate=True) == base64.b64decode(actual)
    except (binascii.Error, ValueError):
        return expected.strip() == actual
