"""National clouds, explicit endpoints, and sessions that always trust the configured CA bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import responses

from ms365sync.errors import ConfigError
from ms365sync.graph import (
    CHINA,
    GLOBAL,
    US_GOV,
    US_GOV_DOD,
    GraphClient,
    StaticTokenProvider,
    custom_cloud,
    get_cloud,
)
from ms365sync.graph.session import build_session


@pytest.mark.parametrize(
    ("name", "login", "graph"),
    [
        ("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        ("us-gov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        ("us-gov-dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
        ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_national_clouds(name: str, login: str, graph: str) -> None:
    cloud = get_cloud(name.upper())
    assert (cloud.authority_url, cloud.graph_url, cloud.scope) == (
        login,
        graph,
        f"{graph}/.default",
    )
    assert cloud.authority("contoso.onmicrosoft.com") == f"{login}/contoso.onmicrosoft.com"
    assert cloud in (GLOBAL, US_GOV, US_GOV_DOD, CHINA)


def test_unknown_cloud_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        get_cloud("mars")
    assert caught.value.key == "cloud"
    assert "global" in str(caught.value)


def test_custom_cloud_for_the_emulator(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    cloud = custom_cloud(
        authority_url="https://127.0.0.1:8443/",
        graph_url="https://127.0.0.1:8444",
        ca_bundle=bundle,
    )
    assert cloud.authority("contoso") == "https://127.0.0.1:8443/contoso"
    assert cloud.authority_host == "127.0.0.1"
    assert cloud.scope == "https://graph.microsoft.com/.default"
    assert cloud.ca_bundle == bundle


def test_custom_cloud_rejects_plain_http_and_missing_bundles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an https URL"):
        custom_cloud(authority_url="http://localhost:8443", graph_url="https://localhost:8444")
    with pytest.raises(ConfigError, match="does not exist"):
        custom_cloud(
            authority_url="https://a", graph_url="https://b", ca_bundle=tmp_path / "none.pem"
        )


def test_built_session_pins_the_bundle_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/other.pem")
    bundle = tmp_path / "ca.pem"
    session = build_session(ca_bundle=bundle, timeout=(3.0, 7.0), pool_size=32)
    with responses.RequestsMock() as rsps:
        rsps.get("https://login.example.test/x", json={})
        session.get("https://login.example.test/x")  # as MSAL calls it: no timeout, no verify
        kwargs = rsps.calls[0].request.req_kwargs  # type: ignore[attr-defined]
    assert kwargs["verify"] == str(bundle)
    assert kwargs["timeout"] == (3.0, 7.0)
    adapter = session.get_adapter("https://graph.microsoft.com")
    assert adapter._pool_maxsize == 32  # type: ignore[attr-defined]


def test_client_passes_the_bundle_to_a_caller_supplied_session(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    graph = GraphClient(
        "https://graph.example.test",
        StaticTokenProvider(),
        session=requests.Session(),
        ca_bundle=bundle,
    )
    with responses.RequestsMock() as rsps:
        rsps.get("https://graph.example.test/v1.0/drives/b!x", json={"id": "b!x"})
        graph.get_drive("b!x")
        kwargs = rsps.calls[0].request.req_kwargs  # type: ignore[attr-defined]
    assert kwargs["verify"] == str(bundle)
    assert kwargs["timeout"] == (15.0, 120.0)
