"""Token providers: the real msal library against a mocked identity platform."""

from __future__ import annotations

import base64
import datetime
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import msal
import pytest
import requests
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ms365sync.errors import AuthError, ConfigError
from ms365sync.graph import (
    GLOBAL,
    ClientCertificate,
    ClientSecret,
    MsalTokenProvider,
    StaticTokenProvider,
    custom_cloud,
)

LOGIN = "https://login.example.test"
TENANT = "contoso"
TOKEN_URL = f"{LOGIN}/{TENANT}/oauth2/v2.0/token"
OIDC_URL = f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration"
SECRET = "s3cr3t~value-that-must-not-leak"
CLOUD = custom_cloud(authority_url=LOGIN, graph_url="https://graph.example.test")


def _oidc(login: str = LOGIN) -> dict[str, str]:
    return {
        "authorization_endpoint": f"{login}/{TENANT}/oauth2/v2.0/authorize",
        "token_endpoint": f"{login}/{TENANT}/oauth2/v2.0/token",
        "issuer": f"{login}/{TENANT}/v2.0",
    }


def _token(value: str = "tok-1", expires_in: int | str = 3599) -> dict[str, Any]:
    return {"token_type": "Bearer", "expires_in": expires_in, "access_token": value}


def _provider(clock: Any = None, **options: Any) -> MsalTokenProvider:
    options.setdefault("credential", ClientSecret(SECRET))
    if clock is not None:
        options["clock"] = clock.now
    return MsalTokenProvider(
        tenant_id=TENANT, client_id="11111111-2222-3333-4444-555555555555", cloud=CLOUD, **options
    )


def _token_posts(rsps: responses.RequestsMock) -> list[Any]:
    return [call for call in rsps.calls if call.request.url == TOKEN_URL]


def test_static_provider_moves_on_only_when_forced() -> None:
    provider = StaticTokenProvider("a", "b")
    assert [provider.token(), provider.token()] == ["a", "a"]
    assert provider.token(force_refresh=True) == "b"
    assert provider.token(force_refresh=True) == "b"
    assert provider.refreshes == 2


def test_secret_credential_gets_and_caches_a_token(rsps) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token("tok-1"))
    provider = _provider()
    assert provider.token() == "tok-1"
    assert provider.token() == "tok-1"
    (post,) = _token_posts(rsps)
    form = parse_qs(post.request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://graph.microsoft.com/.default"]
    assert form["client_secret"] == [SECRET]


def test_a_custom_authority_never_calls_login_microsoftonline_com(rsps) -> None:
    # Unregistered URLs raise ConnectionError under `responses`, so a discovery call would fail.
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token())
    _provider().token()
    assert all("login.microsoftonline.com" not in call.request.url for call in rsps.calls)


def test_construction_is_lazy(rsps) -> None:
    _provider()
    assert len(rsps.calls) == 0


def test_instance_discovery_is_left_to_msal_for_known_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    class Recorder:
        def __init__(self, client_id: str, **kwargs: Any) -> None:
            seen.update(kwargs)

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            return _token()

    monkeypatch.setattr(msal, "ConfidentialClientApplication", Recorder)
    MsalTokenProvider(
        tenant_id=TENANT, client_id="c", credential=ClientSecret(SECRET), cloud=GLOBAL
    ).token()
    assert seen["instance_discovery"] is None
    assert seen["authority"] == "https://login.microsoftonline.com/contoso"
    seen.clear()
    _provider().token()
    assert seen["instance_discovery"] is False


def test_short_lived_tokens_are_renewed_before_they_expire(rsps) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token("tok-1", expires_in="200"))  # < 5 min left from the start
    rsps.post(TOKEN_URL, json=_token("tok-2", expires_in=3599))
    provider = _provider()
    assert provider.token() == "tok-1"
    assert provider.token() == "tok-2"
    assert len(_token_posts(rsps)) == 2


def test_local_cache_renews_after_the_margin(rsps, clock) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token("tok-1"))
    provider = _provider(clock)
    provider.token()
    clock.advance(3599 - 299)  # inside the 5-minute renewal margin: ask MSAL again
    provider.token()
    # MSAL's own cache (on the real clock) still holds tok-1, so no second POST is needed.
    assert len(_token_posts(rsps)) == 1


def test_force_refresh_evicts_msal_cache_once_per_burst(rsps, clock) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token("tok-1"))
    rsps.post(TOKEN_URL, json=_token("tok-2"))
    rsps.post(TOKEN_URL, json=_token("tok-3"))
    provider = _provider(clock)
    assert provider.token() == "tok-1"
    assert provider.token(force_refresh=True) == "tok-2"
    assert provider.token(force_refresh=True) == "tok-2"  # a second worker's 401 moments later
    clock.advance(60)
    assert provider.token(force_refresh=True) == "tok-3"
    assert len(_token_posts(rsps)) == 3


def test_concurrent_callers_share_one_token_request(rsps) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token("tok-1"))
    provider = _provider()
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provider.token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["tok-1"] * 8
    assert len(_token_posts(rsps)) == 1


