"""`/content` and the pre-authenticated download URL (graph-facts §8): a 302 to another origin,
downloads without Authorization, ranges, expiry by the emulator clock, and the same over
the HTTPS server on loopback."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ms365sync.emulator.control.requestlog import RequestLog
from ms365sync.emulator.control.settings import ThrottleConfig
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import trusting_session
from support.emulator_graph_world import FILES, World, make_world, token_for

PATH = "Reports/Q1 summary.txt"
DATA = FILES[PATH]


@pytest.fixture
def world() -> World:
    return make_world()


def location(world: World, path: str = PATH) -> str:
    response = world.get(world.item_path(path, "/content"))
    assert response.status_code == 302, response.text
    assert response.content == b""
    return response.headers["Location"]


def test_content_redirects_to_a_preauthenticated_url_on_another_host(world: World) -> None:
    url = urlsplit(location(world))
    assert url.scheme == "https"
    assert url.netloc == "contoso.sharepoint.com"  # not graph.microsoft.com
    assert url.path == "/sites/marketing/_layouts/15/download.aspx"
    query = parse_qs(url.query)
    assert query["UniqueId"] == [str(world.item(PATH).guid)]
    assert query["Translate"] == ["false"]
    assert query["ApiVersion"] == ["2.0"]
    assert query["tempauth"][0].startswith("v1.")


def test_content_by_path(world: World) -> None:
    response = world.get(f"/drives/{world.drive.id}/root:/{PATH}:/content")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc == "contoso.sharepoint.com"


def test_download_needs_no_token(world: World) -> None:
    anonymous = world.emulator.session()  # no Authorization at all
    response = anonymous.get(location(world))
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["Content-Length"] == str(len(DATA))


def test_following_the_redirect_with_requests(world: World) -> None:
    response = world.session.get(world.url(world.item_path(PATH, "/content")))
    assert response.status_code == 200
    assert response.content == DATA
    assert [r.status_code for r in response.history] == [302]
    # requests drops Authorization because the origin changed (should_strip_auth).
    assert "Authorization" not in response.request.headers


def test_a_range_is_206_with_content_range(world: World) -> None:
    response = world.emulator.session().get(location(world), headers={"Range": "bytes=8-12"})
    assert response.status_code == 206
    assert response.content == DATA[8:13]
    assert response.headers["Content-Range"] == f"bytes 8-12/{len(DATA)}"


def test_the_item_download_url_works_too(world: World) -> None:
    body = world.json(world.item_path(PATH))
    response = world.emulator.session().get(body["@microsoft.graph.downloadUrl"])
    assert response.content == DATA


def test_url_expires_with_the_emulator_clock(world: World) -> None:
    url = location(world)
    anonymous = world.emulator.session()
    world.emulator.clock.advance(3598)  # issued at a whole second: 3599-3600 s left
    assert anonymous.get(url).status_code == 200
    world.emulator.clock.advance(2)
    expired = anonymous.get(url)
    assert expired.status_code == 401
    error = expired.json()["error"]
    assert (error["code"], error["innerError"]["code"]) == ("unauthenticated", "expiredToken")
    world.sign_in_again()  # the access token is past its lifetime too
    assert anonymous.get(location(world)).content == DATA  # a fresh URL works


def test_tampered_url_is_401(world: World) -> None:
    url = location(world)
    reordered = url.replace("&Translate=false", "").replace("?", "?Translate=false&", 1)
    assert world.emulator.session().get(reordered).status_code == 401


def test_deleted_item_url_is_404(world: World) -> None:
    url = location(world)
    world.tenant.delete(world.drive, PATH)
    assert world.emulator.session().get(url).status_code == 404


def test_content_of_a_folder_is_400_and_if_none_match_is_304(world: World) -> None:
    assert world.get(world.item_path("Reports", "/content")).status_code == 400
    ctag = world.json(world.item_path(PATH))["cTag"]
    response = world.get(world.item_path(PATH, "/content"), headers={"If-None-Match": ctag})
    assert response.status_code == 304


def test_content_costs_one_resource_unit(world: World) -> None:
    assert world.get(world.item_path(PATH, "/content")).headers["x-ms-resource-unit"] == "1"


def test_a_listed_download_url_costs_only_the_bytes(world: World) -> None:
    stream = io.StringIO()
    world.emulator.app.request_log = RequestLog(stream)
    listed = world.json(world.item_path("Reports", "/children"))["value"]
    urls = [entry["@microsoft.graph.downloadUrl"] for entry in listed if "file" in entry]
    assert len(urls) == 2
    anonymous = world.emulator.session()
    assert [anonymous.get(url).status_code for url in urls] == [200, 200]
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["service"], e["resource_units"]) for e in entries] == [
        ("graph", 2),
        ("download", 1),
        ("download", 1),
    ]
    app = world.emulator.registration
    usage = world.emulator.app.throttle.stats()["apps"]
    assert usage == {
        f"{world.tenant.tenant_id}/{app.client_id}": {
            "requests": 3,
            "rejections": 0,
            "ru_charged": 4,
        }
    }


def test_a_download_is_charged_to_the_app_that_listed_it(world: World) -> None:
    other = world.tenant.add_app("other app")
    world.emulator.app.throttle.configure(ThrottleConfig.parse("2/min"))
    listing = world.sign_in_as(other).get(world.url(world.item_path(PATH)))  # 1 RU
    url = listing.json()["@microsoft.graph.downloadUrl"]
    anonymous = world.emulator.session()
    assert anonymous.get(url).status_code == 200  # 2 RU: other's budget is spent
    throttled = anonymous.get(url)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"].isdigit()
    assert world.get(world.item_path(PATH)).status_code == 200  # the first app is untouched


# ---------------------------------------------------------------------- over HTTPS


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[tuple[EmulatorServer, requests.Session]]:
    """The world's emulator over HTTPS on 127.0.0.1, stopped at the end of the test."""
    server = world.emulator.server(ca_bundle_path=tmp_path / "ca.pem")
    server.start()
    session = trusting_session(tmp_path / "ca.pem")
    try:
        yield server, session
    finally:
        session.close()
        server.stop()


