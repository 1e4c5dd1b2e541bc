"""Downloads: redirect without the token, opaque URLs, Range resume, fresh URLs, verification."""

from __future__ import annotations

import errno
import io
from typing import Any

import pytest
import requests
import responses
from loguru import logger

from ms365sync.errors import DownloadError, LocalStorageError, NotFoundError
from ms365sync.graph import GraphClient
from ms365sync.quickxorhash import quickxorhash

GRAPH = "https://graph.microsoft.com/v1.0"
CONTENT = f"{GRAPH}/drives/b!drive/items/01FILE/content"
# Unreserved characters percent-encoded on purpose: requests would rewrite %7E as "~".
PREAUTH = (
    "https://contoso.sharepoint.com/sites/x/_layouts/15/download.aspx"
    "?UniqueId=6ca0db30&Translate=false&tempauth=v1.eyJhdWQiOiJ4In0%7Esig-one&ApiVersion=2.0"
)
FRESH = PREAUTH.replace("sig-one", "sig-two")
PREAUTH_BASE = "https://contoso.sharepoint.com/sites/x/_layouts/15/download.aspx"
DATA = bytes(range(256)) * 40 + b"tail"  # 10,244 bytes


class FakeFileHost:
    """The pre-authenticated download host: serves DATA, honouring Range, with scripted faults."""

    def __init__(self, *steps: str) -> None:
        self.steps = list(steps)
        self.requests: list[requests.PreparedRequest] = []

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(request)
        step = self.steps.pop(0) if self.steps else "ok"
        offset = _range_start(request.headers.get("Range"))
        if step.startswith("status:"):
            return int(step.split(":")[1]), {}, b"<html>denied</html>"
        if step == "ignore-range" or offset == 0:
            return 200, {"Content-Length": str(len(DATA))}, DATA
        if step == "bad-range":
            return 206, {"Content-Range": f"bytes 0-{len(DATA) - 1}/{len(DATA)}"}, DATA
        body = DATA[offset:]
        headers = {"Content-Range": f"bytes {offset}-{len(DATA) - 1}/{len(DATA)}"}
        return 206, headers, body

    def cut_first(self, keep: int) -> None:
        """Make the next full answer stop after `keep` bytes while announcing the full length."""
        self.steps.insert(0, f"cut:{keep}")


def _range_start(header: str | None) -> int:
    if not header:
        return 0
    return int(header.removeprefix("bytes=").split("-")[0])


def _serve_content(rsps: responses.RequestsMock, *locations: str) -> None:
    for location in locations:
        rsps.get(CONTENT, status=302, headers={"Location": location})


def _serve_file(rsps: responses.RequestsMock, host: Any) -> None:
    rsps.add_callback(responses.GET, PREAUTH_BASE, callback=host)


def test_redirect_is_followed_without_the_token_and_without_re_encoding(
    client: GraphClient, rsps
) -> None:
    _serve_content(rsps, PREAUTH)
    host = FakeFileHost()
    _serve_file(rsps, host)
    out = io.BytesIO()
    info = client.download(
        "b!drive", "01FILE", out, expected_size=len(DATA), expected_hash=quickxorhash(DATA)
    )
    assert out.getvalue() == DATA
    assert info.size == len(DATA)
    assert info.quick_xor_hash == quickxorhash(DATA)
    content_call, file_call = rsps.calls
    assert content_call.request.headers["Authorization"] == "Bearer token-one"
    assert "Authorization" not in file_call.request.headers
    assert file_call.request.url == PREAUTH  # byte for byte
    assert info.attempts == 1
    assert info.resumes == 0


def test_a_cut_body_is_resumed_with_range(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, body=DATA[:4000], headers={"Content-Length": str(len(DATA))})
    host = FakeFileHost()
    _serve_file(rsps, host)
    out = io.BytesIO()
    info = client.download(
        "b!drive",
        "01FILE",
        out,
        expected_size=len(DATA),
        expected_hash=quickxorhash(DATA),
        chunk_size=1000,
    )
    assert out.getvalue() == DATA
    assert info.resumes == 1
    (resumed,) = host.requests
    written_before_cut = _range_start(resumed.headers["Range"])
    assert 0 < written_before_cut <= 4000
    assert resumed.headers["Range"] == f"bytes={written_before_cut}-"
    assert "Authorization" not in resumed.headers
    assert sum(1 for call in rsps.calls if call.request.url == CONTENT) == 1