def test_bad_secret_error_dict_becomes_auth_error_without_the_secret(rsps, load) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    body = load("10-token-error-bad-secret-401.real-2023.json")
    body["error_description"] = body["error_description"].replace(
        "Invalid client secret", f"Invalid {SECRET}"
    )
    rsps.post(TOKEN_URL, status=401, json=body)
    with pytest.raises(AuthError) as caught:
        _provider().token()
    error = caught.value
    assert error.aadsts == 7000215
    assert error.error == "invalid_client"
    assert error.exit_code == 3
    assert not error.retryable
    assert error.hint is not None
    assert "Value" in error.hint
    assert error.correlation_id == "5fc87507-4086-4e77-b415-cee677eb232e"
    text = str(error)
    assert SECRET not in text
    assert "Trace ID" not in text
    assert text.startswith(
        "authentication failed [AADSTS7000215 invalid_client]: AADSTS7000215: Invalid"
    )


@pytest.mark.parametrize(
    "name",
    [
        "10-token-error-unknown-tenant.real-2023.json",
        "10-token-error-unknown-tenant.real-2020-oldcode.json",
    ],
)
def test_unknown_tenant_at_discovery_is_an_auth_error_with_its_code(rsps, load, name: str) -> None:
    rsps.get(OIDC_URL, status=400, json=load(name))
    with pytest.raises(AuthError) as caught:
        _provider().token()
    assert caught.value.aadsts == 90002
    assert "Tenant" in str(caught.value)
    assert caught.value.hint is not None
    assert "tenant_id" in caught.value.hint


def test_unknown_app_error(rsps, load) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, status=400, json=load("10-token-error-unknown-app.real-2019-partial.json"))
    with pytest.raises(AuthError) as caught:
        _provider().token()
    assert caught.value.aadsts == 700016
    assert caught.value.error == "unauthorized_client"


def test_network_failure_is_a_retryable_auth_error(rsps) -> None:
    rsps.get(OIDC_URL, body=requests.exceptions.ConnectionError(f"refused client_secret={SECRET}"))
    with pytest.raises(AuthError) as caught:
        _provider().token()
    assert caught.value.retryable
    assert SECRET not in str(caught.value)
    assert "cannot reach the identity platform" in str(caught.value)
    # The next call tries again instead of caching the failure.
    rsps.replace(responses.GET, OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token("tok-1"))
    assert _provider().token() == "tok-1"


def test_server_error_raised_by_msal_is_retryable(rsps) -> None:
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(
        TOKEN_URL,
        status=503,
        json={"error": "temporarily_unavailable", "error_description": "busy"},
    )
    with pytest.raises(AuthError) as caught:
        _provider().token()
    assert caught.value.retryable


def _certificate(tmp_path: Path, *, with_cert: bool = True) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ms365sync-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    if with_cert:
        pem += cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "app.pem"
    path.write_bytes(pem)
    return path, cert.fingerprint(hashes.SHA1()).hex().upper()


def _jwt_header(assertion: str) -> dict[str, Any]:
    segment = assertion.split(".", maxsplit=1)[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_certificate_thumbprint_is_computed_from_the_pem(rsps, tmp_path: Path) -> None:
    path, thumbprint = _certificate(tmp_path)
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token())
    _provider(credential=ClientCertificate(private_key_path=path)).token()
    form = parse_qs(_token_posts(rsps)[0].request.body)
    assert "client_secret" not in form
    header = _jwt_header(form["client_assertion"][0])
    assert header["x5t"].rstrip("=") == base64.urlsafe_b64encode(
        bytes.fromhex(thumbprint)
    ).decode().rstrip("=")
    assert header["alg"] == "RS256"


def test_given_thumbprint_is_normalised(rsps, tmp_path: Path) -> None:
    path, thumbprint = _certificate(tmp_path, with_cert=False)
    spaced = ":".join(thumbprint[i : i + 2] for i in range(0, 40, 2)).lower()
    rsps.get(OIDC_URL, json=_oidc())
    rsps.post(TOKEN_URL, json=_token())
    _provider(credential=ClientCertificate(private_key_path=path, thumbprint=spaced)).token()
    form = parse_qs(_token_posts(rsps)[0].request.body)
    header = _jwt_header(form["client_assertion"][0])
    assert header["x5t"].rstrip("=") == base64.urlsafe_b64encode(
        bytes.fromhex(thumbprint)
    ).decode().rstrip("=")


def test_certificate_problems_are_config_errors(rsps, tmp_path: Path) -> None:
    path, _ = _certificate(tmp_path, with_cert=False)
    with pytest.raises(ConfigError, match="no certificate to compute it from"):
        _provider(credential=ClientCertificate(private_key_path=path)).token()
    with pytest.raises(ConfigError, match="certificate_thumbprint: not a thumbprint"):
        _provider(credential=ClientCertificate(private_key_path=path, thumbprint="abc")).token()
    with pytest.raises(ConfigError, match="certificate_path: cannot read it"):
        _provider(credential=ClientCertificate(private_key_path=tmp_path / "missing.pem")).token()
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="not a PEM file"):
        _provider(
            credential=ClientCertificate(
                private_key_path=tmp_path / "junk.pem", thumbprint="A" * 40
            )
        ).token()


def test_credentials_do_not_show_secrets_in_repr(tmp_path: Path) -> None:
    assert SECRET not in repr(ClientSecret(SECRET))
    assert "pass-phrase" not in repr(
        ClientCertificate(tmp_path / "k.pem", passphrase="pass-phrase")
    )
