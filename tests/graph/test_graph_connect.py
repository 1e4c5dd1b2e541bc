"""The one client factory: app credentials + cloud + session -> a signed-in Graph client; and the
one cloud choice the configuration, the command line and the library API share."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path

import pytest
import requests

import ms365sync
from ms365sync.emulator import Emulator, load_demo_tenant
from ms365sync.errors import AuthError, ConfigError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.cloud import GLOBAL, US_GOV, choose_cloud
from ms365sync.graph.connect import connect
from ms365sync.graph.credentials import AppCredentials, ClientSecret
from ms365sync.graph.lookup import sites_and_libraries

PACKAGE = Path(ms365sync.__file__).parent


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(load_demo_tenant())


def _app(emulator: Emulator, secret: str | None = None) -> AppCredentials:
    creds = emulator.credentials
    return AppCredentials(
        creds.tenant_id, creds.client_id, ClientSecret(secret or creds.client_secret)
    )


def test_one_session_carries_the_sign_in_and_the_graph_calls(emulator: Emulator) -> None:
    sessions: list[requests.Session] = []
    hosts: list[str] = []

    def factory() -> requests.Session:
        session = emulator.session()
        session.hooks["response"].append(
            lambda response, **_: hosts.append(response.url.split("/")[2])
        )
        sessions.append(session)
        return session

    with connect(_app(emulator), GLOBAL, session_factory=factory) as client:
        client.authenticate()
        found = {site.display_name: libraries for site, libraries in sites_and_libraries(client)}

    assert len(sessions) == 1
    assert {"login.microsoftonline.com", "graph.microsoft.com"} <= set(hosts)
    assert found and all(libraries for libraries in found.values())


def test_a_wrong_secret_fails_at_authenticate(emulator: Emulator) -> None:
    with (
        connect(
            _app(emulator, "not-the-secret"), GLOBAL, session_factory=emulator.session
        ) as client,
        pytest.raises(AuthError),
    ):
        client.authenticate()


def _peak_downloads(client: GraphClient, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many of four concurrent downloads ran at once (the transfer itself is faked)."""
    active = peak = 0
    guard = threading.Lock()

    def fake_download(self: object, drive_id: str, item_id: str, out: object, **_: object) -> str:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with guard:
            active -= 1
        return item_id

    monkeypatch.setattr(GraphClient, "download", fake_download)
    threads = [
        threading.Thread(target=client.download, args=("b!d", f"item{i}", None)) for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return peak


def test_download_slots_cap_concurrent_downloads(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(emulator)
    with connect(app, GLOBAL, session_factory=emulator.session, download_slots=1) as limited:
        assert _peak_downloads(limited, monkeypatch) == 1
    with connect(app, GLOBAL, session_factory=emulator.session) as unlimited:
        assert _peak_downloads(unlimited, monkeypatch) > 1


def test_a_named_cloud_trusts_a_ca_bundle_and_keeps_its_endpoints(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")

    cloud = choose_cloud("us-gov", ca_bundle=bundle)

    assert (cloud.name, cloud.graph_url, cloud.scope) == (
        US_GOV.name,
        US_GOV.graph_url,
        US_GOV.scope,
    )
    assert cloud.ca_bundle == bundle
    assert choose_cloud(GLOBAL) is GLOBAL


def test_explicit_endpoints_make_a_custom_cloud() -> None:
    cloud = choose_cloud(
        authority_url="https://127.0.0.1:8443/", graph_url="https://127.0.0.1:8443"
    )
    assert (cloud.name, cloud.authority_url, cloud.graph_url) == (
        "custom",
        "https://127.0.0.1:8443",
        "https://127.0.0.1:8443",
    )


@pytest.mark.parametrize(
    ("arguments", "key"),
    [
        ({"authority_url": "https://127.0.0.1:8443"}, "graph_url"),
        ({"name": "mars"}, "cloud"),
        ({"ca_bundle": "no-such-ca.pem"}, "ca_bundle"),
        ({"authority_url": "http://127.0.0.1", "graph_url": "https://127.0.0.1"}, "authority_url"),
    ],
)
def test_a_cloud_that_cannot_be_used_is_a_config_error(arguments: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        choose_cloud(**arguments)  # type: ignore[arg-type]
    assert caught.value.key == key


def _calls(name: str) -> set[str]:
    """The modules of the package that call `name(...)` (by its bare or dotted name)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if "emulator" in path.relative_to(PACKAGE).parts:
            continue  # the emulator is an independent oracle with its own sessions
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    found.add(path.relative_to(PACKAGE).as_posix())
    return found


def test_only_the_factory_builds_token_providers() -> None:
    assert _calls("MsalTokenProvider") == {"graph/connect.py"}


def test_only_the_configuration_source_reads_dotenv_files() -> None:
    assert _calls("dotenv_values") | _calls("load_dotenv") == {"config/source.py"}
