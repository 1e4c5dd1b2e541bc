"""The tenant's directory as the identity endpoints and Graph's authorisation see it:
the tenant id and domains, and the registered applications with their credentials and roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Application roles (app-only permissions) the emulator understands.
SITES_READ_ALL = "Sites.Read.All"
SITES_READWRITE_ALL = "Sites.ReadWrite.All"
SITES_FULLCONTROL_ALL = "Sites.FullControl.All"
SITES_SELECTED = "Sites.Selected"
FILES_READ_ALL = "Files.Read.All"
FILES_READWRITE_ALL = "Files.ReadWrite.All"
# Directory roles: reading groups and their members, and reading users (graph-facts §15.4).
GROUP_MEMBER_READ_ALL = "GroupMember.Read.All"
GROUP_MEMBER_READWRITE_ALL = "GroupMember.ReadWrite.All"
GROUP_READ_ALL = "Group.Read.All"
GROUP_READWRITE_ALL = "Group.ReadWrite.All"
DIRECTORY_READ_ALL = "Directory.Read.All"
DIRECTORY_READWRITE_ALL = "Directory.ReadWrite.All"
USER_READBASIC_ALL = "User.ReadBasic.All"
USER_READ_ALL = "User.Read.All"
USER_READWRITE_ALL = "User.ReadWrite.All"

READ_ROLES = frozenset(
    {
        SITES_READ_ALL,
        SITES_READWRITE_ALL,
        SITES_FULLCONTROL_ALL,
        FILES_READ_ALL,
        FILES_READWRITE_ALL,
    }
)
# Any of these lets an app read groups, their members and owners ...
GROUP_READ_ROLES = frozenset(
    {
        GROUP_MEMBER_READ_ALL,
        GROUP_MEMBER_READWRITE_ALL,
        GROUP_READ_ALL,
        GROUP_READWRITE_ALL,
        DIRECTORY_READ_ALL,
        DIRECTORY_READWRITE_ALL,
    }
)
# ... and any of these the properties of users, also of users listed as members.
USER_READ_ROLES = frozenset(
    {
        USER_READBASIC_ALL,
        USER_READ_ALL,
        USER_READWRITE_ALL,
        DIRECTORY_READ_ALL,
        DIRECTORY_READWRITE_ALL,
    }
)
SITES_ROLES = frozenset({*READ_ROLES - {FILES_READ_ALL, FILES_READWRITE_ALL}, SITES_SELECTED})


@dataclass
class AppRegistration:
    """A registered confidential client.

    `certificates` holds PEM-encoded X.509 certificates whose private keys may sign client
    assertions. `roles` are its application permissions on Microsoft Graph;
    `sharepoint_roles` those on SharePoint itself (a separate API in Entra, graph-facts §16.1),
    by default the Sites.* roles it has on Graph. `selected_sites` lists the site ids a
    Sites.Selected app was granted. `blocked_sites` lists sites whose access was revoked from
    this app (Graph answers 403).
    """

    client_id: str
    display_name: str
    secrets: list[str] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)
    roles: list[str] = field(default_factory=lambda: [SITES_READ_ALL])
    selected_sites: set[str] = field(default_factory=set)
    blocked_sites: set[str] = field(default_factory=set)
    sharepoint_roles: list[str] | None = None

    def can_read_site(self, site_id: str, roles: Iterable[str] | None = None) -> bool:
        """Whether app-only calls of this app (with `roles`, by default its Graph roles) may
        read the site with this id."""
        granted = frozenset(self.roles if roles is None else roles)
        if site_id in self.blocked_sites:
            return False
        if READ_ROLES.intersection(granted):
            return True
        return SITES_SELECTED in granted and site_id in self.selected_sites

    @property
    def roles_on_sharepoint(self) -> list[str]:
        """The roles a token for SharePoint carries."""
        if self.sharepoint_roles is not None:
            return list(self.sharepoint_roles)
        return [role for role in self.roles if role in SITES_ROLES]

    @property
    def reads_groups(self) -> bool:
        """Whether the app may read groups and their members (else 403, graph-facts §15.4)."""
        return not GROUP_READ_ROLES.isdisjoint(self.roles)

    @property
    def reads_users(self) -> bool:
        """Whether the app may read users' properties (else members come back bare)."""
        return not USER_READ_ROLES.isdisjoint(self.roles)

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
    # The tenant's SharePoint host names ("contoso.sharepoint.com"): the resources a token
    # for SharePoint may be asked for.
    sharepoint_hosts: set[str] = field(default_factory=set)

    def knows_tenant(self, name: str) -> bool:
        """Whether `name` (a GUID in any case, or a domain) designates this tenant."""
        lowered = name.lower()
        return lowered == self.tenant_id or lowered in (d.lower() for d in self.domains)
