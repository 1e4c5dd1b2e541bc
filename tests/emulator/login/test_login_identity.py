"""Contract tests of the login service against the real captures in samples/10-*."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import hashes

from ms365sync.emulator.login.assertion import JWT_BEARER
from ms365sync.emulator.login.tokens import b64url_decode
from ms365sync.emulator.transport.http import Response
from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import (
    APP_ID,
    CERT_APP_ID,
    DOMAIN,
    GRAPH_SCOPE,
    NO_ROLES_APP_ID,
    SECRET,
    TENANT_ID,
    Certificate,
    body_json,
    call,
    sample,
)

LOGIN = "login.microsoftonline.com"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$")
DESCRIPTION = re.compile(
    r"^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}"
    r"\r\nTimestamp: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$",
    re.DOTALL,
)


def token_request(
    app: EmulatorApp, form: dict[str, str], *, tenant: str = TENANT_ID, **kwargs: Any
) -> Response:
    headers = [("Content-Type", "application/x-www-form-urlencoded"), *kwargs.pop("headers", [])]
    body = urlencode(form).encode()
    path = f"/{tenant}/oauth2/v2.0/token"
    return call(app, "POST", path, host=LOGIN, headers=headers, body=body, **kwargs)


def secret_form(**overrides: str) -> dict[str, str]:
    form = {
        "client_id": APP_ID,
        "grant_type": "client_credentials",
        "client_info": "1",
        "client_secret": SECRET,
        "scope": GRAPH_SCOPE,
    }
    form.update(overrides)
    return form


def assert_identity_error(response: Response, status: int, error: str, code: int) -> dict[str, Any]:
    """The body has exactly the real error body's keys, types and formats."""
    assert response.status == status
    body: dict[str, Any] = body_json(response)
    reference = sample("10-token-error-bad-secret-401.real-2023.json")
    assert set(body) == set(reference)
    assert body["error"] == error
    assert body["error_codes"] == [code]
    match = DESCRIPTION.match(body["error_description"])
    assert match is not None
    assert match.group(1) == str(code)
    assert TIMESTAMP.match(body["timestamp"])
    assert body["error_description"].endswith(body["timestamp"])
    assert body["trace_id"] in body["error_description"]
    assert body["correlation_id"] in body["error_description"]
    uuid.UUID(body["trace_id"])
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    assert response.headers.get("Content-Type", "").startswith("application/json")
    return body


def claims_of(token: str) -> dict[str, Any]:
    header, claims, signature = token.split(".")
    assert b64url_decode(signature)
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    assert decoded == json.loads(b64url_decode(claims))
    assert json.loads(b64url_decode(header))["typ"] == "JWT"
    return decoded


def test_openid_configuration_matches_the_real_document(app: EmulatorApp) -> None:
    response = call(app, "GET", f"/{DOMAIN}/v2.0/.well-known/openid-configuration", host=LOGIN)
    assert response.status == 200
    assert response.headers.get("Cache-Control") == "max-age=86400, private"
    document = body_json(response)
    reference = sample("10-openid-configuration-v2.real-recording.json")
    assert list(document) == list(reference)
    for key, value in reference.items():
        assert type(document[key]) is type(value), key
    # Endpoints on the request's origin, with the tenant GUID although a domain was asked for.
    assert document["token_endpoint"] == f"https://{LOGIN}/{TENANT_ID}/oauth2/v2.0/token"
    assert document["authorization_endpoint"].startswith(f"https://{LOGIN}/{TENANT_ID}/")
    assert document["issuer"] == f"https://{LOGIN}/{TENANT_ID}/v2.0"
    assert document["msgraph_host"] == "graph.microsoft.com"


def test_openid_configuration_on_loopback_points_back_at_the_emulator(app: EmulatorApp) -> None:
    response = call(
        app, "GET", f"/{TENANT_ID}/v2.0/.well-known/openid-configuration", host="127.0.0.1:8443"
    )
    document = body_json(response)
    assert document["token_endpoint"] == f"https://127.0.0.1:8443/{TENANT_ID}/oauth2/v2.0/token"
    assert document["msgraph_host"] == "127.0.0.1:8443"


def test_openid_configuration_of_an_unknown_tenant(app: EmulatorApp) -> None:
    response = call(
        app, "GET", "/nowhere.example/v2.0/.well-known/openid-configuration", host=LOGIN
    )
    body = assert_identity_error(response, 400, "invalid_tenant", 90002)
    assert "Tenant 'nowhere.example' not found" in body["error_description"]