def test_a_connection_reset_mid_body_is_resumed(client, rsps) -> None:
    class Cut(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if self.sent >= 3000:
                raise ConnectionResetError("connection reset by peer")
            size = min(len(buffer), 1000)
            buffer[:size] = DATA[self.sent : self.sent + size]
            self.sent += size
            return size

    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, body=io.BufferedReader(Cut()))
    _serve_file(rsps, FakeFileHost())
    out = io.BytesIO()
    info = client.download(
        "b!drive", "01FILE", out, expected_size=len(DATA), expected_hash=quickxorhash(DATA)
    )
    assert out.getvalue() == DATA
    assert info.resumes == 1


def test_ignored_range_restarts_from_zero(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, body=DATA[:5000], headers={"Content-Length": str(len(DATA))})
    host = FakeFileHost("ignore-range")
    _serve_file(rsps, host)
    out = io.BytesIO(b"prefix")
    out.seek(6)
    seen: list[int] = []
    info = client.download(
        "b!drive",
        "01FILE",
        out,
        expected_size=len(DATA),
        expected_hash=quickxorhash(DATA),
        chunk_size=1000,
        progress=seen.append,
    )
    assert out.getvalue() == b"prefix" + DATA  # rewound to where it started, not to zero
    assert info.size == len(DATA)
    assert seen[-1] == len(DATA)
    assert seen[:6] == [1000, 2000, 3000, 4000, 5000, 1000]  # the count restarts with the file


def test_a_206_for_the_wrong_range_restarts(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, body=DATA[:5000], headers={"Content-Length": str(len(DATA))})
    host = FakeFileHost("bad-range")
    _serve_file(rsps, host)
    out = io.BytesIO()
    client.download(
        "b!drive", "01FILE", out, expected_size=len(DATA), expected_hash=quickxorhash(DATA)
    )
    assert out.getvalue() == DATA
    assert "Range" not in host.requests[-1].headers


@pytest.mark.parametrize("status", [401, 403])
def test_an_expired_url_gets_a_fresh_one_from_content_not_a_new_token(
    client, rsps, tokens, status: int
) -> None:
    _serve_content(rsps, PREAUTH, FRESH)
    host = FakeFileHost(f"status:{status}")
    _serve_file(rsps, host)
    out = io.BytesIO()
    info = client.download("b!drive", "01FILE", out, expected_size=len(DATA))
    assert out.getvalue() == DATA
    assert [r.url for r in host.requests] == [PREAUTH, FRESH]
    assert sum(1 for call in rsps.calls if call.request.url == CONTENT) == 2
    assert tokens.refreshes == 0
    assert info.url_refreshes == 1


def test_hash_mismatch(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    _serve_file(rsps, FakeFileHost())
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO(), expected_hash=quickxorhash(b"other"))
    assert caught.value.reason == "hash-mismatch"
    assert caught.value.expected == quickxorhash(b"other")
    assert caught.value.actual == quickxorhash(DATA)
    assert caught.value.retryable


def test_size_mismatch_when_the_server_sends_another_size(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    _serve_file(rsps, FakeFileHost())
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO(), expected_size=len(DATA) + 1)
    assert caught.value.reason == "size-mismatch"
    assert (caught.value.expected, caught.value.actual) == (len(DATA) + 1, len(DATA))
    assert caught.value.item_id == "01FILE"


def test_a_short_body_without_a_length_is_resumed_to_the_expected_size(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(
        PREAUTH_BASE,
        body=DATA[:3000],
        headers={"Content-Length": "", "Transfer-Encoding": "chunked"},
    )
    host = FakeFileHost()
    _serve_file(rsps, host)
    out = io.BytesIO()
    info = client.download("b!drive", "01FILE", out, expected_size=len(DATA))
    assert out.getvalue() == DATA
    assert host.requests[0].headers["Range"] == "bytes=3000-"
    assert info.resumes == 1


def test_a_file_that_keeps_getting_cut_backs_off_then_gives_up_saying_why(
    client, rsps, clock
) -> None:
    _serve_content(rsps, PREAUTH)
    # Every answer stops after 5 bytes, short of a read chunk: nothing is ever written.
    rsps.get(PREAUTH_BASE, body=DATA[:5], headers={"Content-Length": str(len(DATA))})
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO(), expected_size=len(DATA))
    assert caught.value.reason == "gave-up"
    assert not caught.value.content_changed  # nothing to re-read: the next run tries again
    assert str(caught.value).endswith(
        "failed (gave-up): 4 attempts in 7 s without getting further; "
        f"the last: body ended after 0 of {len(DATA)} bytes"
    )
    assert clock.sleeps == [1.0, 2.0, 4.0]  # as after a 5xx; max_attempts=4 in a row
    assert "tempauth" not in str(caught.value)


