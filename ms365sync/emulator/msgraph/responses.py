"""Graph v1.0 endpoints a SharePoint library sync uses: sites, drives, items, children, delta,
permissions and content, as routes on the emulator's router.

Paths are matched after the `/v1.0` prefix is stripped, so `$batch` sub-requests (relative
URLs) reach the same handlers. Resource-unit costs follow SharePoint's table (graph-facts §9.2):
1 for a single-item read, delta with a token and a download, 2 for multi-item reads and
delta without a token, 5 for permissions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ms365sync.emulator.login.directory import SITES_SELECTED, AppRegistration
from ms365sync.emulator.msgraph import delta as deltas
from ms365sync.emulator.msgraph import query, render
from ms365sync.emulator.msgraph.exceptions import (
    AccessDenied,
    GraphError,
    InvalidRequest,
    ItemNotFound,
    NotSupported,
    ResyncRequired,
)
from ms365sync.emulator.tenant.model import Drive, Item, Site
from ms365sync.emulator.tenant.permissions import render_permissions
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.http import (
    Headers,
    Request,
    Response,
    Router,
    json_response,
)

JSON = dict[str, Any]
DownloadUrlFn = Callable[[Request, Drive, Item], str]
FaultFn = Callable[[str, Request], bool]

_SITE_NOT_FOUND = "The provided path does not exist, or does not represent a site"
_DRIVE = r"(?P<drive_id>[^/]+)"
_ITEM = r"(?:root|items/(?P<item_id>[^/]+))"


def _never(kind: str, request: Request) -> bool:
    return False


class GraphService:
    """The Graph endpoints over one tenant."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        download_url: DownloadUrlFn | None = None,
        fault: FaultFn = _never,
    ) -> None:
        self.tenant = tenant
        self.download_url = download_url
        self.fault = fault
        self.router = Router()
        self._resyncs = 0
        self._add_routes()

    def _add_routes(self) -> None:
        add = self.router.add
        site_path = r"/sites/(?P<host>[^/:,]+):(?P<path>/[^:]*)"
        add("GET", r"/sites", self.list_sites, cost=2)
        add("GET", r"/sites/root", self.root_site, cost=1)
        add("GET", site_path + r":?", self.site_by_path, cost=1)
        add("GET", site_path + r":/drives", self.drives_by_path, cost=2)
        add("GET", site_path + r":/drive", self.default_drive_by_path, cost=1)
        add("GET", site_path + r":/drives?/.+", self.deep_path_rejected, cost=1)
        add("GET", r"/sites/(?P<site_ref>[^/:]+)", self.site_by_id, cost=1)
        add("GET", r"/sites/(?P<site_ref>[^/:]+)/drives", self.drives_of_site, cost=2)
        add("GET", r"/sites/(?P<site_ref>[^/:]+)/drive", self.default_drive, cost=1)
        add("GET", rf"/drives/{_DRIVE}", self.get_drive, cost=1)
        add("GET", rf"/drives/{_DRIVE}/items", self.list_items_rejected, cost=1)
        add("GET", rf"/drives/{_DRIVE}/{_ITEM}", self.get_item, cost=1)
        add("GET", rf"/drives/{_DRIVE}/root:/(?P<path>[^:]+):?", self.get_item_by_path, cost=1)
        add("GET", rf"/drives/{_DRIVE}/{_ITEM}/children", self.children, cost=2)
        add("GET", rf"/drives/{_DRIVE}/root:/(?P<path>[^:]+):/children", self.children, cost=2)
        add("GET", rf"/drives/{_DRIVE}/{_ITEM}/delta(?:\(token='(?P<fn_token>[^']*)'\))?",
            self.delta, cost=_delta_cost)  # fmt: skip
        add("GET", rf"/drives/{_DRIVE}/{_ITEM}/permissions", self.permissions, cost=5)
        add("GET", rf"/drives/{_DRIVE}/{_ITEM}/permissions/(?P<perm_id>[^/]+)",
            self.permission, cost=5)  # fmt: skip
        add("GET", rf"/drives/{_DRIVE}/{_ITEM}/content", self.content, cost=1)
        add("GET", rf"/drives/{_DRIVE}/root:/(?P<path>[^:]+):/content", self.content, cost=1)

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
            if not composite and ":" not in site_ref and not _is_guid(site_ref):
                raise InvalidRequest("Invalid hostname for this tenancy")
            raise ItemNotFound("Requested site could not be found")
        self._check_site(request, site)
        return site

    def _site_from_path(self, request: Request, host: str, path: str) -> Site:
        site = self.tenant.site_by_path(host, path)
        if site is None:
            raise ItemNotFound(_SITE_NOT_FOUND)
        self._check_site(request, site)
        return site

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
        raise ItemNotFound(_SITE_NOT_FOUND)

    def site_by_path(self, request: Request, host: str, path: str) -> Response:
        with self.tenant.lock:
            site = self._site_from_path(request, host, path)
            return self._site_response(request, site)

    def site_by_id(self, request: Request, site_ref: str) -> Response:
        with self.tenant.lock:
            composite = "," in site_ref.replace("%2C", ",").replace("%2c", ",")
            if not composite and not _is_guid(site_ref):
                # /sites/{hostname} is the tenant's root site, which the emulator has none of.
                raise ItemNotFound(_SITE_NOT_FOUND)
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
        drives = list(site.drives.values())
        if not drives:
            raise ItemNotFound("Item not found")
        default = next((d for d in drives if d.url_segment == "Shared Documents"), drives[0])
        return self._drive_response(request, default)

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

    # ------------------------------------------------------------------ drives and items

    def get_drive(self, request: Request, drive_id: str) -> Response:
        with self.tenant.lock:
            return self._drive_response(request, self._drive(request, drive_id))

    def _drive_response(self, request: Request, drive: Drive) -> Response:
        selected = render.parse_select(
            request.query.get("$select"), render.DRIVE_PROPERTIES, "drive"
        )
        payload = render.apply_select(_drive_payload(self.tenant, drive, selected), selected)
        return json_response(
            200,
            {"@odata.context": f"{request.base_url}/v1.0/$metadata#drives/$entity", **payload},
        )

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
            if "children" in request.query.get("$expand", "") and item.is_folder:
                payload["children"] = [
                    self._render(request, drive, child, None)
                    for child in query.sorted_children(item)[: query.DEFAULT_PAGE]
                ]
            context = f"{request.base_url}/v1.0/$metadata#drives('{drive.id}')/items/$entity"
            return json_response(200, {"@odata.context": context, **payload})

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
        wants_url = selected is None or "content.downloadUrl" in selected
        if wants_url and self.download_url is not None:
            maker = self.download_url
            view.download_url = lambda target: maker(request, drive, target)
        return render.item_json(self.tenant, drive, item, view)

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
            body["value"] = [
                render.apply_select(self._render(request, drive, child, selected), selected)
                for child in page
            ]
            return json_response(200, body)

    # ------------------------------------------------------------------ delta

    def delta(
        self,
        request: Request,
        drive_id: str,
        item_id: str | None = None,
        fn_token: str | None = None,
    ) -> Response:
        query.reject_permission_expand(request)
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            if item_id not in (None, "root", drive.root.id):
                raise NotSupported("view.delta can only be called on the root.")
            selected = render.parse_select(
                request.query.get("$select"), render.DRIVE_ITEM_PROPERTIES, "driveItem"
            )
            token = fn_token if fn_token is not None else request.query.get("token")
            # 410 says a token is no longer usable, so only requests carrying one get it; a
            # fresh enumeration (the client's answer to a 410) always starts.
            carries_token = bool(token) and token != "latest"
            if carries_token and (drive.resync_pending or self.fault("resync", request)):
                drive.resync_pending = False
                raise self._resync(request, drive)
            if token == "latest":
                return self._delta_latest(request, drive)
            cursor = self._cursor(drive, token)
            return self._delta_page(request, drive, cursor, selected)

    def _resync(self, request: Request, drive: Drive) -> GraphError:
        """410 resyncRequired; every other one carries a Location to a fresh enumeration
        (docs), the rest none (real captures), so clients are exercised with both."""
        error = ResyncRequired()
        self._resyncs += 1
        if self._resyncs % 2 == 0:
            error.headers.append(
                ("Location", query.link(request, f"/v1.0/drives/{drive.id}/root/delta", []))
            )
        return error

    def _cursor(self, drive: Drive, token: str | None) -> deltas.Cursor:
        journal = drive.journal
        now = self.tenant.now()
        if not token:
            return deltas.Cursor(base=0, upto=journal.seq, after=0, started=now)
        moment = deltas.parse_timestamp(token)
        if moment is not None:
            # The round's tokens age from now, not from the (possibly old) moment asked for.
            base = journal.seq_at(moment)
            return deltas.Cursor(base=base, upto=journal.seq, after=base, started=now)
        cursor = deltas.decode_token(drive, token)
        lifetime = self.tenant.delta_token_lifetime_s
        expired = lifetime is not None and now - cursor.started > lifetime
        if expired or cursor.epoch != journal.epoch:
            raise ResyncRequired()
        if cursor.upto < 0:  # a deltaLink: a new round from its position
            return deltas.Cursor(cursor.base, journal.seq, cursor.base, now)
        return cursor

    def _delta_latest(self, request: Request, drive: Drive) -> Response:
        seq = drive.journal.seq
        cursor = deltas.Cursor(base=seq, upto=seq, after=seq, started=self.tenant.now())
        return json_response(
            200,
            {
                "@odata.context": f"{request.base_url}/v1.0/$metadata#Collection(driveItem)",
                "value": [],
                "@odata.deltaLink": self._delta_link(request, drive, cursor, final=True),
            },
        )

    def _delta_page(
        self, request: Request, drive: Drive, cursor: deltas.Cursor, selected: set[str] | None
    ) -> Response:
        prefer = query.prefer_tokens(request)
        app = self._app(request)
        show_sharing = prefer >= deltas.PREFER_SHARING and (
            app is None or app.sees_all_sharing_changes
        )
        emissions, position, done = deltas.scan(
            drive, cursor, limit=query.top(request), show_sharing=show_sharing
        )
        if cursor.incremental:
            emissions = list(deltas.with_ancestors(drive, emissions))
        hierarchical = "hierarchicalsharing" in prefer
        values = [
            render.apply_select(
                self._delta_entry(request, drive, e, hierarchical, selected), selected
            )
            for e in emissions
        ]
        body: JSON = {"@odata.context": f"{request.base_url}/v1.0/$metadata#Collection(driveItem)"}
        next_cursor = deltas.Cursor(cursor.base, cursor.upto, position, cursor.started)
        if done:
            final = deltas.Cursor(cursor.upto, cursor.upto, cursor.upto, self.tenant.now())
            body["@odata.deltaLink"] = self._delta_link(request, drive, final, final=True)
        else:
            body["@odata.nextLink"] = self._delta_link(request, drive, next_cursor, final=False)
        body["value"] = values
        return json_response(200, body)

    def _delta_entry(
        self,
        request: Request,
        drive: Drive,
        emission: deltas.Emission,
        hierarchical: bool,
        selected: set[str] | None,
    ) -> JSON:
        target = emission.target
        if not isinstance(target, Item):
            return render.tombstone_json(drive, target)
        view = render.ItemView(
            in_delta=True, hierarchical=hierarchical, shared_changed=emission.shared_changed
        )
        return self._render(request, drive, target, selected, view)

    def _delta_link(
        self, request: Request, drive: Drive, cursor: deltas.Cursor, *, final: bool
    ) -> str:
        pairs = [
            (k, v) for k, v in query.kept_query(request) if k in ("$select", "$top", "$expand")
        ]
        pairs.append(("token", deltas.encode_token(drive, cursor, final=final)))
        return query.link(request, f"/v1.0/drives/{drive.id}/root/delta", pairs)

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
            if item.is_folder:
                raise InvalidRequest("The action is only supported on files.")
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


def _delta_cost(request: Request) -> int:
    return 1 if "token" in request.query or "(token=" in request.raw_path else 2


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def _matches(site: Site, query: str) -> bool:
    needle = query.strip().strip('"').lower()
    if needle in ("", "*"):
        return True
    return any(needle in text.lower() for text in (site.display_name, site.name, site.path))
