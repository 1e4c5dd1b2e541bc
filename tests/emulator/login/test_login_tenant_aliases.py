"""Tenant aliases as Entra resolves them: `common` and `organizations` in discovery (issuer
template, alias kept in the endpoints) and refused for client credentials (AADSTS50059), a
domain name standing for its tenant, MSAL on both."""

from __future__ import annotations

import msal
import pytest
import requests

from ms365sync.emulator.transport.pipeline import EmulatorApp
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_fakes import (
    APP_ID,
    DOMAIN,
    GRAPH_SCOPE,
    SECRET,
    TENANT_ID,
    body_json,
    call,
)

LOGIN = "login.microsoftonline.com"
DISCOVERY = "/v2.0/.well-known/openid-configuration"
FORM = [("Content-Type", "application/x-www-form-urlencoded")]
CREDENTIALS = (
    f"grant_type=client_credentials&client_id={APP_ID}&client_secret={SECRET}"
    "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
).encode()


@pytest.mark.parametrize("alias", ["common", "organizations", "Common"])
def test_discovery_on_an_alias_keeps_it_and_templates_the_issuer(
    app: EmulatorApp, alias: str
) -> None:
    response = call(app, "GET", f"/{alias}{DISCOVERY}", host=LOGIN)
    assert response.status == 200
    document = body_json(response)
    base = f"https://{LOGIN}/{alias.lower()}"
    assert document["issuer"] == f"https://{LOGIN}/{{tenantid}}/v2.0"
    assert document["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert document["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert document["tenant_region_scope"] is None


@pytest.mark.parametrize("tenant", [DOMAIN, DOMAIN.upper(), TENANT_ID])
def test_discovery_by_domain_names_the_tenant_guid(app: EmulatorApp, tenant: str) -> None:
    document = body_json(call(app, "GET", f"/{tenant}{DISCOVERY}", host=LOGIN))
    assert document["issuer"] == f"https://{LOGIN}/{TENANT_ID}/v2.0"
    assert document["token_endpoint"] == f"https://{LOGIN}/{TENANT_ID}/oauth2/v2.0/token"
    assert document["tenant_region_scope"] == "WW"


def test_consumers_and_other_domains_are_unknown_tenants(app: EmulatorApp) -> None:
    for tenant in ("consumers", "fabrikam.onmicrosoft.com"):
        response = call(app, "GET", f"/{tenant}{DISCOVERY}", host=LOGIN)
        assert response.status == 400
        assert body_json(response)["error_codes"] == [90002]


@pytest.mark.parametrize("alias", ["common", "organizations"])
def test_client_credentials_on_an_alias_is_refused_as_entra_does(
    app: EmulatorApp, alias: str
) -> None:
    headers = [*FORM, ("client-request-id", "c0ffee00-0000-4000-8000-000000000001")]
    response = call(
        app, "POST", f"/{alias}/oauth2/v2.0/token", host=LOGIN, headers=headers, body=CREDENTIALS
    )
    assert response.status == 400
    body = body_json(response)
    assert set(body) == {
        *("error", "error_description", "error_codes", "timestamp"),
        *("trace_id", "correlation_id", "error_uri"),
    }
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [50059]
    assert body["error_description"].startswith(
        "AADSTS50059: No tenant-identifying information found in either the request or "
        "implied by any provided credentials.\r\nTrace ID: "
    )
    assert body["correlation_id"] == "c0ffee00-0000-4000-8000-000000000001"
    assert f"Correlation ID: {body['correlation_id']}" in body["error_description"]


def test_client_credentials_by_domain_name(app: EmulatorApp) -> None:
    response = call(
        app, "POST", f"/{DOMAIN}/oauth2/v2.0/token", host=LOGIN, headers=FORM, body=CREDENTIALS
    )
    assert response.status == 200
    token = body_json(response)["access_token"]
    assert call(app, "GET", "/v1.0/me", token=token).status == 200


def _msal(authority: str, session: requests.Session) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        APP_ID,
        client_credential=SECRET,
        authority=authority,
        instance_discovery=False,
        http_client=session,
    )


def test_msal_client_credentials_with_a_domain_authority(
    server: EmulatorServer, https: requests.Session, app: EmulatorApp
) -> None:
    result = _msal(f"{server.base_url}/{DOMAIN}", https).acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    assert call(app, "GET", "/v1.0/me", token=result["access_token"]).status == 200


def test_msal_client_credentials_on_common_fails_as_entra(
    server: EmulatorServer, https: requests.Session
) -> None:
    cca = _msal(f"{server.base_url}/common", https)
    with pytest.warns(DeprecationWarning, match="/common or /organizations"):
        result = cca.acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" not in result
    assert result["error"] == "invalid_request"
    assert result["error_codes"] == [50059]
