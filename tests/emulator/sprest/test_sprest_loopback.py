"""SharePoint REST on the emulator's one loopback origin (graph-facts §16.7): a client keeps
the site's server-relative path and swaps `https://{tenant}.sharepoint.com` for the
emulator's base URL; over real HTTPS, next to Graph, with tokens from the emulator's own
token endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ms365sync.emulator.core import Emulator
from ms365sync.emulator.transport.server import EmulatorServer
from support.emulator_directory_world import SP_SCOPE, build_tenant, make_world, token
from support.emulator_fakes import trusting_session


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Emulator, EmulatorServer]]:
    emulator = Emulator(build_tenant())
    with emulator.server(ca_bundle_path=tmp_path / "ca.pem") as server:
        yield emulator, server


def test_a_membership_snapshot_over_https(served: tuple[Emulator, EmulatorServer]) -> None:
    """Site-group members through SharePoint REST and the users below a group through Graph,
    both on the emulator's base URL."""
    emulator, server = served
    assert server.ca_bundle_path is not None
    session = trusting_session(server.ca_bundle_path)
    app = next(a for a in emulator.tenant.directory.apps.values() if a.display_name == "snapshot")
    base = server.base_url
    sharepoint = token(emulator, session, app, SP_SCOPE, with_certificate=True, authority=base)
    members = session.get(
        f"{base}/sites/sales/_api/web/sitegroups/getbyid(5)/users",
        headers={"Authorization": f"Bearer {sharepoint}", "Accept": "application/json"},
    )
    assert members.status_code == 200, members.text
    (sales,) = members.json()["value"]
    # Links in the answer are on the origin the request came to.
    assert sales["odata.id"].startswith(f"{base}/sites/sales/_api/Web/GetUserById(")
    group_id = sales["LoginName"].rsplit("|", 1)[-1]
    graph = token(emulator, session, app, authority=base)
    below = session.get(
        f"{base}/v1.0/groups/{group_id}/transitiveMembers/microsoft.graph.user",
        params={"$select": "userPrincipalName,userType"},
        headers={"Authorization": f"Bearer {graph}"},
    )
    assert below.status_code == 200, below.text
    assert sorted(user["userType"] for user in below.json()["value"]) == [
        "Guest",
        "Member",
        "Member",
    ]
    refused = session.get(
        f"{base}/sites/sales/_api/web/sitegroups",
        headers={
            "Authorization": f"Bearer {token(emulator, session, app, SP_SCOPE, authority=base)}"
        },
    )
    assert refused.status_code == 401
    assert refused.json() == {"error_description": "Unsupported app only token."}


def test_on_loopback_a_path_two_hosts_share_is_ambiguous() -> None:
    tenant = build_tenant()
    tenant.add_site("fabrikam.sharepoint.com", "/sites/sales", "Other Sales")
    world = make_world(tenant)
    by_host = world.sharepoint("/sites/sales/_api/web/sitegroups")
    assert by_host.status_code == 200
    assert by_host.json()["value"][0]["Title"] == "Sales Owners"
    loopback = world.sharepoint("/sites/sales/_api/web/sitegroups", host="127.0.0.1:8443")
    assert loopback.status_code == 400
    assert "cannot tell them apart" in loopback.json()["odata.error"]["message"]["value"]
