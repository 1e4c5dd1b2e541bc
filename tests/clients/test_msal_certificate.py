"""MSAL, unmodified, signing in with a certificate (a client assertion) on the public login
host, and the token it gets working on graph.microsoft.com: both through the proxy."""

from __future__ import annotations

import msal
import pytest
import requests

from ms365sync.emulator.login.keys import make_app_certificate
from support.clients import Served

pytestmark = pytest.mark.clients

GRAPH = "https://graph.microsoft.com"


def test_msal_with_a_certificate_credential(served: Served) -> None:
    certificate = make_app_certificate("clients-test")
    served.emulator.registration.certificates.append(certificate.cert_pem)
    creds = served.emulator.credentials
    app = msal.ConfidentialClientApplication(
        creds.client_id,
        authority=f"https://login.microsoftonline.com/{creds.tenant_id}",
        client_credential={
            "private_key": certificate.key_pem.decode(),
            "thumbprint": certificate.thumbprint,
        },
    )
    result = app.acquire_token_for_client(scopes=[f"{GRAPH}/.default"])
    assert "access_token" in result, result
    site = next(iter(served.emulator.tenant.sites.values()))
    with requests.Session() as session:  # the proxy and CA come from the environment
        answer = session.get(
            f"{GRAPH}/v1.0/sites/{site.hostname}:{site.path}",
            headers={"Authorization": f"Bearer {result['access_token']}"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["webUrl"] == site.web_url
