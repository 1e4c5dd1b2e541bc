"""The in-process requests adapter and host-based service routing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from urllib3 import HTTPResponse

from ms365sync.emulator.control.settings import FaultConfig
from ms365sync.emulator.transport.hosts import (
    CONTROL,
    DOWNLOAD,
    GRAPH,
    LOGIN,
    SHAREPOINT,
    HostMap,
    split_host,
)
from ms365sync.emulator.transport.http import Headers, Request
from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import FILE_BYTES, ContentMap, issue_token


class CountingContent:
    """Content that counts how many chunks were actually produced."""

    def __init__(self, chunks: int, chunk: int = 1000) -> None:
        self.size = chunks * chunk
        self.mime_type = "application/octet-stream"
        self.produced = 0

    def iter_range(self, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        for offset in range(start, stop, chunk_size):
            self.produced += 1
            yield b"x" * (min(offset + chunk_size, stop) - offset)


def content_url(session: requests.Session, app: EmulatorApp) -> str:
    headers = {"Authorization": f"Bearer {issue_token(app)}"}
    url = "https://graph.microsoft.com/v1.0/drives/d/items/file1/content"
    response = session.get(url, headers=headers, allow_redirects=False)
    return str(response.headers["Location"])


def test_responses_are_real_requests_responses(
    inprocess: requests.Session, app: EmulatorApp
) -> None:
    response = inprocess.get(
        "https://graph.microsoft.com/v1.0/me",
        headers={"Authorization": f"Bearer {issue_token(app)}"},
    )
    assert isinstance(response, requests.Response)
    assert isinstance(response.raw, HTTPResponse)
    assert response.status_code == 200
    assert response.reason == "OK"
    assert response.json()["appid"]
    assert response.headers["odata-version"] == "4.0"
    assert response.url == "https://graph.microsoft.com/v1.0/me"


def test_redirect_to_the_site_host_drops_authorization(
    inprocess: requests.Session, app: EmulatorApp
) -> None:
    response = inprocess.get(
        "https://graph.microsoft.com/v1.0/drives/d/items/file1/content",
        headers={"Authorization": f"Bearer {issue_token(app)}"},
    )
    assert response.history[0].status_code == 302
    assert response.url.startswith("https://contoso.sharepoint.com/sites/Team%20Site/")
    assert "Authorization" not in response.request.headers
    assert response.content == FILE_BYTES


def test_streaming_is_lazy(
    inprocess: requests.Session, app: EmulatorApp, contents: ContentMap
) -> None:
    counting = CountingContent(chunks=50, chunk=64 * 1024)
    contents[("b!drive", "file1")] = counting  # type: ignore[assignment]
    response = inprocess.get(content_url(inprocess, app), stream=True)
    first = next(response.iter_content(1024))
    assert len(first) == 1024
    assert counting.produced <= 2
    rest = sum(len(chunk) for chunk in response.iter_content(64 * 1024))
    assert 1024 + rest == counting.size
    assert counting.produced == 50


def test_request_bodies_of_every_kind(inprocess: requests.Session, app: EmulatorApp) -> None:
    url = "https://graph.microsoft.com/v1.0/echo"
    headers = {"Authorization": f"Bearer {issue_token(app)}", "Content-Type": "application/json"}
    as_json = inprocess.post(url, json={"a": 1}, headers=headers)
    as_iterable = inprocess.post(url, data=iter([b'{"a"', b":2}"]), headers=headers)
    assert as_json.json() == {"received": {"a": 1}}
    assert as_iterable.json() == {"received": {"a": 2}}


def test_drop_looks_like_a_dropped_connection(
    inprocess: requests.Session, app: EmulatorApp
) -> None:
    app.faults.configure(FaultConfig.parse("drop=1"))
    with pytest.raises(requests.ConnectionError) as raised:
        inprocess.get(content_url(inprocess, app))
    assert "Remote end closed connection without response" in str(raised.value)


# -- host routing ------------------------------------------------------------------------------


def routed(host: str, path: str) -> str:
    return HostMap().service_for(Request("GET", host, path, "", Headers()))


@pytest.mark.parametrize(
    ("host", "path", "service"),
    [
        ("login.microsoftonline.com", "/contoso/oauth2/v2.0/token", LOGIN),
        ("login.microsoftonline.us", "/x/v2.0/.well-known/openid-configuration", LOGIN),
        ("login.chinacloudapi.cn", "/common/discovery/instance", LOGIN),
        ("graph.microsoft.com", "/v1.0/sites", GRAPH),
        ("graph.microsoft.us:443", "/v1.0/sites", GRAPH),
        ("microsoftgraph.chinacloudapi.cn", "/v1.0/sites", GRAPH),
        ("contoso.sharepoint.com", "/sites/a/_layouts/15/download.aspx", DOWNLOAD),
        ("contoso.sharepoint.us", "/_layouts/15/download.aspx", DOWNLOAD),
        ("contoso.sharepoint.cn", "/_layouts/15/download.aspx", DOWNLOAD),
        ("127.0.0.1:8443", "/v1.0/sites", GRAPH),
        ("127.0.0.1:8443", "/contoso.onmicrosoft.com/oauth2/v2.0/token", LOGIN),
        ("localhost:8443", "/contoso/v2.0/.well-known/openid-configuration", LOGIN),
        ("localhost:8443", "/common/discovery/instance", LOGIN),
        ("localhost:8443", "/sites/x/_layouts/15/download.aspx", DOWNLOAD),
        ("127.0.0.1:8443", "/_emulator/stats", CONTROL),
        ("graph.microsoft.com", "/_emulator/stats", CONTROL),
        ("127.0.0.1:8443", "/beta/sites", GRAPH),
        ("contoso.sharepoint.com", "/sites/a/_api/web/sitegroups", SHAREPOINT),
        ("contoso.sharepoint.com", "/teams/a/_API/Web", SHAREPOINT),
        ("127.0.0.1:8443", "/sites/a/_api/web/siteusers", SHAREPOINT),
        ("localhost:8443", "/teams/a/_api", SHAREPOINT),
        ("127.0.0.1:8443", "/sites/a/_apis/web", GRAPH),
    ],
)
def test_service_by_host_then_path(host: str, path: str, service: str) -> None:
    assert routed(host, path) == service


def test_download_origin_changes_host_or_port() -> None:
    hosts = HostMap()

    def origin(host: str) -> str:
        return hosts.download_origin(
            Request("GET", host, "/", "", Headers()), "contoso.sharepoint.com"
        )

    assert origin("graph.microsoft.com") == "https://contoso.sharepoint.com"
    assert origin("127.0.0.1:8443") == "https://localhost:8443"
    assert origin("localhost:8443") == "https://127.0.0.1:8443"
    assert origin("emulator.test:9000") == "https://127.0.0.1:9000"


def test_split_host() -> None:
    assert split_host("Graph.Microsoft.com:443") == ("graph.microsoft.com", "443")
    assert split_host("[::1]:8443") == ("::1", "8443")
    assert split_host("localhost") == ("localhost", "")
