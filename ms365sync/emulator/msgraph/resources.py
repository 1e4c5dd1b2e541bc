"""What every Graph handler shares: resolving sites, drives and items from the URL with the
app's access checked, rendering a driveItem with its download URL, and paging collections."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ms365sync.emulator.login.directory import AppRegistration
from ms365sync.emulator.msgraph import query, render
from ms365sync.emulator.msgraph.exceptions import AccessDenied, InvalidRequest, ItemNotFound
from ms365sync.emulator.msgraph.urls import GraphRouter
from ms365sync.emulator.tenant.model import Drive, Item, Site
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.http import Handler, Request, Response, json_response

JSON = dict[str, Any]
DownloadUrlFn = Callable[[Request, Drive, Item], str]
FaultFn = Callable[[str, Request], bool]

SITE_NOT_FOUND = "The provided path does not exist, or does not represent a site"


def no_faults(kind: str, request: Request) -> bool:
    """The default fault switch: never inject."""
    return False


class GraphResources:
    """The Graph endpoints' access to one tenant (see `GraphService` for the endpoints)."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        download_url: DownloadUrlFn | None = None,
        fault: FaultFn = no_faults,
    ) -> None:
        self.tenant = tenant
        self.download_url = download_url
        self.fault = fault
        self.router = GraphRouter()
        self._resyncs = 0

    # ------------------------------------------------------------------ access

    def _app(self, request: Request) -> AppRegistration | None:
        app = request.context.get("app")
        return app if isinstance(app, AppRegistration) else None

    def _check_site(self, request: Request, site: Site) -> None:
        app = self._app(request)
        if app is not None and not app.can_read_site(site.id):
            raise AccessDenied()

    def _site_from_ref(self, request: Request, site_ref: str) -> Site:
        site = self.tenant.site(site_ref)
        if site is None:
            composite = "," in site_ref.replace("%2C", ",").replace("%2c", ",")
            if not composite and ":" not in site_ref and not is_guid(site_ref):
                raise InvalidRequest("Invalid hostname for this tenancy")
            raise ItemNotFound("Requested site could not be found")
        self._check_site(request, site)
        return site

    def _site_from_path(self, request: Request, host: str, path: str) -> Site:
        site = self.tenant.site_by_path(host, path)
        if site is None:
            raise ItemNotFound(SITE_NOT_FOUND)
        self._check_site(request, site)
        return site

    def _site_drive(self, request: Request, site_ref: str, drive_id: str | None) -> Drive:
        """The drive `drive_id` of the site, or its default drive when None.

        Raises GraphError 404 itemNotFound for a drive of another site, as Graph does.
        """
        site = self._site_from_ref(request, site_ref)
        if drive_id is None:
            return default_drive_of(site)
        drive = self.tenant.drive(drive_id)
        if drive is None or drive.site is not site:
            raise ItemNotFound("Item not found")
        return drive

    def _site_list(self, request: Request, site_ref: str, list_id: str) -> Drive:
        """The library whose list id (`sharepointIds.listId`) is `list_id`; 404 otherwise."""
        site = self._site_from_ref(request, site_ref)
        wanted = list_id.strip().strip("{}").lower()
        drive = next((d for d in site.drives.values() if str(d.list_guid) == wanted), None)
        if drive is None:
            raise ItemNotFound("List does not exist.")
        return drive

    def _in_site(self, handler: Handler) -> Handler:
        """`handler` (a `/drives/{drive-id}/...` route's) for the same route under
        `/sites/{site-id}/drives/{drive-id}` or `/sites/{site-id}/drive`: the drive is
        resolved within the site, then the canonical handler answers."""

        def scoped(
            request: Request, site_ref: str, drive_id: str | None = None, **groups: str | None
        ) -> Response:
            with self.tenant.lock:
                drive = self._site_drive(request, site_ref, drive_id)
            return handler(request, drive_id=drive.id, **groups)

        scoped.__name__ = handler.__name__
        return scoped

    def _drive(self, request: Request, drive_id: str) -> Drive:
        drive = self.tenant.drive(drive_id)
        if drive is None:
            if not drive_id.startswith("b!"):
                raise InvalidRequest("Invalid drive id")
            raise ItemNotFound("Item not found")
        self._check_site(request, drive.site)
        return drive

    def _item(self, drive: Drive, item_id: str | None, path: str | None = None) -> Item:
        if path is not None:
            found = drive.find(path)
        elif item_id is None or item_id == "root":
            found = drive.root
        else:
            found = drive.items.get(item_id)
        if found is None:
            raise ItemNotFound("Item not found")
        return found

    def _render(
        self,
        request: Request,
        drive: Drive,
        item: Item,
        selected: set[str] | None,
        view: render.ItemView | None = None,
    ) -> JSON:
        view = view or render.ItemView()
        view.sharepoint_ids = selected is not None and "sharepointIds" in selected
        view.selected = selected
        wants_url = selected is None or "content.downloadUrl" in selected
        if wants_url and self.download_url is not None:
            maker = self.download_url
            view.download_url = lambda target: maker(request, drive, target)
        return render.item_json(self.tenant, drive, item, view)

    def _paged(self, request: Request, payloads: list[JSON], entity: str) -> Response:
        """A `$top`/`$skiptoken` page of an in-memory collection."""
        top = query.top(request)
        start = query.decode_skip(request.query.get("$skiptoken"))
        page = payloads[start : start + top]
        body: JSON = {"@odata.context": f"{request.base_url}/v1.0/$metadata#{entity}"}
        if start + top < len(payloads):
            pairs = [(k, v) for k, v in query.kept_query(request) if k != "$skiptoken"]
            pairs.append(("$skiptoken", query.encode_skip(start + top, "")))
            body["@odata.nextLink"] = query.link(request, request.raw_path, pairs)
        body["value"] = page
        return json_response(200, body)


def default_drive_of(site: Site) -> Drive:
    """The site's default library ("Shared Documents", else its first); raises GraphError 404
    itemNotFound for a site without libraries."""
    drives = list(site.drives.values())
    if not drives:
        raise ItemNotFound("Item not found")
    return next((d for d in drives if d.url_segment == "Shared Documents"), drives[0])


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
