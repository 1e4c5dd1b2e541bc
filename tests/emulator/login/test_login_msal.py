"""MSAL Python 1.39 acquiring app-only tokens from the emulator, over HTTPS and in-process."""

from __future__ import annotations

import msal
import pytest
import requests

from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import (
    APP_ID,
    CERT_APP_ID,
    DOMAIN,
    GRAPH_SCOPE,
    SECRET,
    TENANT_ID,
    Certificate,
    body_json,
    call,
)


def client(
    authority: str, session: requests.Session, credential: object, client_id: str = APP_ID
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=authority,
        instance_discovery=False,
        http_client=session,
    )


def assert_graph_accepts(app: EmulatorApp, result: dict[str, object]) -> None:
    token = result["access_token"]
    assert isinstance(token, str)
    response = call(app, "GET", "/v1.0/me", token=token)
    assert response.status == 200, body_json(response)


def test_secret_over_https(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    cca = client(f"{server.base_url}/{DOMAIN}", https, SECRET)
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3599
    assert result["token_source"] == "identity_provider"
    assert_graph_accepts(app, result)
    again = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert again["token_source"] == "cache"


def test_certificate_over_https(
    server: EmulatorServer,
    https: requests.Session,
    app: EmulatorApp,
    certificate: Certificate,
) -> None:
    credential = {"private_key": certificate.key_pem, "thumbprint": certificate.sha1_hex}
    cca = client(f"{server.base_url}/{TENANT_ID}", https, credential, CERT_APP_ID)
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    assert_graph_accepts(app, result)


def test_certificate_with_sha256_thumbprint_over_https(
    server: EmulatorServer, https: requests.Session, certificate: Certificate
) -> None:
    credential = {
        "private_key": certificate.key_pem,
        "public_certificate": certificate.cert_pem.decode(),
    }
    cca = client(f"{server.base_url}/{TENANT_ID}", https, credential, CERT_APP_ID)
    assert "access_token" in cca.acquire_token_for_client([GRAPH_SCOPE])


def test_unregistered_certificate_is_refused(
    server: EmulatorServer, https: requests.Session, unregistered_certificate: Certificate
) -> None:
    credential = {
        "private_key": unregistered_certificate.key_pem,
        "thumbprint": unregistered_certificate.sha1_hex,
    }
    cca = client(f"{server.base_url}/{TENANT_ID}", https, credential, CERT_APP_ID)
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]


def test_bad_secret_over_https(server: EmulatorServer, https: requests.Session) -> None:
    cca = client(f"{server.base_url}/{TENANT_ID}", https, "not-the-secret")
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client"
    assert "AADSTS7000215" in result["error_description"]
    assert result["error_codes"] == [7000215]
    assert "access_token" not in result


def test_unknown_tenant_fails_at_construction(
    server: EmulatorServer, https: requests.Session
) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        client(f"{server.base_url}/nowhere.example", https, SECRET)


def test_unknown_app_over_https(server: EmulatorServer, https: requests.Session) -> None:
    cca = client(f"{server.base_url}/{TENANT_ID}", https, SECRET, "ffffffff-0000-0000-0000-0000")
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]


def test_in_process_on_the_public_cloud_authority(
    inprocess: requests.Session, app: EmulatorApp
) -> None:
    # Default options: MSAL fetches the OIDC document from login.microsoftonline.com, which
    # the adapter answers, and on error it would also call /common/discovery/instance.
    cca = msal.ConfidentialClientApplication(
        APP_ID,
        client_credential=SECRET,
        authority=f"https://login.microsoftonline.com/{DOMAIN}",
        http_client=inprocess,
    )
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert_graph_accepts(app, result)


def test_in_process_bad_secret_goes_through_instance_discovery(
    inprocess: requests.Session,
) -> None:
    cca = msal.ConfidentialClientApplication(
        APP_ID,
        client_credential="wrong",
        authority=f"https://login.microsoftonline.com/{TENANT_ID}",
        http_client=inprocess,
    )
    result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]


def test_in_process_custom_host_needs_instance_discovery_off(
    inprocess: requests.Session,
) -> None:
    # As against the real service: login.microsoftonline.com does not know this instance.
    with pytest.raises(ValueError, match="invalid_instance"):
        msal.ConfidentialClientApplication(
            APP_ID,
            client_credential=SECRET,
            authority=f"https://emulator.localhost:8443/{TENANT_ID}",
            http_client=inprocess,
        )
    cca = client(f"https://emulator.localhost:8443/{TENANT_ID}", inprocess, SECRET)
    assert "access_token" in cca.acquire_token_for_client([GRAPH_SCOPE])
