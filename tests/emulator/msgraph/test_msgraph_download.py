"""Pre-authenticated download URLs: signing, expiry, tampering, ranges, streaming, cut downloads."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from ms365sync.emulator.control.settings import FaultConfig
from ms365sync.emulator.login.tokens import b64url, b64url_decode
from ms365sync.emulator.msgraph.download import (
    CHUNK_SIZE,
    DownloadDeniedError,
    DownloadSigner,
    TypedContent,
)
from ms365sync.emulator.tenant.clock import Clock
from ms365sync.emulator.transport.http import Response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import (
    APP_ID,
    FILE_BYTES,
    FILE_SIZE,
    OTHER_APP_ID,
    TENANT_ID,
    AppFactory,
    ContentMap,
    body_json,
    call,
    issue_token,
    sample,
)

SITE = "contoso.sharepoint.com"


def download_url(
    app: EmulatorApp,
    item_id: str = "file1",
    host: str = "graph.microsoft.com",
    client_id: str = APP_ID,
) -> str:
    token = issue_token(app, client_id)
    response = call(app, "GET", f"/v1.0/drives/d/items/{item_id}/content", host=host, token=token)
    assert response.status == 302
    location = response.headers.get("Location")
    assert location is not None
    return location


def fetch(app: EmulatorApp, url: str, headers: list[tuple[str, str]] | None = None) -> Response:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return call(app, "GET", target, host=parts.netloc, headers=headers)


def assert_expired_body(response: Response) -> None:
    assert response.status == 401
    error = body_json(response)["error"]
    reference = sample("09-upload-session-expired-401.real-2019.json")["error"]
    assert set(error) == set(reference)
    assert error["code"] == reference["code"] == "unauthenticated"
    assert error["innerError"] == reference["innerError"] == {"code": "expiredToken"}
    assert error["message"].startswith("The access token has expired. It's valid from '")


def test_url_has_the_sharepoint_shape(app: EmulatorApp) -> None:
    url = download_url(app)
    parts = urlsplit(url)
    assert parts.netloc == SITE
    assert parts.path == "/sites/Team%20Site/_layouts/15/download.aspx"
    names = [pair.split("=")[0] for pair in parts.query.split("&")]
    assert names == ["UniqueId", "Translate", "tempauth", "ApiVersion"]
    assert "UniqueId=0f2e4d6c-8b0a-4c1e-9d3f-5a7b9c1d3e5f" in parts.query
    tempauth = parts.query.split("tempauth=")[1].split("&")[0]
    assert tempauth.startswith("v1.")


def test_download_needs_no_authorization_and_streams_in_chunks(
    app: EmulatorApp, contents: ContentMap
) -> None:
    response = fetch(app, download_url(app), headers=[("Authorization", "Bearer ignored")])
    assert response.status == 200
    assert response.headers.get("Content-Type") == "application/pdf"
    assert response.content_length == FILE_SIZE
    assert not isinstance(response.body, bytes)
    chunks = list(response.body)
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= CHUNK_SIZE
    assert b"".join(chunks) == FILE_BYTES
    assert contents[("b!drive", "file1")].chunk_sizes == [CHUNK_SIZE]


def test_url_expires_by_the_emulator_clock(app: EmulatorApp) -> None:
    url = download_url(app)
    # Issued at a whole second, the URL has between 3599 and 3600 s left: 3598 s later it
    # still works, 3600 s later it has expired, whatever the wall clock did meanwhile.
    app.clock.advance(3598)
    assert fetch(app, url).status == 200
    app.clock.advance(2)
    assert_expired_body(fetch(app, url))


def test_configured_url_lifetime(make_app: AppFactory) -> None:
    app = make_app(download_url_lifetime_s=60)
    url = download_url(app)
    app.clock.advance(60)
    assert fetch(app, url).status == 401


def tampered_variants(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    pairs = parts.query.split("&")
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    token = pairs[2].split("=", 1)[1]
    return {
        "reordered": f"{base}?{'&'.join([pairs[1], pairs[0], pairs[2], pairs[3]])}",
        "re-encoded": f"{base}?{pairs[0]}&Translate=%66alse&{pairs[2]}&{pairs[3]}",
        "other item": url.replace("UniqueId=0f2e", "UniqueId=1f2e"),
        "other path": url.replace("Team%20Site", "Other"),
        "claims edited": url.replace(
            token, token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
        ),
        "no tempauth": f"{base}?{pairs[0]}&{pairs[1]}&{pairs[3]}",
        "extra parameter": f"{url}&x=1",
    }


@pytest.mark.parametrize(
    "variant",
    [
        "reordered",
        "re-encoded",
        "other item",
        "other path",
        "claims edited",
        "no tempauth",
        "extra parameter",
    ],
)
def test_any_change_to_the_url_is_401(app: EmulatorApp, variant: str) -> None:
    response = fetch(app, tampered_variants(download_url(app))[variant])
    assert response.status == 401
    assert body_json(response)["error"]["code"] == "unauthenticated"


def test_signer_distinguishes_expired_from_forged() -> None:
    clock = Clock()
    signer = DownloadSigner(lifetime_s=10, clock=clock)
    url = signer.url("https://localhost:1", "/sites/a", drive_id="d", item_id="i", unique_id="U")
    parts = urlsplit(url)
    assert signer.verify(parts.path, parts.query).item_id == "i"
    clock.advance(10)
    with pytest.raises(DownloadDeniedError) as raised:
        signer.verify(parts.path, parts.query)
    assert raised.value.expired
    with pytest.raises(DownloadDeniedError) as forged:
        DownloadSigner(None, 10, clock).verify(parts.path, parts.query)
    assert not forged.value.expired


def charged(app: EmulatorApp, client_id: str = APP_ID) -> int:
    """RU charged so far to the app's bucket (0 when it never made a request)."""
    usage = app.throttle.stats()["apps"].get(f"{TENANT_ID}/{client_id}", {})
    return int(usage.get("ru_charged", 0))


