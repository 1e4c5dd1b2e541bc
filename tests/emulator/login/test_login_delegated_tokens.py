"""Delegated tokens: a pair minted for a tenant user carries `scp`, the user's `oid` and
`idtyp` user and works on Graph; the refresh_token grant rotates refresh tokens (the old one
stays valid until it expires, as Entra's), and an expired one gets 400 invalid_grant
AADSTS70008 in Entra's error shape, driven by the emulator's clock."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import msal
import pytest
import requests

from ms365sync.emulator.login.delegated import RCLONE_CLIENT_ID, REFRESH_LIFETIME_S
from support.emulator_directory_world import DOMAIN, GRAPH, LOGIN, DirectoryWorld, make_world

AMY = f"amy@{DOMAIN}"
TOKEN_URL = f"{LOGIN}/common/oauth2/v2.0/token"
SALES = "/sites/contoso.sharepoint.com:/sites/sales"


@pytest.fixture
def world() -> DirectoryWorld:
    return make_world()


def claims_of(access_token: str) -> dict[str, Any]:
    part = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def mint(world: DirectoryWorld, **kwargs: Any) -> dict[str, Any]:
    identity = world.emulator.app.identity
    return identity.mint_delegated(world.tenant.user(AMY), **kwargs)


def refresh(
    world: DirectoryWorld,
    refresh_token: str,
    *,
    client_id: str = RCLONE_CLIENT_ID,
    secret: str | None = "rclone-built-in-secret",
    url: str = TOKEN_URL,
) -> requests.Response:
    """What rclone sends: its client id and secret as HTTP Basic, the refresh token."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    auth = (client_id, secret) if secret is not None else None
    if secret is None:
        form["client_id"] = client_id
    headers = {"Content-Type": "application/x-www-form-urlencoded", "client-request-id": "c-1"}
    return world.session.post(url, data=urlencode(form), auth=auth, headers=headers)


def graph_get(world: DirectoryWorld, path: str, access_token: str) -> requests.Response:
    return world.session.get(GRAPH + path, headers={"Authorization": f"Bearer {access_token}"})


def test_a_minted_pair_is_a_users_delegated_token(world: DirectoryWorld) -> None:
    pair = mint(world)
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 3599
    assert pair["expiry"].endswith("Z") and pair["refresh_token"]
    claims = claims_of(pair["access_token"])
    amy = world.tenant.user(AMY)
    assert claims["idtyp"] == "user" and claims["oid"] == amy.id
    assert claims["appid"] == RCLONE_CLIENT_ID and claims["appidacr"] == "0"
    assert claims["upn"] == AMY and "roles" not in claims
    assert claims["scp"].split() == [
        *("Files.Read", "Files.ReadWrite", "Files.Read.All", "Files.ReadWrite.All"),
        "Sites.Read.All",
    ]


def test_graph_serves_a_delegated_token(world: DirectoryWorld) -> None:
    pair = mint(world)
    response = graph_get(world, SALES, pair["access_token"])
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "Sales"


def test_a_delegated_token_without_site_scopes_is_denied(world: DirectoryWorld) -> None:
    pair = mint(world, scopes=["User.Read", "offline_access"])
    assert claims_of(pair["access_token"])["scp"] == "User.Read"
    response = graph_get(world, SALES, pair["access_token"])
    assert response.status_code == 403