def test_instance_discovery_matches_the_recording(app: EmulatorApp) -> None:
    query = urlencode(
        {
            "api-version": "1.1",
            "authorization_endpoint": f"https://{LOGIN}/{TENANT_ID}/oauth2/authorize",
        }
    )
    response = call(app, "GET", f"/common/discovery/instance?{query}", host=LOGIN)
    assert response.status == 200
    body = body_json(response)
    reference = sample("10-instance-discovery.real-recording.json")
    assert set(body) == set(reference)
    assert body["metadata"] == reference["metadata"]
    assert body["tenant_discovery_endpoint"] == (
        f"https://{LOGIN}/{TENANT_ID}/v2.0/.well-known/openid-configuration"
    )


def test_instance_discovery_refuses_hosts_it_does_not_know(app: EmulatorApp) -> None:
    query = urlencode({"authorization_endpoint": "https://localhost/contoso/oauth2/v2.0/authorize"})
    response = call(app, "GET", f"/common/discovery/instance?{query}", host=LOGIN)
    assert_identity_error(response, 400, "invalid_instance", 50049)


def test_secret_in_the_body_gets_a_token(app: EmulatorApp) -> None:
    response = token_request(app, secret_form())
    assert response.status == 200
    assert response.headers.get("Cache-Control") == "no-store, no-cache"
    body = body_json(response)
    assert list(body) == ["token_type", "expires_in", "ext_expires_in", "access_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    claims = claims_of(body["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["appid"] == APP_ID
    assert claims["tid"] == TENANT_ID
    assert claims["idtyp"] == "app"
    assert claims["roles"] == ["Sites.Read.All"]
    assert claims["exp"] - claims["iat"] == 3599
    assert {"iss", "nbf", "oid", "uti"} <= set(claims)


def test_secret_via_http_basic(app: EmulatorApp) -> None:
    basic = base64.b64encode(f"{APP_ID}:{SECRET}".encode()).decode()
    form = secret_form()
    del form["client_secret"], form["client_id"]
    response = token_request(app, form, headers=[("Authorization", f"Basic {basic}")])
    assert response.status == 200


def test_configured_token_lifetime(make_app: Any) -> None:
    app = make_app(token_lifetime_s=120)
    assert body_json(token_request(app, secret_form()))["expires_in"] == 120


def test_wrong_secret_is_the_real_401(app: EmulatorApp) -> None:
    response = token_request(
        app, secret_form(client_secret="wrong"), headers=[("client-request-id", str(uuid.uuid4()))]
    )
    body = assert_identity_error(response, 401, "invalid_client", 7000215)
    reference = sample("10-token-error-bad-secret-401.real-2023.json")
    reference_message = reference["error_description"].split("\r\n")[0]
    expected = reference_message.replace("a8fdfbd0-da97-42d9-8f1a-fd6a7cb650b4", APP_ID)
    assert body["error_description"].split("\r\n")[0] == expected
    # The identity platform uses the client's client-request-id as its correlation id.
    assert body["correlation_id"] == response.headers.get("client-request-id")


UNKNOWN_APP = "ffffffff-0000-0000-0000-000000000000"
TOKEN_ERRORS = {
    "unknown app": (
        secret_form(client_id=UNKNOWN_APP),
        TENANT_ID,
        400,
        "unauthorized_client",
        700016,
    ),
    "unknown tenant": (secret_form(), "unknown.example", 400, "invalid_tenant", 90002),
    "foreign scope": (
        secret_form(scope="https://foo.example/.default"),
        TENANT_ID,
        400,
        "invalid_scope",
        70011,
    ),
    "static scope": (
        secret_form(scope=f"{GRAPH_SCOPE[:-9]}/Files.Read"),
        TENANT_ID,
        400,
        "invalid_scope",
        70011,
    ),
    "no credential": (secret_form(client_secret=""), TENANT_ID, 401, "invalid_client", 7000216),
    "bad grant": (
        secret_form(grant_type="password"),
        TENANT_ID,
        400,
        "unsupported_grant_type",
        70003,
    ),
    "no grant": (secret_form(grant_type=""), TENANT_ID, 400, "invalid_request", 900144),
}


@pytest.mark.parametrize("case", list(TOKEN_ERRORS))
def test_token_errors(app: EmulatorApp, case: str) -> None:
    form, tenant, status, error, code = TOKEN_ERRORS[case]
    assert_identity_error(token_request(app, form, tenant=tenant), status, error, code)


def test_unknown_app_message_names_app_and_directory(app: EmulatorApp) -> None:
    body = body_json(token_request(app, secret_form(client_id=UNKNOWN_APP), tenant=DOMAIN))
    reference = sample("10-token-error-unknown-app.real-2019-partial.json")
    assert body["error"] == reference["error"]
    assert (
        f"Application with identifier '{UNKNOWN_APP}' was not found in the directory '{DOMAIN}'"
        in (body["error_description"])
    )


@pytest.mark.parametrize(
    "scope",
    [
        "https://graph.microsoft.us/.default",
        "https://microsoftgraph.chinacloudapi.cn/.default",
        "https://127.0.0.1:8443/.default",
        "00000003-0000-0000-c000-000000000000/.default",
    ],
)
def test_other_graph_scopes_are_accepted(app: EmulatorApp, scope: str) -> None:
    assert token_request(app, secret_form(scope=scope)).status == 200


def test_token_endpoint_wants_post(app: EmulatorApp) -> None:
    response = call(app, "GET", f"/{TENANT_ID}/oauth2/v2.0/token", host=LOGIN)
    assert_identity_error(response, 400, "invalid_request", 900561)


def test_app_without_roles_gets_a_token_without_roles(app: EmulatorApp) -> None:
    body = body_json(
        token_request(app, secret_form(client_id=NO_ROLES_APP_ID, client_secret="none"))
    )
    assert "roles" not in claims_of(body["access_token"])


# -- certificate credentials ---------------------------------------------------------------


def assertion(
    cert: Certificate,
    *,
    audience: str = f"https://{LOGIN}/{TENANT_ID}/oauth2/v2.0/token",
    issuer: str = CERT_APP_ID,
    expires_in: int = 600,
    algorithm: str = "RS256",
    thumbprint_header: str = "x5t",
) -> str:
    now = time.time()
    if thumbprint_header == "x5t":
        thumbprint = bytes.fromhex(cert.sha1_hex)
    else:
        thumbprint = cert.cert.fingerprint(hashes.SHA256())
    headers = {thumbprint_header: base64.urlsafe_b64encode(thumbprint).decode()}
    claims = {
        "aud": audience,
        "iss": issuer,
        "sub": issuer,
        "exp": now + expires_in,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, cert.key_pem, algorithm=algorithm, headers=headers)


def assertion_form(signed: str) -> dict[str, str]:
    return {
        "client_id": CERT_APP_ID,
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": signed,
        "scope": GRAPH_SCOPE,
    }


@pytest.mark.parametrize(("algorithm", "header"), [("RS256", "x5t"), ("PS256", "x5t#S256")])
def test_certificate_assertion_gets_a_token(
    app: EmulatorApp, certificate: Certificate, algorithm: str, header: str
) -> None:
    signed = assertion(certificate, algorithm=algorithm, thumbprint_header=header)
    response = token_request(app, assertion_form(signed))
    assert response.status == 200
    claims = claims_of(body_json(response)["access_token"])
    assert claims["appid"] == CERT_APP_ID
    assert claims["appidacr"] == "2"


def test_assertion_signed_by_an_unregistered_key(
    app: EmulatorApp, unregistered_certificate: Certificate
) -> None:
    response = token_request(app, assertion_form(assertion(unregistered_certificate)))
    body = assert_identity_error(response, 401, "invalid_client", 700027)
    assert "The key was not found" in body["error_description"]


def test_assertion_with_a_forged_signature(
    app: EmulatorApp, certificate: Certificate, unregistered_certificate: Certificate
) -> None:
    genuine = assertion(certificate).split(".")
    forged = assertion(unregistered_certificate).split(".")
    tampered = ".".join([genuine[0], genuine[1], forged[2]])
    response = token_request(app, assertion_form(tampered))
    body = assert_identity_error(response, 401, "invalid_client", 700027)
    assert "did not match" in body["error_description"]


def test_assertion_for_another_audience(app: EmulatorApp, certificate: Certificate) -> None:
    signed = assertion(certificate, audience="https://login.example/token")
    assert token_request(app, assertion_form(signed)).status == 401


def test_expired_assertion(app: EmulatorApp, certificate: Certificate) -> None:
    signed = assertion(certificate, expires_in=-3600)
    assert_identity_error(token_request(app, assertion_form(signed)), 401, "invalid_client", 700024)


def test_assertion_issued_for_another_app(app: EmulatorApp, certificate: Certificate) -> None:
    signed = assertion(certificate, issuer=APP_ID)
    assert_identity_error(token_request(app, assertion_form(signed)), 401, "invalid_client", 700021)


def test_malformed_assertion(app: EmulatorApp) -> None:
    assert_identity_error(
        token_request(app, assertion_form("not.a-jwt")), 401, "invalid_client", 50027
    )