def test_a_download_is_charged_one_ru_to_the_app_the_url_was_issued_to(app: EmulatorApp) -> None:
    url = download_url(app, client_id=OTHER_APP_ID)
    assert charged(app, OTHER_APP_ID) == 1  # the /content redirect
    response = fetch(app, url)  # no token: the URL says who pays
    assert response.status == 200
    assert response.headers.get("x-ms-resource-unit") == "1"
    assert charged(app, OTHER_APP_ID) == 2
    assert charged(app, APP_ID) == 0
    ranged = fetch(app, url, headers=[("Range", "bytes=0-9")])
    assert ranged.status == 206
    assert charged(app, OTHER_APP_ID) == 3


def test_head_and_refused_downloads_are_not_charged(
    make_app: AppFactory, contents: ContentMap
) -> None:
    app = make_app(faults=FaultConfig.parse("expire-url=1,scope=download"))
    url = download_url(app)
    assert fetch(app, url).status == 401  # the expire-url fault
    app.faults.configure(FaultConfig())
    parts = urlsplit(url)
    head = call(app, "HEAD", f"{parts.path}?{parts.query}", host=parts.netloc)
    assert (head.status, head.content_length) == (200, FILE_SIZE)
    assert fetch(app, tampered_variants(url)["claims edited"]).status == 401
    assert fetch(app, url, headers=[("Range", f"bytes={FILE_SIZE}-")]).status == 416
    app.clock.advance(3600)
    assert fetch(app, url).status == 401
    contents.clear()
    assert fetch(app, download_url(app)).status == 404
    assert charged(app) == 2  # the two /content redirects, no download
    assert "x-ms-resource-unit" not in head.headers


def tempauth_claims(url: str) -> tuple[str, dict[str, Any]]:
    token = urlsplit(url).query.split("tempauth=")[1].split("&")[0]
    return token, json.loads(b64url_decode(token.split(".")[1]))


def test_the_paying_app_is_a_signed_claim(app: EmulatorApp) -> None:
    url = download_url(app)
    token, claims = tempauth_claims(url)
    assert claims["app"] == f"{TENANT_ID}/{APP_ID}"
    claims["app"] = f"{TENANT_ID}/{OTHER_APP_ID}"
    forged_claims = b64url(json.dumps(claims, separators=(",", ":")).encode())
    version, _, mac = token.split(".")
    forged = url.replace(token, f"{version}.{forged_claims}.{mac}")
    response = fetch(app, forged)
    assert response.status == 401
    assert body_json(response)["error"]["innerError"] == {"code": "invalidToken"}
    assert charged(app, OTHER_APP_ID) == 0


def test_a_url_without_an_app_claim_is_served_uncharged(app: EmulatorApp) -> None:
    url = app.signer.url(
        "https://contoso.sharepoint.com",
        "/sites/Team Site",
        drive_id="b!drive",
        item_id="file1",
        unique_id="0f2e4d6c-8b0a-4c1e-9d3f-5a7b9c1d3e5f",
    )
    assert "app" not in tempauth_claims(url)[1]
    response = fetch(app, url)
    assert response.status == 200
    assert "x-ms-resource-unit" not in response.headers
    assert app.throttle.stats()["apps"] == {}


def test_typed_content_serves_typeless_content(app: EmulatorApp, contents: ContentMap) -> None:
    typeless = contents[("b!drive", "file1")]
    contents[("b!drive", "file1")] = TypedContent(typeless, "text/plain")  # type: ignore[assignment]
    response = fetch(app, download_url(app), headers=[("Range", "bytes=0-9")])
    assert response.headers.get("Content-Type") == "text/plain"
    assert response.body_bytes() == FILE_BYTES[:10]


def test_site_path_is_percent_encoded_once() -> None:
    signer = DownloadSigner()
    url = signer.url("https://h", "/sites/Team Site", drive_id="d", item_id="i", unique_id="u")
    assert urlsplit(url).path == quote("/sites/Team Site") + "/_layouts/15/download.aspx"


