"""The tenant's directory as the identity endpoints and Graph's authorisation see it:
the tenant id and domains, and the registered applications with their credentials and roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Application roles (app-only permissions) the emulator understands.
SITES_READ_ALL = "Sites.Read.All"
SITES_READWRITE_ALL = "Sites.ReadWrite.All"
SITES_FULLCONTROL_ALL = "Sites.FullControl.All"
SITES_SELECTED = "Sites.Selected"
FILES_READ_ALL = "Files.Read.All"
FILES_READWRITE_ALL = "Files.ReadWrite.All"

READ_ROLES = frozenset(
    {
        SITES_READ_ALL,
        SITES_READWRITE_ALL,
        SITES_FULLCONTROL_ALL,
        FILES_READ_ALL,
        FILES_READWRITE_ALL,
    }
)


@dataclass
class AppRegistration:
    """A registered confidential client.

    `certificates` holds PEM-encoded X.509 certificates whose private keys may sign client
    assertions. `selected_sites` lists the site ids a Sites.Selected app was granted.
    `blocked_sites` lists sites whose access was revoked from this app (Graph answers 403).
    """

    client_id: str
    display_name: str
    secrets: list[str] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: [SITES_READ_ALL])
    selected_sites: set[str] = field(default_factory=set)
    blocked_sites: set[str] = field(default_factory=set)

    def can_read_site(self, site_id: str) -> bool:
        """Whether app-only calls of this app may read the site with this id."""
        if site_id in self.blocked_sites:
            return False
        if READ_ROLES.intersection(self.roles):
            return True
        return SITES_SELECTED in self.roles and site_id in self.selected_sites

    @property
    def sees_all_sharing_changes(self) -> bool:
        """Delta reports permission-only changes to app-only callers with FullControl only."""
        return SITES_FULLCONTROL_ALL in self.roles


@dataclass
class Directory:
    """Tenant identity: id, verified domains and registered applications."""

    tenant_id: str  # lower-case GUID
    domains: list[str]  # e.g. ["contoso.onmicrosoft.com"]
    apps: dict[str, AppRegistration] = field(default_factory=dict)

    def knows_tenant(self, name: str) -> bool:
        """Whether `name` (a GUID in any case, or a domain) designates this tenant."""
        lowered = name.lower()
        return lowered == self.tenant_id or lowered in (d.lower() for d in self.domains)
