"""Streams a file's content: /content redirect, opaque pre-authenticated URL, resume, verify.

graph-facts §8: `/content` answers 302 with a pre-authenticated URL on another host. That URL is
fetched without the bearer token and byte for byte (its signature covers it). When it
expires it answers 401 (403 was also seen), and the cure is a fresh URL from `/content`, not
a token refresh. A body cut short is resumed with `Range: bytes=N-`; the service may ignore
the Range and send 200 with the whole file, in which case the copy restarts from zero.

A URL already listed with the item (delta's `@microsoft.graph.downloadUrl`) saves the
`/content` round trip. An answer that refuses it (expired, 403, 404, 410) sends the download
to `/content` once, resuming from what was written: the listed URL may be older than the
item, `/content` never is.

A download that keeps failing without getting further gives up (`_Stall`): after `give_up`
seconds of the gate's clock, or the transport's `max_attempts` attempts in a row, without
one more byte than it ever had. Dropped connections, cut bodies and 5xx answers back off
exponentially in between, like any Graph request; an expired URL, an ignored or unusable
Range and a redirect are retried at once (their cure is known).
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
from loguru import logger

from ms365sync.errors import DownloadError, DownloadFailure, LocalStorageError, MS365SyncError
from ms365sync.graph.classify import Action, classify, transport_error
from ms365sync.graph.throttle import ThrottleGate
from ms365sync.graph.transport import Outcome, Transport
from ms365sync.quickxorhash import QuickXorHash
from ms365sync.target import DOWNLOAD_GIVE_UP_S

__all__ = ["DEFAULT_CHUNK_SIZE", "DownloadInfo", "download", "same_hash"]

DEFAULT_CHUNK_SIZE = 1 << 20
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_URL_EXPIRED = frozenset({401, 403})
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


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
    give_up: float = DOWNLOAD_GIVE_UP_S,
    name: str | None = None,
    verify: bool = True,
) -> DownloadInfo:
    """Write the content of `drive_id`/`item_id` to `out` from its current position.

    `progress` is called with the number of bytes written so far after every chunk (the
    number drops back when a download restarts). On error `out` holds partial data. `url`
    is a pre-authenticated URL listed with the item, tried before asking `/content`.
    `give_up` is how many seconds of the gate's clock the download may go on failing
    without getting further (see `_Stall`); `name` is what log lines call the file (its
    item id by default). With `verify` off the expected size and hash are not compared with
    what came (the caller judges the `DownloadInfo`); the size still tells a body cut short
    when the server announced none.

    Raises:
        DownloadError: size or quickXorHash differ from the expected ones
            (`content_changed`: re-read the item and try again), or the download gave up
            (reason "gave-up": it kept failing without getting further).
        NotFoundError: the item no longer exists.
        GraphError: Graph, or the file's host, refused the download for another reason.
        TransportError: `/content` could not be reached, or the file's host not safely
            (TLS).
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
        give_up=give_up,
        name=name or item_id,
    )
    job.run()
    if not verify:
        return job.verify(None, None)
    return job.verify(expected_size, expected_hash)


class _Wait(enum.Enum):
    """How a failed attempt waits for the next one."""

    AT_ONCE = "at once"  # the cure is known: a fresh URL, a restart, a redirect to follow
    BACKOFF = "back off"  # transient (a drop, a cut body, a 5xx): this thread backs off
    THROTTLED = "throttled"  # 429/503: the gate pauses every request for the server's delay


@dataclass(frozen=True)
class _Failure:
    """One failed attempt: what happened (one line, never a URL), how to wait, and why."""

    symptom: str
    wait: _Wait
    cause: MS365SyncError | None = None
    retry_after: float | None = None
    reset: float | None = None


