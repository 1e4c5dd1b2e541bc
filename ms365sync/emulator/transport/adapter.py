"""An in-process `requests` transport adapter that answers from the emulator without sockets."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.exceptions import ProtocolError

from ms365sync.emulator.transport.http import Headers, Request, Response
from ms365sync.emulator.transport.wsgi import body_chunks, status_line


class _BodyStream(io.RawIOBase):
    """A lazy, read-only file over the response's chunks (ends early when truncated)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _body(prepared: requests.PreparedRequest) -> bytes:
    body = prepared.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


def to_request(prepared: requests.PreparedRequest) -> Request:
    """The emulator's Request for a prepared `requests` request (Host taken from the URL)."""
    parts = urlsplit(prepared.url or "")
    headers = Headers(prepared.headers.items())
    if "Host" not in headers:
        headers.add("Host", parts.netloc)
    return Request(
        method=(prepared.method or "GET").upper(),
        host=headers.get("Host") or parts.netloc,
        raw_path=parts.path or "/",
        query_string=parts.query,
        headers=headers,
        body=_body(prepared),
        scheme=parts.scheme or "https",
    )


class EmulatorAdapter(BaseAdapter):
    """Serves a `requests.Session` from an emulator app (anything with handle(Request)).

    Responses are real `requests.Response` objects over a lazy urllib3 `HTTPResponse`
    (`preload_content=False`, `enforce_content_length=True`), so streaming works and faults
    surface as over a socket: a dropped connection raises `requests.ConnectionError`
    wrapping urllib3's ProtocolError, a truncated body raises `ChunkedEncodingError`.
    """

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def send(  # noqa: PLR0917 (the signature requests' BaseAdapter.send defines)
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer `request` in-process; raises requests.ConnectionError for a dropped one."""
        answer: Response = self.app.handle(to_request(request))
        if answer.drop:
            reason = RemoteDisconnected("Remote end closed connection without response")
            raise requests.ConnectionError(
                ProtocolError("Connection aborted.", reason), request=request
            )
        return self._build(request, answer)

    def _build(self, request: requests.PreparedRequest, answer: Response) -> requests.Response:
        headers = HTTPHeaderDict()
        for name, value in answer.headers.items():
            if name.lower() != "content-length":
                headers.add(name, value)
        if answer.content_length is not None:
            headers.add("Content-Length", str(answer.content_length))
        raw = HTTPResponse(
            body=_BodyStream(body_chunks(answer)),
            headers=headers,
            status=answer.status,
            reason=status_line(answer.status).partition(" ")[2],
            preload_content=False,
            decode_content=False,
            enforce_content_length=True,
            request_method=request.method,
            request_url=request.url,
        )
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(raw.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.reason = raw.reason or ""
        response.url = request.url or ""
        response.request = request
        # requests types `connection` as HTTPAdapter; any adapter with send() is what it needs.
        response.connection = self  # type: ignore[assignment]
        return response

    def close(self) -> None:
        """Nothing to release: there are no connections."""


def mount(
    session: requests.Session, app: Any, prefixes: tuple[str, ...] = ("https://",)
) -> EmulatorAdapter:
    """Route every URL of `session` starting with one of `prefixes` to the emulator."""
    adapter = EmulatorAdapter(app)
    for prefix in prefixes:
        session.mount(prefix, adapter)
    return adapter