def test_over_https_the_download_is_on_another_host_of_the_same_port(
    world: World, served: tuple[EmulatorServer, requests.Session]
) -> None:
    server, session = served
    base = server.base_url  # https://127.0.0.1:PORT
    token = token_for(world.emulator, session, world.emulator.registration, base)
    graph = f"{base}/v1.0{world.item_path(PATH, '/content')}"
    auth = {"Authorization": f"Bearer {token}"}
    redirect = session.get(graph, headers=auth, allow_redirects=False)
    assert redirect.status_code == 302
    url = urlsplit(redirect.headers["Location"])
    # requests keeps Authorization on a redirect to the same host and port, so the download
    # origin must differ (graph-facts §8.1): localhost instead of 127.0.0.1.
    assert (url.hostname, url.port) == ("localhost", server.port)
    followed = session.get(graph, headers=auth)
    assert followed.content == DATA
    assert "Authorization" not in followed.request.headers
    ranged = session.get(redirect.headers["Location"], headers={"Range": "bytes=0-6"})
    assert (ranged.status_code, ranged.content) == (206, DATA[:7])


def test_over_https_pages_link_back_to_the_server(
    world: World, served: tuple[EmulatorServer, requests.Session]
) -> None:
    server, session = served
    token = token_for(world.emulator, session, world.emulator.registration, server.base_url)
    session.headers["Authorization"] = f"Bearer {token}"
    first = session.get(f"{server.base_url}/v1.0/drives/{world.drive.id}/root/delta?$top=2")
    next_link = first.json()["@odata.nextLink"]
    assert next_link.startswith(f"{server.base_url}/v1.0/drives/")
    assert session.get(next_link).status_code == 200
