"""The v1 token endpoint `/{tenant}/oauth2/token`: client credentials with `resource=`,
answered with v1 fields (strings, `resource` echoed) and a token whose `aud` is the resource."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from ms365sync.emulator.transport.http import Response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import APP_ID, DOMAIN, SECRET, TENANT_ID, body_json, call

LOGIN = "login.microsoftonline.com"
FORM = [("Content-Type", "application/x-www-form-urlencoded")]
GRAPH = "https://graph.microsoft.com"


def claims_of(access_token: str) -> dict[str, Any]:
    part = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def post_v1(app: EmulatorApp, tenant: str, **fields: str) -> Response:
    form = {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": SECRET}
    body = urlencode({**form, **fields}).encode()
    return call(app, "POST", f"/{tenant}/oauth2/token", host=LOGIN, headers=FORM, body=body)


@pytest.mark.parametrize("resource", [GRAPH, f"{GRAPH}/"])
@pytest.mark.parametrize("tenant", [TENANT_ID, DOMAIN])
def test_v1_client_credentials(app: EmulatorApp, resource: str, tenant: str) -> None:
    now = int(app.clock.now())
    response = post_v1(app, tenant, resource=resource)
    assert response.status == 200
    body = body_json(response)
    assert list(body) == [
        *("token_type", "expires_in", "ext_expires_in", "expires_on", "not_before"),
        *("resource", "access_token"),
    ]
    assert body["token_type"] == "Bearer" and body["resource"] == resource
    assert body["expires_in"] == "3599" and body["not_before"] == str(now)
    assert body["expires_on"] == str(now + 3599)
    claims = claims_of(body["access_token"])
    assert claims["aud"] == resource and claims["ver"] == "1.0"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert call(app, "GET", "/v1.0/me", token=body["access_token"]).status == 200


def test_v1_errors(app: EmulatorApp) -> None:
    unknown = body_json(post_v1(app, TENANT_ID, resource="https://example.com"))
    assert (unknown["error"], unknown["error_codes"]) == ("invalid_resource", [500011])
    missing = body_json(post_v1(app, TENANT_ID))
    assert missing["error_codes"] == [900144] and "'resource'" in missing["error_description"]
    common = body_json(post_v1(app, "common", resource=GRAPH))
    assert common["error_codes"] == [50059]
    refresh = body_json(post_v1(app, TENANT_ID, grant_type="refresh_token", resource=GRAPH))
    assert (refresh["error"], refresh["error_codes"]) == ("unsupported_grant_type", [70003])
    wrong = post_v1(app, TENANT_ID, resource=GRAPH, client_secret="x")
    assert wrong.status == 401 and body_json(wrong)["error_codes"] == [7000215]
