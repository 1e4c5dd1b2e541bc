"""Tokens for SharePoint itself (`https://{tenant}.sharepoint.com/.default`): SharePoint's app
id as audience, `appidacr` saying how the app proved itself, the app's roles on SharePoint,
and another tenant's host refused (graph-facts §16.1)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from support.emulator_directory_world import SP_SCOPE, DirectoryWorld, make_world, token

SHAREPOINT_APP_ID = "00000003-0000-0ff1-ce00-000000000000"


@pytest.fixture
def world() -> DirectoryWorld:
    return make_world()


def claims_of(access_token: str) -> dict[str, Any]:
    part = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.mark.parametrize(("with_certificate", "acr"), [(True, "2"), (False, "1")])
def test_a_sharepoint_token_names_sharepoint_and_how_the_app_signed_in(
    world: DirectoryWorld, with_certificate: bool, acr: str
) -> None:
    app = world.app("snapshot")
    issued = token(world.emulator, world.session, app, SP_SCOPE, with_certificate=with_certificate)
    claims = claims_of(issued)
    assert claims["aud"] == SHAREPOINT_APP_ID
    assert claims["appidacr"] == acr
    assert claims["tid"] == world.tenant.tenant_id
    # Roles on SharePoint are its Sites.* roles, not its directory roles.
    assert claims["roles"] == ["Sites.Read.All"]


def test_roles_on_sharepoint_can_differ_from_graph(world: DirectoryWorld) -> None:
    app = world.app("graph only")
    sharepoint = claims_of(token(world.emulator, world.session, app, SP_SCOPE))
    graph = claims_of(token(world.emulator, world.session, app))
    assert "roles" not in sharepoint
    assert "GroupMember.Read.All" in graph["roles"]


def test_another_tenants_sharepoint_is_an_unknown_resource(world: DirectoryWorld) -> None:
    app = world.app("snapshot")
    response = world.session.post(
        f"https://login.microsoftonline.com/{world.tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": app.client_id,
            "client_secret": app.secrets[0],
            "scope": "https://fabrikam.sharepoint.com/.default",
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_resource"
    assert body["error_codes"] == [500011]
    assert body["error_description"].startswith(
        "AADSTS500011: The resource principal named https://fabrikam.sharepoint.com was not "
        f"found in the tenant named {world.tenant.tenant_id}."
    )
