"""SharePoint REST's own authentication and authorisation (graph-facts §16.2): only
certificate-based app-only tokens for SharePoint's audience, the 401 shape (not OData:
`error_description`, `WWW-Authenticate`, `x-ms-diagnostics`), 403 for apps without a role
on SharePoint or on the site, and the resource units it shares with Graph's site reads."""

from __future__ import annotations

from typing import Any

import pytest

from ms365sync.emulator.control.settings import EmulatorConfig, FaultConfig, ThrottleConfig
from support.emulator_directory_world import (
    SP_SCOPE,
    DirectoryWorld,
    build_tenant,
    make_world,
    token,
)

GROUPS = "/sites/sales/_api/web/sitegroups"
SHAREPOINT_APP_ID = "00000003-0000-0ff1-ce00-000000000000"


@pytest.fixture
def world() -> DirectoryWorld:
    return make_world()


def refusal(response: Any, reason: str, diagnostic: int) -> None:
    """SharePoint's 401 for a token it does not take."""
    assert response.status_code == 401, response.text
    assert response.json() == {"error_description": reason}
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="')
    assert f'client_id="{SHAREPOINT_APP_ID}"' in challenge
    assert 'authorization_uri="https://login.windows.net/common/oauth2/authorize"' in challenge
    assert response.headers["x-ms-diagnostics"] == (
        f'{diagnostic};reason="{reason}";category="invalid_client"'
    )


def test_a_secret_based_token_is_unsupported(world: DirectoryWorld) -> None:
    secret = token(world.emulator, world.session, world.app("snapshot"), SP_SCOPE)
    refusal(world.sharepoint(GROUPS, bearer=secret), "Unsupported app only token.", 3001000)


def test_a_certificate_based_token_is_taken(world: DirectoryWorld) -> None:
    response = world.sharepoint(GROUPS)
    assert response.status_code == 200
    assert response.headers["SPRequestGuid"] == response.headers["request-id"]


def test_a_graph_token_is_not_a_sharepoint_token(world: DirectoryWorld) -> None:
    graph = token(world.emulator, world.session, world.app("snapshot"), with_certificate=True)
    refusal(world.sharepoint(GROUPS, bearer=graph), "Invalid issuer or signature.", 3001000)


@pytest.mark.parametrize(
    ("bearer", "reason"),
    [("", "Unsupported security token."), ("a.b", "Unsupported security token.")],
)
def test_no_token_or_garbage(world: DirectoryWorld, bearer: str, reason: str) -> None:
    response = world.session.get(
        f"https://contoso.sharepoint.com{GROUPS}",
        headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
    )
    refusal(response, reason, 3001000)


def test_a_tampered_token(world: DirectoryWorld) -> None:
    good = world.bearer("snapshot", SP_SCOPE)
    head, claims, signature = good.split(".")
    tampered = f"{head}.{claims}.{signature[::-1]}"
    refusal(world.sharepoint(GROUPS, bearer=tampered), "Invalid issuer or signature.", 3001000)


def test_an_expired_token_says_when_it_was_valid(world: DirectoryWorld) -> None:
    bearer = world.bearer("snapshot", SP_SCOPE)
    world.emulator.clock.advance(3600)
    response = world.sharepoint(GROUPS, bearer=bearer)
    reason = response.json()["error_description"]
    assert reason.startswith("The access token has expired. It's valid from '")
    refusal(response, reason, 3000002)


@pytest.mark.parametrize(
    ("app", "path", "status"),
    [
        ("sites only", GROUPS, 200),  # no directory role needed for SharePoint's own groups
        ("graph only", GROUPS, 403),  # no role on SharePoint
        ("selected", GROUPS, 200),  # Sites.Selected, granted this site
        ("selected", "/teams/projectx/_api/web/sitegroups", 403),
    ],
)
def test_roles_on_sharepoint_and_on_the_site(
    world: DirectoryWorld, app: str, path: str, status: int
) -> None:
    response = world.sharepoint(path, app=app)
    assert response.status_code == status, response.text
    if status == 403:
        error = response.json()["odata.error"]
        assert error["code"] == "-2147024891, System.UnauthorizedAccessException"
        assert error["message"]["value"].startswith("Access denied.")


def test_revoked_site_access_is_denied(world: DirectoryWorld) -> None:
    site = world.tenant.site_by_path("contoso.sharepoint.com", "/sites/sales")
    assert site is not None
    world.tenant.set_site_access(world.app("snapshot").client_id, site, allowed=False)
    assert world.sharepoint(GROUPS).status_code == 403


def test_resource_units_are_shared_with_graphs_site_reads() -> None:
    """Collections cost 2 and single objects 1, from the same per-app budget as Graph's site
    and item reads; over it SharePoint REST answers 429 in its own error shape."""
    world = make_world(build_tenant(), EmulatorConfig(throttle=ThrottleConfig(per_minute=5)))
    assert world.sharepoint(GROUPS).status_code == 200  # 2
    assert world.sharepoint("/sites/sales/_api/web/associatedownergroup").status_code == 200  # 1
    graph = world.graph("/sites?$top=1", app="snapshot")  # 2, the same app
    assert graph.status_code == 200
    throttled = world.sharepoint(GROUPS)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["RateLimit-Limit"] == "5"
    error = throttled.json()["odata.error"]
    assert error["code"] == "-2147024860, Microsoft.SharePoint.SPQueryThrottledException"
    stats = world.emulator.app.throttle.stats()["apps"]
    app_key = f"{world.tenant.tenant_id}/{world.app('snapshot').client_id}"
    assert stats[app_key]["ru_charged"] == 5
    counts = world.emulator.app.request_counts()
    assert (counts["sharepoint 200"], counts["sharepoint 429"]) == (2, 1)


def test_faults_reach_sharepoint_rest() -> None:
    config = EmulatorConfig(faults=FaultConfig({"503": 1.0}, retry_after=7))
    world = make_world(build_tenant(), config)
    response = world.sharepoint(GROUPS)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
