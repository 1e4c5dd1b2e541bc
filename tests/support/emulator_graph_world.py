"""A small emulated tenant behind the real pipeline, for the Graph endpoint tests.

Every request goes through `Emulator(...).session()` with a bearer token obtained from the
emulator's own token endpoint (client credentials POST), so authentication, routing, RU
charging and the standard headers are those a client meets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from ms365sync.emulator.control.settings import EmulatorConfig
from ms365sync.emulator.core import Emulator
from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.tenant.content import BytesContent
from ms365sync.emulator.tenant.model import Drive, Item, Role, Site
from ms365sync.emulator.tenant.tenant import Tenant

GRAPH = "https://graph.microsoft.com/v1.0"
HOST = "contoso.sharepoint.com"
PREFER_ALL = (
    "hierarchicalsharing, deltashowremovedasdeleted, deltatraversepermissiongaps, "
    "deltashowsharingchanges"
)
ZERO_HASH = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="

# Formats of real values (graph-facts §2-§3, samples 01-05).
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UPPER_GUID = GUID.replace("a-f", "A-F")
SITE_ID = re.compile(rf"^[a-z0-9.-]+,{GUID},{GUID}$")
DRIVE_ID = re.compile(r"^b![A-Za-z0-9_-]{64}$")
ITEM_ID = re.compile(r"^01[A-Z2-7]{32}$")
ETAG = re.compile(rf'^"\{{({UPPER_GUID})\}},(\d+)"$')
CTAG = re.compile(rf'^"c:\{{({UPPER_GUID})\}},(\d+)"$', re.IGNORECASE)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
HASH = re.compile(r"^[A-Za-z0-9+/]{27}=$")

FILES = {
    "Reports/Q1 summary.txt": b"Revenue grew in the first quarter.",
    "Reports/2025/plan.txt": b"The plan for 2025.",
    "Reports/deck.docx": b"PK not really a docx",
    "Notes/todo.md": b"- ship it",
    "empty.txt": b"",
}


def token_for(
    emulator: Emulator,
    session: requests.Session,
    app: AppRegistration,
    authority: str = "https://login.microsoftonline.com",
) -> str:
    """An access token from the emulator's token endpoint (client credentials, secret);
    `authority` is the server's base URL when `session` talks to the HTTPS server."""
    response = session.post(
        f"{authority}/{emulator.tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": app.client_id,
            "client_secret": app.secrets[0],
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@dataclass
class World:
    """The tenant, its emulator and a signed-in in-process session."""

    tenant: Tenant
    emulator: Emulator
    session: requests.Session
    site: Site
    drive: Drive

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else GRAPH + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self.session.get(self.url(path), **kwargs)

    def json(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The JSON body of a GET, asserting its status."""
        response = self.get(path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    def item(self, path: str) -> Item:
        return self.tenant.item(self.drive, path)

    def item_path(self, path: str, suffix: str = "") -> str:
        """/drives/{drive}/items/{id}{suffix} of the item at a library path."""
        return f"/drives/{self.drive.id}/items/{self.item(path).id}{suffix}"

    def sign_in_again(self) -> None:
        """A fresh access token for the session (after the clock moved past the old one)."""
        token = token_for(self.emulator, self.session, self.emulator.registration)
        self.session.headers["Authorization"] = f"Bearer {token}"

    def sign_in_as(self, app: AppRegistration) -> requests.Session:
        """Another session of the same emulator, signed in as `app`."""
        session = self.emulator.session()
        session.headers["Authorization"] = f"Bearer {token_for(self.emulator, session, app)}"
        return session

    def delta(self, url: str | None = None, prefer: str | None = None) -> DeltaRound:
        """Follow a delta round from `url` (default: a fresh enumeration) to its deltaLink."""
        return walk_delta(self.get, url or f"/drives/{self.drive.id}/root/delta", prefer)


@dataclass
class DeltaRound:
    pages: list[dict[str, Any]]

    @property
    def values(self) -> list[dict[str, Any]]:
        return [entry for page in self.pages for entry in page["value"]]

    @property
    def delta_link(self) -> str:
        return str(self.pages[-1]["@odata.deltaLink"])

    def by_id(self) -> dict[str, dict[str, Any]]:
        """Entries by id, the last one winning (as clients must resolve them)."""
        return {entry["id"]: entry for entry in self.values}

    def names(self) -> list[str]:
        return [entry.get("name", "<deleted>") for entry in self.values]


def walk_delta(
    get: Callable[..., requests.Response], url: str, prefer: str | None = None
) -> DeltaRound:
    headers = {"Prefer": prefer} if prefer else {}
    pages = []
    while True:
        response = get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        links = {"@odata.nextLink", "@odata.deltaLink"} & set(page)
        assert len(links) == 1, page.keys()  # every page: exactly one of the two
        if "@odata.deltaLink" in page:
            return DeltaRound(pages)
        url = page["@odata.nextLink"]
        assert len(pages) < 1000


def build_tenant(**settings: Any) -> Tenant:
    """Marketing (Documents = "Shared Documents", Brand Assets, a hidden system library) and
    Product sites; a few folders and files; two users and an Entra group."""
    tenant = Tenant(seed=11, **settings)
    tenant.add_app("sync app")
    tenant.add_user("Amy Adams", "amy@contoso.onmicrosoft.com")
    tenant.add_user("Ben Brown", "ben@contoso.onmicrosoft.com")
    tenant.add_group("Sales Team", "sales@contoso.onmicrosoft.com")
    marketing = tenant.add_site(HOST, "/sites/marketing", "Marketing")
    docs = tenant.add_library(marketing, "Documents", "Shared Documents")
    tenant.add_library(marketing, "Brand Assets", "BrandAssets")
    system = tenant.add_library(marketing, "Style Library")
    system.system = True
    product = tenant.add_site(HOST, "/teams/product", "Product Team")
    tenant.add_library(product, "Documents", "Shared Documents")
    for path, data in FILES.items():
        tenant.add_file(docs, path, BytesContent(data))
    return tenant


def make_world(
    tenant: Tenant | None = None,
    config: EmulatorConfig | None = None,
    *,
    app: AppRegistration | None = None,
) -> World:
    """A World over `tenant` (default: build_tenant()) signed in as `app` (default: the first)."""
    tenant = tenant or build_tenant()
    emulator = Emulator(tenant, config)
    session = emulator.session()
    registration = app or emulator.registration
    session.headers["Authorization"] = f"Bearer {token_for(emulator, session, registration)}"
    site = next(s for s in tenant.sites.values() if s.path == "/sites/marketing")
    drive = tenant.library("marketing", "Documents")
    return World(tenant, emulator, session, site, drive)


def share(world: World, path: str, who: str = "user:amy@contoso.onmicrosoft.com") -> None:
    """Grant read on an item to someone beyond the site groups."""
    world.tenant.grant(world.drive, path, who, Role.READ)
