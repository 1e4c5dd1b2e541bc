"""A tenant with people, a guest, nested and Microsoft 365 groups and a group-connected site,
behind the real pipeline, for the directory (Graph) and SharePoint REST tests.

Tokens come from the emulator's own token endpoint: Graph tokens with the app's secret,
SharePoint tokens with a signed certificate assertion (as SharePoint requires) or, to be
refused, with the secret.
"""

from __future__ import annotations

import base64
import functools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

from ms365sync.emulator.control.settings import EmulatorConfig
from ms365sync.emulator.core import Emulator
from ms365sync.emulator.login.assertion import JWT_BEARER
from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.tenant.model import GroupKind
from ms365sync.emulator.tenant.tenant import Tenant
from support.emulator_fakes import Certificate

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
DOMAIN = "contoso.onmicrosoft.com"
HOST = "contoso.sharepoint.com"
SP_SCOPE = f"https://{HOST}/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SNAPSHOT_ROLES = ["Sites.Read.All", "GroupMember.Read.All", "User.Read.All"]


@functools.cache
def certificate() -> Certificate:
    """One key pair for the whole run (generating RSA keys is slow)."""
    return Certificate()


def token(
    emulator: Emulator,
    session: requests.Session,
    app: AppRegistration,
    scope: str = GRAPH_SCOPE,
    *,
    with_certificate: bool = False,
    authority: str = LOGIN,
) -> str:
    """An access token from the emulator's token endpoint; raises AssertionError if refused."""
    endpoint = f"{authority}/{emulator.tenant.tenant_id}/oauth2/v2.0/token"
    form = {"client_id": app.client_id, "scope": scope, "grant_type": "client_credentials"}
    if with_certificate:
        form["client_assertion_type"] = JWT_BEARER
        form["client_assertion"] = _assertion(app.client_id, endpoint)
    else:
        form["client_secret"] = app.secrets[0]
    response = session.post(endpoint, data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _assertion(client_id: str, audience: str) -> str:
    cert = certificate()
    now = time.time()
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "exp": now + 600,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    thumbprint = base64.urlsafe_b64encode(bytes.fromhex(cert.sha1_hex)).decode()
    return jwt.encode(claims, cert.key_pem, algorithm="RS256", headers={"x5t": thumbprint})


def build_tenant(bulk_members: int = 0) -> Tenant:
    """Amy, Ben and Cho, the guest Gus; Sales (security) holding Amy and Sales EMEA (Cho, Gus);
    Project X (Microsoft 365: Amy and Ben, owned by Amy) connected to /teams/projectx;
    /sites/sales with Amy in Owners, Sales in Members and Everyone except external users in
    Visitors; All Staff with `bulk_members` more users. Apps: "snapshot" (Sites.Read.All,
    GroupMember.Read.All, User.Read.All, a secret and the certificate), "groups only"
    (GroupMember.Read.All), "sites only" (Sites.FullControl.All), "graph only" (no roles on
    SharePoint) and "selected" (Sites.Selected on /sites/sales)."""
    tenant = Tenant(seed=21, domain=DOMAIN)
    cert = [certificate().cert_pem]
    tenant.add_app("snapshot", roles=SNAPSHOT_ROLES, certificates=cert)
    tenant.add_app("groups only", roles=["Sites.Read.All", "GroupMember.Read.All"])
    tenant.add_app("sites only", roles=["Sites.FullControl.All"], certificates=cert)
    tenant.add_app("graph only", roles=SNAPSHOT_ROLES, certificates=cert).sharepoint_roles = []
    selected = tenant.add_app("selected", roles=["Sites.Selected"], certificates=cert)
    for name in ("Amy Adams", "Ben Brown", "Cho Chen"):
        tenant.add_user(name, f"{name.split()[0].lower()}@{DOMAIN}")
    tenant.add_guest("Gus Guest", "gus@fabrikam.com")
    sales = tenant.add_group("Sales", f"sales@{DOMAIN}")
    emea = tenant.add_group("Sales EMEA", "")
    project = tenant.add_group("Project X", f"projectx@{DOMAIN}", kind=GroupKind.MICROSOFT_365)
    tenant.add_group_member(sales, "user:Amy Adams")
    tenant.add_group_member(sales, "group:Sales EMEA")
    tenant.add_group_member(emea, "user:Cho Chen")
    tenant.add_group_member(emea, "user:gus@fabrikam.com")
    for name in ("Amy Adams", "Ben Brown"):
        tenant.add_group_member(project, f"user:{name}")
    tenant.add_group_owner(project, "Amy Adams")
    staff = tenant.add_group("All Staff", f"staff@{DOMAIN}")
    for number in range(bulk_members):
        user = tenant.add_user(f"Member {number:04d}", f"member{number:04d}@{DOMAIN}")
        tenant.add_group_member(staff, f"user:{user.id}")
    sales_site = tenant.add_site(HOST, "/sites/sales", "Sales")
    tenant.add_library(sales_site, "Documents", "Shared Documents")
    tenant.add_site_group_member(sales_site, "Owners", "user:Amy Adams")
    tenant.add_site_group_member(sales_site, "Members", "group:Sales")
    tenant.add_site_group_member(sales_site, "Visitors", "everyone_except_external")
    selected.selected_sites.add(sales_site.id)
    project_site = tenant.add_site(HOST, "/teams/projectx", "Project X")
    tenant.connect_site(project_site, project)
    tenant.add_site_group_member(project_site, "Visitors", "user:gus@fabrikam.com")
    return tenant


@dataclass
class DirectoryWorld:
    """The tenant, its emulator and an in-process session (tokens kept per app and scope)."""

    tenant: Tenant
    emulator: Emulator
    session: requests.Session
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def app(self, name: str) -> AppRegistration:
        return next(a for a in self.tenant.directory.apps.values() if a.display_name == name)

    def bearer(self, app: str, scope: str = GRAPH_SCOPE) -> str:
        """A token of `app` for `scope` (SharePoint's with the certificate), reused."""
        key = (app, scope)
        if key not in self.tokens:
            sharepoint = scope == SP_SCOPE
            self.tokens[key] = token(
                self.emulator, self.session, self.app(app), scope, with_certificate=sharepoint
            )
        return self.tokens[key]

    def graph(self, path: str, app: str = "snapshot", **kwargs: Any) -> requests.Response:
        """GET a Graph path (or absolute URL) as `app`."""
        url = path if path.startswith("https://") else GRAPH + path
        headers = {"Authorization": f"Bearer {self.bearer(app)}", **kwargs.pop("headers", {})}
        return self.session.get(url, headers=headers, **kwargs)

    def sharepoint(
        self,
        path: str,
        *,
        app: str = "snapshot",
        accept: str | None = "application/json;odata=nometadata",
        bearer: str | None = None,
        host: str = HOST,
    ) -> requests.Response:
        """GET `https://{host}{path}` with a certificate-based SharePoint token (or `bearer`)."""
        if bearer is None:
            bearer = self.bearer(app, SP_SCOPE)
        headers = {"Authorization": f"Bearer {bearer}"}
        if accept is not None:
            headers["Accept"] = accept
        return self.session.get(f"https://{host}{path}", headers=headers)


def make_world(
    tenant: Tenant | None = None, config: EmulatorConfig | None = None
) -> DirectoryWorld:
    tenant = tenant or build_tenant()
    emulator = Emulator(tenant, config)
    return DirectoryWorld(tenant, emulator, emulator.session())
