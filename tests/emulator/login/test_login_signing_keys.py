"""The discovery document's `jwks_uri` serves the public key the emulator's tokens are RS256
signed with, under the `kid` their header names; a token altered after signing is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ms365sync.emulator.transport.pipeline import EmulatorApp
from support.emulator_fakes import DOMAIN, body_json, call, issue_token

LOGIN = "login.microsoftonline.com"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    n, e = (int.from_bytes(_b64(jwk[k]), "big") for k in ("n", "e"))
    return rsa.RSAPublicNumbers(e, n).public_key()


def _keys_via_discovery(app: EmulatorApp, tenant: str) -> dict[str, Any]:
    document = body_json(call(app, "GET", f"/{tenant}/v2.0/.well-known/openid-configuration",
                              host=LOGIN))  # fmt: skip
    path = document["jwks_uri"].removeprefix(f"https://{LOGIN}")
    response = call(app, "GET", path, host=LOGIN)
    assert response.status == 200
    keys: dict[str, Any] = body_json(response)
    return keys


@pytest.mark.parametrize("tenant", [DOMAIN, "common"])
def test_tokens_verify_with_the_published_key(app: EmulatorApp, tenant: str) -> None:
    keys = _keys_via_discovery(app, tenant)["keys"]
    assert [k["kty"] for k in keys] == ["RSA"] and keys[0]["use"] == "sig"
    token = issue_token(app)
    header_part, claims_part, signature = token.split(".")
    header = json.loads(_b64(header_part))
    assert header["alg"] == "RS256"
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    _public_key(jwk).verify(
        _b64(signature),
        f"{header_part}.{claims_part}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_an_altered_token_fails_verification_and_graph(app: EmulatorApp) -> None:
    header_part, claims_part, signature = issue_token(app).split(".")
    claims = json.loads(_b64(claims_part))
    claims["roles"] = ["Sites.FullControl.All"]
    forged_claims = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    jwk = _keys_via_discovery(app, DOMAIN)["keys"][0]
    with pytest.raises(InvalidSignature):
        _public_key(jwk).verify(
            _b64(signature),
            f"{header_part}.{forged_claims}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    forged = f"{header_part}.{forged_claims}.{signature}"
    response = call(app, "GET", "/v1.0/me", token=forged)
    assert response.status == 401
    assert body_json(response)["error"]["code"] == "InvalidAuthenticationToken"


def test_each_emulator_has_its_own_key(make_app: Any) -> None:
    first, second = make_app(), make_app()
    assert first.tokens.jwks() != second.tokens.jwks()
    assert call(second, "GET", "/v1.0/me", token=issue_token(first)).status == 401


def test_keys_of_an_unknown_tenant(app: EmulatorApp) -> None:
    response = call(app, "GET", "/fabrikam.com/discovery/v2.0/keys", host=LOGIN)
    assert response.status == 400
    assert body_json(response)["error_codes"] == [90002]
