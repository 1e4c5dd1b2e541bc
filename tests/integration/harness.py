"""Test harness: a small emulated tenant served in-process and a syncer talking to it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ms365sync.emulator.content import BytesContent
from ms365sync.emulator.core import Emulator
from ms365sync.emulator.model import Drive, Role
from ms365sync.emulator.tenant import Tenant
from ms365sync.graph import GLOBAL, ClientSecret, GraphClient, MsalTokenProvider
from ms365sync.resolve import SiteRef
from ms365sync.syncer import Syncer, SyncResult, TargetSpec

HOST = "contoso.sharepoint.com"


@dataclass
class World:
    """A small tenant: one site, one library, a few folders, files and grants."""

    emulator: Emulator
    tenant: Tenant
    drive: Drive
    root: Path

    def spec(self, **overrides: object) -> TargetSpec:
        values: dict[str, object] = {
            "name": "marketing/Documents",
            "site": SiteRef(host=HOST, path="/sites/marketing"),
            "library": "Documents",
            "local_root": self.root,
        }
        values.update(overrides)
        return TargetSpec(**values)  # type: ignore[arg-type]

    def client(self) -> GraphClient:
        creds = self.emulator.credentials
        session = self.emulator.session()
        provider = MsalTokenProvider(
            tenant_id=creds.tenant_id,
            client_id=creds.client_id,
            credential=ClientSecret(creds.client_secret),
            cloud=GLOBAL,
            http_client=session,
        )
        return GraphClient(GLOBAL.graph_url, provider, session=session)

    def sync(self, **kwargs: object) -> SyncResult:
        dry = bool(kwargs.pop("dry_run", False))
        force = bool(kwargs.pop("force", False))
        with self.client() as client:
            return Syncer(self.spec(**kwargs), client).sync(dry_run=dry, force=force)

    def data(self) -> dict[str, bytes]:
        base = self.root / "data"
        return {
            str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()
        }


def build_tenant() -> tuple[Tenant, Drive]:
    tenant = Tenant(seed=11)
    tenant.add_app("ms365sync-tests")
    tenant.add_user("Alice Jones", "alice@contoso.onmicrosoft.com")
    tenant.add_user("Bob Smith", "bob@contoso.onmicrosoft.com")
    tenant.add_group("Finance Team", "finance@contoso.onmicrosoft.com")
    site = tenant.add_site(HOST, "/sites/marketing", "Marketing")
    drive = tenant.add_library(site, "Documents", "Shared Documents")
    tenant.add_library(site, "Archive")
    tenant.add_file(drive, "readme.md", BytesContent(b"# Marketing\n"))
    tenant.add_file(drive, "Plans/2026/plan.txt", BytesContent(b"plan v1"))
    tenant.add_file(drive, "Plans/budget.csv", BytesContent(b"a,b\n1,2\n"))
    tenant.add_file(drive, "Finance/q1.txt", BytesContent(b"q1 numbers"))
    tenant.grant(drive, "Finance", "group:Finance Team", Role.WRITE)
    tenant.revoke(drive, "Finance", "sitegroup:Visitors")
    return tenant, drive