def test_a_download_gives_up_at_its_deadline_without_waiting_past_it(client, rsps, clock) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, status=500)
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO(), give_up=2.5)
    # Back-offs of 1 and 2 s, the second cut to the 1.5 s left: the third attempt comes at
    # the deadline and is the last.
    assert clock.sleeps == [1.0, 1.5]
    assert "3 attempts in 2 s" in str(caught.value)  # 2.5 s, rounded half to even
    assert "the download host answered 500" in str(caught.value)


def test_throttling_pauses_do_not_count_towards_giving_up(client, rsps, clock) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, status=429, headers={"Retry-After": "30"})
    rsps.get(PREAUTH_BASE, status=500)
    rsps.get(PREAUTH_BASE, status=429, headers={"Retry-After": "30"})
    _serve_file(rsps, FakeFileHost())
    out = io.BytesIO()
    client.download("b!drive", "01FILE", out, expected_size=len(DATA), give_up=5.0)
    # 62 s on the clock, 2 of them this download's own: the 429s count as attempts in a
    # row, but the gate's pauses are not the file failing.
    assert out.getvalue() == DATA
    assert clock.sleeps == [30.0, 2.0, 30.0]


def test_repeatedly_expired_urls_give_up_without_leaking_them(client, rsps, clock) -> None:
    _serve_content(rsps, PREAUTH)
    _serve_file(rsps, FakeFileHost(*["status:401"] * 10))
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO())
    assert caught.value.reason == "gave-up"
    assert "the download URL answered 401" in str(caught.value)
    assert clock.sleeps == []  # a fresh URL is the cure: asked for at once
    assert "eyJhdWQ" not in str(caught.value)


def test_item_gone_is_not_found(client, rsps) -> None:
    rsps.get(
        CONTENT, status=404, json={"error": {"code": "itemNotFound", "message": "Item not found"}}
    )
    with pytest.raises(NotFoundError):
        client.download("b!drive", "01FILE", io.BytesIO())


def test_content_without_a_redirect_is_rejected(client, rsps) -> None:
    rsps.get(CONTENT, status=200, body=DATA)
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO())
    assert caught.value.reason == "bad-response"


def test_a_throttled_download_url_pauses_the_gate(client, rsps, clock) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, status=429, headers={"Retry-After": "9"})
    _serve_file(rsps, FakeFileHost())
    out = io.BytesIO()
    start = clock.now()
    client.download("b!drive", "01FILE", out, expected_size=len(DATA))
    assert out.getvalue() == DATA
    assert clock.now() - start == 9


def test_disk_full_is_a_local_storage_error(client, rsps) -> None:
    class Full(io.BytesIO):
        name = "/mirror/docs/file.bin"

        def write(self, data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    _serve_content(rsps, PREAUTH)
    _serve_file(rsps, FakeFileHost())
    with pytest.raises(LocalStorageError) as caught:
        client.download("b!drive", "01FILE", Full())
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value.path) == "/mirror/docs/file.bin"