class _Stall:
    """Attempts and seconds since a download last got further (held a byte more than ever).

    "Keeps failing the same way" is measured from the last progress, not from the start, so
    a large download that a bad connection cuts again and again, but that gets further each
    time, is never given up; one that makes no headway is, whatever the failure. Seconds are
    the gate's clock less the time the gate was closed meanwhile: a throttle pause is the
    server's wait for every request, not this file failing.
    """

    def __init__(self, gate: ThrottleGate) -> None:
        self._gate = gate
        self.failures = 0
        self._since = gate.now()
        self._paused = gate.stats.paused_seconds

    def restart(self) -> None:
        self.failures = 0
        self._since = self._gate.now()
        self._paused = self._gate.stats.paused_seconds

    def seconds(self) -> float:
        paused = self._gate.stats.paused_seconds - self._paused
        return max(0.0, self._gate.now() - self._since - paused)


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
        url: str | None,
        give_up: float,
        name: str,
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
        self._furthest = 0  # the most bytes this download ever held
        self._total: int | None = None  # the size the server announced, when it did
        self._url = url
        self._listed = url is not None  # the URL in use came with the listing, not /content
        self._give_up = give_up
        self._name = name
        self._stall = _Stall(transport.gate)
        self.attempts = 0
        self.resumes = 0
        self.url_refreshes = 0

    def run(self) -> None:
        """Fetch until the whole body is written, or give up (see `_Stall`)."""
        while True:
            self.attempts += 1
            failure = self._attempt()
            if failure is None:
                return
            self._before_retry(failure)

    def _attempt(self) -> _Failure | None:
        """One fetch; None when the body is complete, else what went wrong."""
        if self._url is None:
            self._listed = False  # set first: a failing /content is not the listed URL's
            self._url = self._content_url()
        headers = {"Range": f"bytes={self._written}-"} if self._written else {}
        outcome = self._transport.fetch(self._url, headers=headers)
        if isinstance(outcome, requests.Response) and outcome.status_code < 400:
            return self._receive(outcome)
        if isinstance(outcome, requests.Response) and outcome.status_code in _URL_EXPIRED:
            outcome.close()  # the pre-authenticated URL expired: get a fresh one
            return self._fresh_url(f"the download URL answered {outcome.status_code}")
        if isinstance(outcome, requests.Response) and outcome.status_code == 416 and self._written:
            outcome.close()  # nothing left after our offset: the file shrank, start over
            self._restart()
            return _Failure("range not satisfiable; restarting", _Wait.AT_ONCE)
        verdict = classify(outcome, method="GET", url=self._url)
        if isinstance(outcome, requests.Response):
            outcome.close()
        assert verdict.error is not None
        symptom = _symptom(outcome)
        if verdict.action in (Action.THROTTLED, Action.BACKOFF):
            wait = _Wait.THROTTLED if verdict.action is Action.THROTTLED else _Wait.BACKOFF
            return _Failure(symptom, wait, verdict.error, verdict.retry_after, verdict.reset)
        if self._listed:  # refused for good: the listed URL may be older than the item
            return self._fresh_url(f"the listed download URL failed: {symptom}")
        cause = outcome if isinstance(outcome, requests.RequestException) else None
        raise verdict.error from cause

    def _fresh_url(self, symptom: str) -> _Failure:
        """Drop the URL in use: the next attempt asks `/content` for a fresh one."""
        self._url, self._listed = None, False
        self.url_refreshes += 1
        return _Failure(symptom, _Wait.AT_ONCE)

    def _before_retry(self, failure: _Failure) -> None:
        """Wait as `failure` asks before the next attempt; raise when the download gives up."""
        stall = self._stall
        if self._written > self._furthest:  # further than ever: a new stall starts now
            self._furthest = self._written
            stall.restart()
        stall.failures += 1
        seconds = stall.seconds()
        # At least two failures in a row: one slow failure (a read timeout longer than
        # `give_up`) is not yet "keeps failing".
        timed_out = stall.failures >= 2 and seconds >= self._give_up
        if timed_out or stall.failures >= self._transport.max_attempts:
            raise self._gave_up(failure, seconds) from failure.cause
        gate = self._transport.gate
        delay = 0.0
        if failure.wait is _Wait.THROTTLED:  # the gate closes for every request
            delay = gate.pause(failure.retry_after, failure.reset)
        elif failure.wait is _Wait.BACKOFF:
            delay = gate.backoff_delay(stall.failures)
            left = self._give_up - seconds
            if left > 0:  # never wait past the deadline: the last attempt comes at it
                delay = min(delay, left)
        logger.debug(
            "download of {}: attempt {} failed ({}); retrying in {:.1f} s",
            self._name,
            self.attempts,
            failure.symptom,
            delay,
        )
        if failure.wait is _Wait.BACKOFF:
            gate.hold(delay)

    def _gave_up(self, failure: _Failure, seconds: float) -> DownloadError:
        attempts = self._stall.failures
        logger.warning(
            "download of {} gave up after {} attempts in {:.0f} s without getting further: {}",
            self._name,
            attempts,
            seconds,
            failure.symptom,
        )
        message = f"{attempts} attempts in {seconds:.0f} s without getting further; the last: "
        return self._error("gave-up", message + failure.symptom)

    def _receive(self, response: requests.Response) -> _Failure | None:
        with response:
            problem = self._accept(response)
            if problem is not None:
                return problem
            try:
                self._copy(response)
            except requests.RequestException as exc:
                self.resumes += 1
                error = transport_error(exc, method="GET", url=self._url or "")
                return _Failure(self._cut_short(), _Wait.BACKOFF, error)
        end = self._end()
        if end is not None and self._written < end:
            self.resumes += 1  # the body ended early without an error: resume from here
            return _Failure(self._cut_short(), _Wait.BACKOFF)
        return None

    def _end(self) -> int | None:
        """The size the body should reach: as announced, else as listed (None: unknown)."""
        return self._total if self._total is not None else self._expected_size

    def _cut_short(self) -> str:
        end = self._end()
        return f"body ended after {self._written}{'' if end is None else f' of {end}'} bytes"

    def _accept(self, response: requests.Response) -> _Failure | None:
        """Check the status against the Range sent; rewind when the server ignored it."""
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
            if match is None or int(match.group(1)) != self._written:
                self._restart()
                return _Failure("unusable Content-Range; restarting", _Wait.AT_ONCE)
            self._total = None if match.group(3) == "*" else int(match.group(3))
            return None
        if response.status_code in _REDIRECTS and response.headers.get("Location"):
            self._url = _absolute(response.url, response.headers["Location"])
            return _Failure("the download URL redirected; following", _Wait.AT_ONCE)
        if response.status_code != 200:
            return _Failure(f"unexpected status {response.status_code}", _Wait.BACKOFF)
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
        if expected_hash is not None and not same_hash(expected_hash, actual_hash):
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


def same_hash(expected: str, actual: str) -> bool:
    """Whether a listed quickXorHash (base64, as Graph sends it) is the computed one."""
    try:
        return base64.b64decode(expected, validate=True) == base64.b64decode(actual)
    except (binascii.Error, ValueError):
        return expected.strip() == actual


def _symptom(outcome: Outcome) -> str:
    """A failed fetch in a few words, without its URL (a signed one is a credential)."""
    if isinstance(outcome, requests.Response):
        return f"the download host answered {outcome.status_code}"
    return f"no answer: {type(_innermost(outcome)).__name__}"


def _innermost(exc: BaseException) -> BaseException:
    """The exception requests and urllib3 wrapped (RemoteDisconnected, a timeout ...)."""
    for _ in range(8):  # they nest a few levels deep; a bound, should one ever form a cycle
        inner = next((arg for arg in exc.args if isinstance(arg, BaseException)), None)
        if inner is None:
            break
        exc = inner
    return exc
