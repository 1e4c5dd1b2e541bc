"""Reading a site group's members through SharePoint REST (graph-facts §16).

Graph does not say who is in a SharePoint site group; SharePoint's own REST API does
(`{site}/_api/web/sitegroups/getbyid(N)/users`), with a token for the SharePoint resource
(`https://<tenant>.sharepoint.com/.default`) that only a certificate credential can get:
SharePoint refuses app-only tokens obtained with a client secret (401 "Unsupported app only
token."), so with a secret nothing is asked and each site group is left unexpanded with
that reason. A member's login name says what it is (§16.3): a person (by principal name,
mapped to an Entra object id through Graph), a security group or a Microsoft 365 group's
members or owners (by Entra object id), every member of the tenant, everyone, or an
account the site alone knows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from ms365sync.errors import GraphError
from ms365sync.graph.cloud import Cloud
from ms365sync.graph.connect import connect_sharepoint
from ms365sync.graph.credentials import AppCredentials, ClientSecret
from ms365sync.graph.throttle import ThrottleGate
from ms365sync.graph.transport import Transport
from ms365sync.outputs.principals import ClaimName

__all__ = ["SECRET_REFUSED", "SiteGroupMembers", "SiteGroupReader", "parse_login"]

SECRET_REFUSED = (
    "SharePoint REST refuses app-only tokens obtained with a client secret; configure a "
    "certificate credential (certificate_path) to read site groups' members"
)
_ACCEPT = {"Accept": "application/json;odata=nometadata"}
_SELECT = "Id,LoginName,Title,PrincipalType,Email,UserPrincipalName"

_PERSON = "i:0#.f|membership|"
_SECURITY_GROUP = "c:0t.c|tenant|"
_M365_GROUP = "c:0o.c|federateddirectoryclaimprovider|"
_ALL_MEMBERS = "c:0-.f|rolemanager|spo-grid-all-users/"
_EVERYONE = "c:0(.s|true"


@dataclass
class SiteGroupMembers:
    """A site group's members by kind, as its login names say."""

    people: list[str] = field(default_factory=list)  # principal names
    groups: list[str] = field(default_factory=list)  # Entra object ids
    group_owners: list[str] = field(default_factory=list)  # Microsoft 365 group ids
    claims: list[ClaimName] = field(default_factory=list)
    site_users: list[str] = field(default_factory=list)  # login names


def parse_login(login: str, into: SiteGroupMembers) -> None:
    """File one member under its kind by its login name (claims compared without case). A
    login name of no known shape is an account the site alone knows: it stands for that one
    account, never for more people."""
    folded = login.lower()
    if folded.startswith(_PERSON):
        into.people.append(login[len(_PERSON) :])
    elif folded.startswith(_SECURITY_GROUP):
        into.groups.append(login[len(_SECURITY_GROUP) :])
    elif folded.startswith(_M365_GROUP):
        group = login[len(_M365_GROUP) :]
        if group.lower().endswith("_o"):
            into.group_owners.append(group[:-2])
        else:
            into.groups.append(group)
    elif folded.startswith(_ALL_MEMBERS):
        into.claims.append("all_members")
    elif folded == _EVERYONE:
        into.claims.append("everyone")
    else:
        into.site_users.append(login)


class SiteGroupReader:
    """Site groups' members through SharePoint REST, one transport per SharePoint host."""

    def __init__(
        self,
        app: AppCredentials,
        cloud: Cloud,
        *,
        session_factory: Callable[[], requests.Session] | None = None,
        gate: ThrottleGate | None = None,
    ) -> None:
        self._app = app
        self._cloud = cloud
        self._session_factory = session_factory
        self._gate = gate
        self._transports: dict[str, Transport] = {}
        self._lock = threading.Lock()

    @property
    def usable(self) -> str | None:
        """None when site groups can be read; else why not (one line)."""
        return SECRET_REFUSED if isinstance(self._app.credential, ClientSecret) else None

    def members(self, site_url: str, number: int) -> SiteGroupMembers:
        """The members of site group `number` of the site at `site_url` (its webUrl).

        Raises:
            MS365SyncError: SharePoint refused or could not be reached (GraphError,
                TransportError, AuthError).
        """
        parts = urlsplit(site_url)
        base = self._cloud.sharepoint_url or f"https://{parts.netloc}"
        url = f"{base}{parts.path.rstrip('/')}/_api/web/sitegroups/getbyid({number})/users"
        transport = self._transport(parts.netloc)
        response = transport.request("GET", url, params={"$select": _SELECT}, headers=_ACCEPT)
        try:
            body = response.json()
        except ValueError as exc:
            raise GraphError(f"SharePoint answered {url} with no JSON", url=url) from exc
        finally:
            response.close()
        rows = body.get("value") if isinstance(body, Mapping) else None
        if not isinstance(rows, list):
            raise GraphError(f"SharePoint answered {url} without a list of users", url=url)
        found = SiteGroupMembers()
        for row in rows:
            if isinstance(row, Mapping) and isinstance(row.get("LoginName"), str):
                parse_login(row["LoginName"], found)
        return found

    def close(self) -> None:
        with self._lock:
            for transport in self._transports.values():
                transport.close()
            self._transports.clear()

    def _transport(self, host: str) -> Transport:
        with self._lock:
            transport = self._transports.get(host)
            if transport is None:
                transport = connect_sharepoint(
                    self._app,
                    self._cloud,
                    host,
                    session_factory=self._session_factory,
                    gate=self._gate,
                    pool_size=8,  # the snapshot reads up to 8 site groups at once
                )
                self._transports[host] = transport
            return transport