@pytest.mark.parametrize(
    ("header", "status", "start", "stop"),
    [
        ("bytes=0-1023", 206, 0, 1024),
        ("bytes=1000-", 206, 1000, FILE_SIZE),
        ("bytes=-500", 206, FILE_SIZE - 500, FILE_SIZE),
        (f"bytes=10-{FILE_SIZE * 2}", 206, 10, FILE_SIZE),
        ("bytes=0-1,5-9", 200, 0, FILE_SIZE),
        ("bytes=9-3", 200, 0, FILE_SIZE),
        ("items=0-3", 200, 0, FILE_SIZE),
    ],
)
def test_ranges(app: EmulatorApp, header: str, status: int, start: int, stop: int) -> None:
    response = fetch(app, download_url(app), headers=[("Range", header)])
    assert response.status == status
    assert response.body_bytes() == FILE_BYTES[start:stop]
    assert response.content_length == stop - start
    if status == 206:
        assert response.headers.get("Content-Range") == f"bytes {start}-{stop - 1}/{FILE_SIZE}"
    else:
        assert "Content-Range" not in response.headers


@pytest.mark.parametrize(
    "header", [f"bytes={FILE_SIZE}-", f"bytes={FILE_SIZE + 5}-{FILE_SIZE + 9}", "bytes=-0"]
)
def test_unsatisfiable_range_is_416(app: EmulatorApp, header: str) -> None:
    response = fetch(app, download_url(app), headers=[("Range", header)])
    assert response.status == 416
    assert response.headers.get("Content-Range") == f"bytes */{FILE_SIZE}"


def test_item_gone_is_404(app: EmulatorApp, contents: ContentMap) -> None:
    url = download_url(app)
    contents.clear()
    response = fetch(app, url)
    assert response.status == 404
    assert body_json(response)["error"]["code"] == "itemNotFound"


def test_expire_url_fault_answers_a_valid_url_as_expired(make_app: AppFactory) -> None:
    app = make_app(faults=FaultConfig.parse("expire-url=1"))
    assert_expired_body(fetch(app, download_url(app)))
    assert app.faults.stats()["expire-url"] == 1


def test_truncate_fault_is_seeded_and_partial(make_app: AppFactory) -> None:
    def cut(seed: int) -> int | None:
        app = make_app(seed=seed, faults=FaultConfig.parse("truncate=1"))
        return fetch(app, download_url(app)).truncate_at

    first = cut(5)
    assert first is not None
    assert 0 <= first < FILE_SIZE
    assert cut(5) == first
    assert cut(6) != first


def test_download_origin_differs_from_the_api_origin(app: EmulatorApp) -> None:
    assert urlsplit(download_url(app, host="127.0.0.1:8443")).netloc == "localhost:8443"
    assert urlsplit(download_url(app, host="localhost:8443")).netloc == "127.0.0.1:8443"
    assert urlsplit(download_url(app, host="graph.microsoft.us")).netloc == SITE


# -- over the wire -------------------------------------------------------------------------


def graph_get(
    session: requests.Session, base: str, app: EmulatorApp, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {issue_token(app)}"}
    return session.get(f"{base}/v1.0/drives/d/items/file1/content", headers=headers, **kwargs)


def test_redirect_over_https_drops_the_bearer_token(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    response = graph_get(https, server.base_url, app)
    assert response.status_code == 200
    assert response.history[0].status_code == 302
    assert urlsplit(response.url).hostname == "localhost"
    assert "Authorization" not in response.request.headers
    assert response.content == FILE_BYTES


def test_range_over_https(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    url = graph_get(https, server.base_url, app, allow_redirects=False).headers["Location"]
    response = https.get(url, headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.content == FILE_BYTES[100:200]


def test_truncation_over_https_is_a_broken_body(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    url = graph_get(https, server.base_url, app, allow_redirects=False).headers["Location"]
    app.faults.configure(FaultConfig.parse("truncate=1"))
    response = https.get(url, stream=True)
    assert response.headers["Content-Length"] == str(FILE_SIZE)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        b"".join(response.iter_content(8192))
    app.faults.configure(FaultConfig())
    assert https.get(url).content == FILE_BYTES


def test_drop_over_https_is_a_connection_error(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    url = graph_get(https, server.base_url, app, allow_redirects=False).headers["Location"]
    app.faults.configure(FaultConfig.parse("drop=1"))
    with pytest.raises(requests.exceptions.ConnectionError):
        https.get(url)
    app.faults.configure(FaultConfig())
    assert https.get(url).status_code == 200


def test_truncation_and_drop_in_process(inprocess: requests.Session, app: EmulatorApp) -> None:
    url = graph_get(inprocess, "https://graph.microsoft.com", app, allow_redirects=False).headers[
        "Location"
    ]
    assert urlsplit(url).hostname == SITE
    app.faults.configure(FaultConfig.parse("truncate=1"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        inprocess.get(url)
    app.faults.configure(FaultConfig.parse("drop=1"))
    with pytest.raises(requests.exceptions.ConnectionError):
        inprocess.get(url)
