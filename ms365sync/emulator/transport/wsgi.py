"""WSGI glue (environ to Request, Response to start_response) for hosting under any server."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import quote

from ms365sync.emulator.transport.http import Headers, Request, Response

WSGIStartResponse = Callable[..., Any]


class _Handles(Protocol):
    def handle(self, request: Request) -> Response: ...


def status_line(status: int) -> str:
    """ "200 OK" for 200; an unknown code keeps an empty reason phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} "


def request_from_environ(environ: dict[str, Any]) -> Request:
    """A Request from a WSGI environ, keeping the path percent-encoded as sent when possible."""
    raw_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw_uri:
        raw_path = raw_uri.split("?", 1)[0]
    else:
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
        raw_path = quote(path, safe="/:@!$&'()*+,;=-._~")
    headers = Headers(
        (key[5:].replace("_", "-").title(), value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    )
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers.add(name, environ[key])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return Request(
        method=environ["REQUEST_METHOD"].upper(),
        host=host,
        raw_path=raw_path,
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        body=body,
        scheme=environ.get("wsgi.url_scheme", "https"),
    )


def body_chunks(response: Response) -> Iterator[bytes]:
    """The body as chunks, cut at `truncate_at` when the response asks for truncation."""
    chunks: Iterable[bytes] = [response.body] if isinstance(response.body, bytes) else response.body
    remaining = response.truncate_at
    for whole in chunks:
        chunk = whole if remaining is None else whole[:remaining]
        if remaining is not None:
            remaining -= len(chunk)
        if chunk:
            yield chunk
        if remaining == 0:
            return


def call_wsgi(
    app: _Handles, environ: dict[str, Any], start_response: WSGIStartResponse
) -> Iterable[bytes]:
    """Run one WSGI request through `app`. A dropped response raises ConnectionAbortedError,
    which WSGI servers answer by closing the connection (or with a 500)."""
    response = app.handle(request_from_environ(environ))
    if response.drop:
        raise ConnectionAbortedError("fault injection: connection dropped")
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    if response.content_length is not None:
        headers.append(("Content-Length", str(response.content_length)))
    start_response(status_line(response.status), headers)
    return body_chunks(response)
