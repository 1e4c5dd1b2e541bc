"""Graph v1.0 endpoints a SharePoint library sync uses: sites, drives, items, children, delta,
permissions and content, as the handlers the routing table (urls.py) names; the directory's
(users, groups, members) are in directory.py.
"""

from __future__ import annotations

import re

from ms365sync.emulator.login.directory import SITES_SELECTED
from ms365sync.emulator.msgraph import columns, listitems, query, render
from ms365sync.emulator.msgraph.delta_responses import DeltaResponses
from ms365sync.emulator.msgraph.directory import DirectoryResponses
from ms365sync.emulator.msgraph.exceptions import (
    AccessDenied,
    BadRequest,
    InvalidRequest,
    ItemNotFound,
    MySiteNotFound,
    NotSupported,
)
from ms365sync.emulator.msgraph.refusals import refusal_error
from ms365sync.emulator.msgraph.resources import (
    JSON,
    SITE_NOT_FOUND,
    DownloadUrlFn,
    FaultFn,
    default_drive_of,
    is_guid,
    no_faults,
)
from ms365sync.emulator.msgraph.urls import DIRECTORY_ROUTES, ROUTES, SITE_DRIVE_ROUTES
from ms365sync.emulator.tenant.model import Drive, Item, Site
from ms365sync.emulator.tenant.permissions import render_permissions
from ms365sync.emulator.tenant.quirks import DownloadRefusedError
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.http import (
    DIRECTORY_BUDGET,
    Headers,
    Request,
    Response,
    json_response,
)