def test_refresh_rotates_and_the_old_token_stays_valid(world: DirectoryWorld) -> None:
    first = mint(world)
    world.emulator.app.clock.advance(3600)  # the access token has expired
    assert graph_get(world, SALES, first["access_token"]).status_code == 401
    response = refresh(world, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store, no-cache"
    second = response.json()
    assert set(second) == {
        *("token_type", "scope", "expires_in", "ext_expires_in"),
        *("access_token", "refresh_token"),
    }
    assert second["refresh_token"] != first["refresh_token"]
    claims = claims_of(second["access_token"])
    assert claims["oid"] == world.tenant.user(AMY).id and claims["idtyp"] == "user"
    assert graph_get(world, SALES, second["access_token"]).status_code == 200
    # Entra does not revoke a redeemed refresh token; it lives until its own expiry.
    assert refresh(world, first["refresh_token"]).status_code == 200


def test_rotation_slides_the_lifetime(world: DirectoryWorld) -> None:
    clock = world.emulator.app.clock
    token = mint(world)["refresh_token"]
    for _ in range(3):  # 3 x 60 days: more than one lifetime, each step inside one
        clock.advance(60 * 86400)
        response = refresh(world, token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]


def test_an_expired_refresh_token_is_aadsts70008(world: DirectoryWorld) -> None:
    token = mint(world)["refresh_token"]
    world.emulator.app.clock.advance(REFRESH_LIFETIME_S)
    response = refresh(world, token)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [
        *("error", "error_description", "error_codes", "timestamp"),
        *("trace_id", "correlation_id", "error_uri"),
    ]
    assert body["error"] == "invalid_grant"
    assert body["error_codes"] == [70008]
    description = body["error_description"]
    assert description.startswith(
        "AADSTS70008: The provided authorization code or refresh token has expired due to "
        "inactivity. Send a new interactive authorization request for this user and resource."
        "\r\nTrace ID: "
    )
    assert f"\r\nCorrelation ID: c-1\r\nTimestamp: {body['timestamp']}" in description
    assert body["correlation_id"] == "c-1"
    assert body["trace_id"] in description


def test_the_refresh_lifetime_is_configurable(world: DirectoryWorld) -> None:
    world.emulator.app.identity.refresh.lifetime_s = 86400  # an SPA's 24 hours
    token = mint(world)["refresh_token"]
    world.emulator.app.clock.advance(86400)
    assert refresh(world, token).json()["error_codes"] == [70008]


@pytest.mark.parametrize("tenant", ["organizations", DOMAIN])
def test_refresh_on_other_authorities_and_a_public_client(
    world: DirectoryWorld, tenant: str
) -> None:
    token = mint(world, client_id="0c0c0c0c-0000-4000-8000-00000000c11e")["refresh_token"]
    url = f"{LOGIN}/{tenant}/oauth2/v2.0/token"
    response = refresh(world, token, client_id="0c0c0c0c-0000-4000-8000-00000000c11e",
                       secret=None, url=url)  # fmt: skip
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["appidacr"] == "0"


def test_refresh_errors(world: DirectoryWorld) -> None:
    token = mint(world)["refresh_token"]
    unknown = refresh(world, "1.Anot-a-token").json()
    assert (unknown["error"], unknown["error_codes"]) == ("invalid_grant", [9002313])
    other = refresh(world, token, client_id="0c0c0c0c-0000-4000-8000-0000000000aa").json()
    assert (other["error"], other["error_codes"]) == ("invalid_grant", [70000])
    missing = refresh(world, "", secret=None).json()
    assert missing["error_codes"] == [900144]


def test_a_confidential_client_must_authenticate_its_refresh(world: DirectoryWorld) -> None:
    app = world.app("snapshot")
    app.secrets.append("snap-secret")
    token = mint(world, client_id=app.client_id)["refresh_token"]
    bare = refresh(world, token, client_id=app.client_id, secret=None)
    assert bare.status_code == 401 and bare.json()["error_codes"] == [7000216]
    wrong = refresh(world, token, client_id=app.client_id, secret="nope")
    assert wrong.status_code == 401 and wrong.json()["error_codes"] == [7000215]
    right = refresh(world, token, client_id=app.client_id, secret="snap-secret")
    assert right.status_code == 200
    assert claims_of(right.json()["access_token"])["appidacr"] == "1"


def test_msal_public_client_refreshes_on_common(world: DirectoryWorld) -> None:
    """MSAL's refresh (client_id in the body, no secret) against /common, as a delegated
    public client would; the result carries a rotated refresh token."""
    first = mint(world)
    pca = msal.PublicClientApplication(
        RCLONE_CLIENT_ID, authority=f"{LOGIN}/common", http_client=world.session
    )
    result = pca.acquire_token_by_refresh_token(first["refresh_token"], ["Files.Read.All"])
    assert "access_token" in result, result
    assert result["refresh_token"] != first["refresh_token"]
    claims = claims_of(result["access_token"])
    assert claims["idtyp"] == "user" and claims["oid"] == world.tenant.user(AMY).id