def test_empty_file(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, body=b"", headers={"Content-Length": "0"})
    info = client.download(
        "b!drive",
        "01FILE",
        io.BytesIO(),
        expected_size=0,
        expected_hash="AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    assert info.size == 0


def test_range_not_satisfiable_restarts_from_zero(client, rsps) -> None:
    _serve_content(rsps, PREAUTH)
    rsps.get(PREAUTH_BASE, body=DATA[:4000], headers={"Content-Length": str(len(DATA))})
    host = FakeFileHost("status:416")
    _serve_file(rsps, host)
    out = io.BytesIO()
    client.download(
        "b!drive",
        "01FILE",
        out,
        expected_size=len(DATA),
        expected_hash=quickxorhash(DATA),
        chunk_size=1000,
    )
    assert out.getvalue() == DATA
    assert "Range" in host.requests[0].headers
    assert "Range" not in host.requests[1].headers


# ---------------------------------------------------------------------- a URL from the listing

LISTED = PREAUTH.replace("sig-one", "sig-listed")


def _content_calls(rsps: responses.RequestsMock) -> int:
    return sum(1 for call in rsps.calls if call.request.url == CONTENT)


def test_a_listed_url_needs_no_content_round_trip(client, rsps) -> None:
    host = FakeFileHost()
    _serve_file(rsps, host)
    out = io.BytesIO()
    info = client.download("b!drive", "01FILE", out, expected_hash=quickxorhash(DATA), url=LISTED)
    assert out.getvalue() == DATA
    assert [call.request.url for call in rsps.calls] == [LISTED]  # byte for byte
    assert "Authorization" not in host.requests[0].headers
    assert (info.attempts, info.url_refreshes) == (1, 0)


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_a_refused_listed_url_falls_back_to_content_once(client, rsps, status: int) -> None:
    _serve_content(rsps, FRESH)
    host = FakeFileHost(f"status:{status}")
    _serve_file(rsps, host)
    out = io.BytesIO()
    info = client.download(
        "b!drive",
        "01FILE",
        out,
        expected_size=len(DATA),
        expected_hash=quickxorhash(DATA),
        url=LISTED,
    )
    assert out.getvalue() == DATA
    assert [call.request.url for call in rsps.calls] == [LISTED, CONTENT, FRESH]
    assert info.url_refreshes == 1


def test_a_listed_url_unreachable_on_every_attempt_gives_up_without_a_second_round(
    client, rsps, clock
) -> None:
    def host(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        raise requests.ConnectionError("connection refused")

    _serve_content(rsps, FRESH)
    _serve_file(rsps, host)
    with pytest.raises(DownloadError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO(), url=LISTED)
    assert caught.value.reason == "gave-up"
    assert "no answer: ConnectionError" in str(caught.value)
    # A drop is no refusal of the URL: it is retried as it is, backing off as after a
    # 5xx, and the attempts in a row end the download (no new round through /content).
    assert [call.request.url for call in rsps.calls] == [LISTED] * 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_a_listed_url_cut_mid_body_resumes_on_the_same_url(client, rsps) -> None:
    rsps.get(PREAUTH_BASE, body=DATA[:4000], headers={"Content-Length": str(len(DATA))})
    host = FakeFileHost()
    _serve_file(rsps, host)
    out = io.BytesIO()
    client.download(
        "b!drive", "01FILE", out, expected_hash=quickxorhash(DATA), chunk_size=1000, url=LISTED
    )
    assert out.getvalue() == DATA
    assert _content_calls(rsps) == 0
    assert host.requests[0].url == LISTED and "Range" in host.requests[0].headers


def test_a_content_mismatch_from_a_listed_url_is_not_retried_through_content(client, rsps) -> None:
    _serve_content(rsps, FRESH)
    _serve_file(rsps, FakeFileHost())
    with pytest.raises(DownloadError) as caught:
        client.download(
            "b!drive", "01FILE", io.BytesIO(), expected_hash=quickxorhash(b"other"), url=LISTED
        )
    assert caught.value.reason == "hash-mismatch"  # the caller re-reads the item instead
    assert _content_calls(rsps) == 0


def test_content_failing_after_a_listed_url_is_not_asked_twice(client, rsps) -> None:
    rsps.get(
        CONTENT, status=404, json={"error": {"code": "itemNotFound", "message": "Item not found"}}
    )
    _serve_file(rsps, FakeFileHost("status:401"))
    with pytest.raises(NotFoundError) as caught:
        client.download("b!drive", "01FILE", io.BytesIO(), url=LISTED)
    assert _content_calls(rsps) == 1
    assert "sig-listed" not in f"{caught.value} {caught.value!r} {vars(caught.value)}"


def test_a_listed_url_never_reaches_the_log(client, rsps) -> None:
    records: list[str] = []
    sink = logger.add(records.append, level="DEBUG")
    try:
        _serve_content(rsps, FRESH)
        _serve_file(rsps, FakeFileHost("status:404"))
        client.download("b!drive", "01FILE", io.BytesIO(), url=LISTED)
    finally:
        logger.remove(sink)
    assert any("listed download URL" in record for record in records)
    assert not any("sig-listed" in record for record in records)