class GraphService(DirectoryResponses, DeltaResponses):
    """The Graph endpoints over one tenant, on `self.router` in the order of `urls.ROUTES`
    and `urls.SITE_DRIVE_ROUTES`, then `urls.DIRECTORY_ROUTES` (charged to the directory's
    budget)."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        download_url: DownloadUrlFn | None = None,
        fault: FaultFn = no_faults,
    ) -> None:
        super().__init__(tenant, download_url=download_url, fault=fault)
        for method, pattern, handler, cost in ROUTES:
            self.router.add(method, pattern, getattr(self, handler), cost=cost)
        for method, pattern, handler, cost in SITE_DRIVE_ROUTES:
            self.router.add(method, pattern, self._in_site(getattr(self, handler)), cost=cost)
        for method, pattern, handler, cost in DIRECTORY_ROUTES:
            self.router.add(
                method,
                pattern,
                getattr(self, handler),
                cost=cost,
                budget=DIRECTORY_BUDGET,
                flags=re.IGNORECASE,
            )

    # ------------------------------------------------------------------ sites

    def list_sites(self, request: Request) -> Response:
        options = request.query
        with self.tenant.lock:
            sites = sorted(self.tenant.sites.values(), key=lambda s: (s.hostname, s.path))
            app = self._app(request)
            if "search" in options:
                if app is not None and SITES_SELECTED in app.roles and len(app.roles) == 1:
                    raise AccessDenied()
                sites = [s for s in sites if _matches(s, options["search"])]
            if app is not None:
                sites = [s for s in sites if app.can_read_site(s.id)]
            payloads = [render.site_json(self.tenant, s) for s in sites]
        return self._paged(request, payloads, "sites")

    def root_site(self, request: Request) -> Response:
        raise ItemNotFound(SITE_NOT_FOUND)

    def site_by_path(self, request: Request, host: str, path: str) -> Response:
        with self.tenant.lock:
            site = self._site_from_path(request, host, path)
            return self._site_response(request, site)

    def site_by_id(self, request: Request, site_ref: str) -> Response:
        with self.tenant.lock:
            composite = "," in site_ref.replace("%2C", ",").replace("%2c", ",")
            if not composite and not is_guid(site_ref):
                # /sites/{hostname} is the tenant's root site, which the emulator has none of.
                raise ItemNotFound(SITE_NOT_FOUND)
            # A bare site-collection GUID resolves to the collection's root web (graph-facts §2.2,
            # microsoft-graph-docs #6540).
            site = self._site_from_ref(request, site_ref)
            return self._site_response(request, site)

    def deep_path_rejected(self, request: Request, host: str, path: str) -> Response:
        """Navigation past `…:/drive` or `…:/drives` in the path form was rejected with 400
        "Url specified is invalid" (graph-facts §2.1, msgraph-sdk-dotnet #994)."""
        raise InvalidRequest("Url specified is invalid.")

    def _site_response(self, request: Request, site: Site) -> Response:
        selected = render.parse_select(request.query.get("$select"), render.SITE_PROPERTIES, "site")
        with_ids = selected is not None and "sharepointIds" in selected
        payload = render.site_json(self.tenant, site, with_ids=with_ids)
        payload = {
            "@odata.context": f"{request.base_url}/v1.0/$metadata#sites/$entity",
            **render.apply_select(payload, selected),
        }
        return json_response(200, payload)

    def drives_by_path(self, request: Request, host: str, path: str) -> Response:
        with self.tenant.lock:
            return self._drives_response(request, self._site_from_path(request, host, path))

    def drives_of_site(self, request: Request, site_ref: str) -> Response:
        with self.tenant.lock:
            return self._drives_response(request, self._site_from_ref(request, site_ref))

    def _drives_response(self, request: Request, site: Site) -> Response:
        selected = render.parse_select(
            request.query.get("$select"), render.DRIVE_PROPERTIES, "drive"
        )
        show_system = selected is not None and "system" in selected
        payloads = [
            render.apply_select(_drive_payload(self.tenant, d, selected), selected)
            for d in site.drives.values()
            if show_system or not d.system
        ]
        return self._paged(request, payloads, "drives")

    def default_drive_by_path(self, request: Request, host: str, path: str) -> Response:
        with self.tenant.lock:
            return self._default_drive(request, self._site_from_path(request, host, path))

    def default_drive(self, request: Request, site_ref: str) -> Response:
        with self.tenant.lock:
            return self._default_drive(request, self._site_from_ref(request, site_ref))

    def _default_drive(self, request: Request, site: Site) -> Response:
        return self._drive_response(request, default_drive_of(site))

    # ------------------------------------------------------------------ drives and items

    def get_drive(self, request: Request, drive_id: str) -> Response:
        with self.tenant.lock:
            return self._drive_response(request, self._drive(request, drive_id))

    def get_list(self, request: Request, drive_id: str) -> Response:
        """The document library as a list (graph-facts §18.1)."""
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            context = f"{request.base_url}/v1.0/$metadata#drives('{drive.id}')/list/$entity"
            return json_response(200, {"@odata.context": context, **listitems.list_json(drive)})

    def list_columns(self, request: Request, site_ref: str, list_id: str) -> Response:
        """The library's columns (graph-facts §18.4): its custom columns as columnDefinition
        resources; the hidden ones too when `$select` names `hidden` (DOC
        columndefinition.md)."""
        with self.tenant.lock:
            drive = self._site_list(request, site_ref, list_id)
            return self._columns_response(request, drive)

    def drive_list_columns(self, request: Request, drive_id: str) -> Response:
        """`/drives/{drive-id}/list/columns`, as `list_columns`."""
        with self.tenant.lock:
            return self._columns_response(request, self._drive(request, drive_id))

    def _columns_response(self, request: Request, drive: Drive) -> Response:
        raw = request.query.get("$select")
        chosen = {name.strip() for name in raw.split(",") if name.strip()} if raw else None
        entries = columns.column_definitions(drive, with_hidden="hidden" in (chosen or ()))
        if chosen is not None:
            entries = [{k: v for k, v in e.items() if k in chosen} for e in entries]
        context = (
            f"{request.base_url}/v1.0/$metadata#sites('{drive.site.id}')"
            f"/lists('{drive.list_guid}')/columns"
        )
        return json_response(200, {"@odata.context": context, "value": entries})

    def _drive_response(self, request: Request, drive: Drive) -> Response:
        selected = render.parse_select(
            request.query.get("$select"), render.DRIVE_PROPERTIES, "drive"
        )
        payload = render.apply_select(_drive_payload(self.tenant, drive, selected), selected)
        return json_response(
            200,
            {"@odata.context": f"{request.base_url}/v1.0/$metadata#drives/$entity", **payload},
        )

    def list_item(self, request: Request, drive_id: str, item_id: str) -> Response:
        """A file's or folder's list item, its columns with `$expand=fields` (graph-facts §18)."""
        fields, selected = listitems.expanded_fields(request.query.get("$expand"))
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            item = self._item(drive, item_id, None)
            if item.is_root:
                raise ItemNotFound("Item not found")  # the root folder is no list item
            payload = listitems.list_item_json(
                self.tenant, drive, item, base_url=request.base_url, fields=fields,
                selected=selected,
            )  # fmt: skip
            context = (
                f"{request.base_url}/v1.0/$metadata#drives('{drive.id}')/items('{item.id}')"
                "/listItem/$entity"
            )
            return json_response(200, {"@odata.context": context, **payload})

    def _expand_list_item(self, request: Request, drive: Drive, item: Item, payload: JSON) -> None:
        """Add `listItem` to a driveItem's `payload` when `$expand` asks for it."""
        wanted, fields, selected = listitems.expanded_list_item(request.query.get("$expand"))
        if wanted and not item.is_root:
            payload["listItem"] = listitems.list_item_json(
                self.tenant, drive, item, base_url=request.base_url, fields=fields,
                selected=selected,
            )  # fmt: skip

    def list_items_rejected(self, request: Request, drive_id: str) -> Response:
        raise InvalidRequest("Enumerating items of a drive is not supported; use delta.")

    def get_item(self, request: Request, drive_id: str, item_id: str | None = None) -> Response:
        return self._item_response(request, drive_id, item_id, None)

    def get_item_by_path(self, request: Request, drive_id: str, path: str) -> Response:
        return self._item_response(request, drive_id, None, path)

    def _item_response(
        self, request: Request, drive_id: str, item_id: str | None, path: str | None
    ) -> Response:
        query.reject_permission_expand(request)
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            item = self._item(drive, item_id, path)
            if query.not_modified(request, item):
                return Response(304)
            selected = render.parse_select(
                request.query.get("$select"), render.DRIVE_ITEM_PROPERTIES, "driveItem"
            )
            payload = render.apply_select(self._render(request, drive, item, selected), selected)
            self._expand_list_item(request, drive, item, payload)
            if "children" in request.query.get("$expand", "") and item.is_folder:
                payload["children"] = [
                    self._render(request, drive, child, None)
                    for child in query.sorted_children(item)[: query.DEFAULT_PAGE]
                ]
            context = f"{request.base_url}/v1.0/$metadata#drives('{drive.id}')/items/$entity"
            return json_response(200, {"@odata.context": context, **payload})

    def children(
        self,
        request: Request,
        drive_id: str,
        item_id: str | None = None,
        path: str | None = None,
    ) -> Response:
        query.reject_permission_expand(request)
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            folder = self._item(drive, item_id, path)
            if not folder.is_folder:
                raise ItemNotFound("Item not found")
            selected = render.parse_select(
                request.query.get("$select"), render.DRIVE_ITEM_PROPERTIES, "driveItem"
            )
            top = query.top(request)
            after_name = query.decode_skip_name(request.query.get("$skiptoken"))
            ordered = query.sorted_children(folder)
            if after_name is not None:
                # The whole sort key: with strict_names off, "a.txt" and "A.txt" can be
                # siblings, and comparing lower-cased names alone would drop one at a page edge.
                after = query.name_key(after_name)
                ordered = [c for c in ordered if query.name_key(c.name) > after]
            page = ordered[:top]
            body: JSON = {
                "@odata.context": f"{request.base_url}/v1.0/$metadata#drives('{drive.id}')"
                f"/items('{folder.id}')/children"
            }
            if len(ordered) > top:
                pairs = [(k, v) for k, v in query.kept_query(request) if k != "$skiptoken"]
                pairs.append(("$skiptoken", query.encode_skip(top, page[-1].name)))
                body["@odata.nextLink"] = query.link(request, request.raw_path, pairs)
            body["value"] = []
            for child in page:
                rendered = self._render(request, drive, child, selected)
                payload = render.apply_select(rendered, selected)
                self._expand_list_item(request, drive, child, payload)
                body["value"].append(payload)
            return json_response(200, body)

    # ------------------------------------------------------------------ /me

    def me(self, request: Request) -> Response:
        """`/me` and below. An app-only token has no user: Graph's 400 (msgraph-sdk-php #1163).
        A delegated token (`scp`) names a user, whose OneDrive the emulator does not model, so
        `/me/drive` answers as for a user without one (alcionai/corso #966)."""
        claims = request.context.get("claims")
        if not isinstance(claims, dict) or "scp" not in claims:
            raise BadRequest("/me request is only valid with delegated authentication flow.")
        raise MySiteNotFound()

    # ------------------------------------------------------------------ permissions, content

    def permissions(self, request: Request, drive_id: str, item_id: str | None = None) -> Response:
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            item = self._item(drive, item_id)
            entries = render_permissions(self.tenant, drive, item)
            context = (
                f"{request.base_url}/v1.0/$metadata#drives('{drive.id}')"
                f"/items('{item.id}')/permissions"
            )
            return json_response(200, {"@odata.context": context, "value": entries})

    def permission(
        self, request: Request, drive_id: str, perm_id: str, item_id: str | None = None
    ) -> Response:
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            item = self._item(drive, item_id)
            for entry in render_permissions(self.tenant, drive, item):
                if entry["id"] == perm_id:
                    return json_response(200, entry)
            raise ItemNotFound("Item not found")

    def content(
        self,
        request: Request,
        drive_id: str,
        item_id: str | None = None,
        path: str | None = None,
    ) -> Response:
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            item = self._item(drive, item_id, path)
            if item.is_folder and not item.is_package:
                raise InvalidRequest("The action is only supported on files.")
            try:
                self.tenant.open_download(drive, item.id)
            except DownloadRefusedError as refused:
                raise refusal_error(refused.refusal) from None
            if query.not_modified(request, item):
                return Response(304)
            if self.download_url is None:
                raise NotSupported("Downloads are not available.", status=501)
            location = self.download_url(request, drive, item)
        return Response(302, Headers([("Location", location), ("Content-Length", "0")]))


# ---------------------------------------------------------------------- helpers


def _drive_payload(tenant: Tenant, drive: Drive, selected: set[str] | None) -> JSON:
    chosen = selected or set()
    return render.drive_json(
        tenant, drive, with_ids="sharepointIds" in chosen, with_system="system" in chosen
    )


def _matches(site: Site, query: str) -> bool:
    needle = query.strip().strip('"').lower()
    if needle in ("", "*"):
        return True
    return any(needle in text.lower() for text in (site.display_name, site.name, site.path))
