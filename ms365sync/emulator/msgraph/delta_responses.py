"""`/root/delta` as a handler: a round's cursor from the token, its pages, its links and the
410s (the feed itself, tokens and the journal scan, is delta.py); and the same journal seen
as the library's list (`/sites/{site}/lists/{list}/items/delta`, graph-facts §18.1)."""

from __future__ import annotations

from ms365sync.emulator.msgraph import delta as deltas
from ms365sync.emulator.msgraph import listitems, query, render
from ms365sync.emulator.msgraph.exceptions import NotSupported, ResyncRequired
from ms365sync.emulator.msgraph.resources import JSON, GraphResources
from ms365sync.emulator.tenant.model import Drive, Item, Tombstone
from ms365sync.emulator.transport.http import Request, Response, json_response


class DeltaResponses(GraphResources):
    """The delta endpoint over the tenant's change journals."""

    def delta(
        self,
        request: Request,
        drive_id: str,
        item_id: str | None = None,
        fn_token: str | None = None,
    ) -> Response:
        query.reject_permission_expand(request)
        query.reject_list_item_on_delta(request)
        with self.tenant.lock:
            drive = self._drive(request, drive_id)
            if item_id not in (None, "root", drive.root.id):
                raise NotSupported("view.delta can only be called on the root.")
            selected = render.parse_select(
                request.query.get("$select"), render.DRIVE_ITEM_PROPERTIES, "driveItem"
            )
            token = fn_token if fn_token is not None else request.query.get("token")
            self._check_resync(request, drive, token)
            if token == "latest":
                return self._delta_latest(request, drive, "driveItem")
            cursor = self._cursor(drive, token)
            return self._delta_page(request, drive, cursor, selected)

    def _check_resync(self, request: Request, drive: Drive, token: str | None) -> None:
        """Raise the 410 a resync asked for. It says a token is no longer usable, so only
        requests carrying one get it; a fresh enumeration (the client's answer to a 410)
        always starts."""
        carries_token = bool(token) and token != "latest"
        if carries_token and (drive.resync_pending or self.fault("resync", request)):
            drive.resync_pending = False
            raise self._resync(request, drive)

    def list_delta(self, request: Request, site_ref: str, list_id: str) -> Response:
        """The library's list items changed since a token, as listItems (`$expand=fields`
        adds their columns), from the same journal and tokens as the drive's delta; the
        root folder is no list item, and a round lists no ancestors [INFER]."""
        fields, selected = listitems.expanded_fields(request.query.get("$expand"))
        with self.tenant.lock:
            drive = self._site_list(request, site_ref, list_id)
            token = request.query.get("token")
            self._check_resync(request, drive, token)
            if token == "latest":
                return self._delta_latest(request, drive, "listItem")
            cursor = self._cursor(drive, token)
            emissions, position, done = deltas.scan(
                drive, cursor, limit=query.top(request), show_sharing=False
            )
            values = [
                self._list_entry(request, drive, e.target, fields, selected)
                for e in emissions
                if not (isinstance(e.target, Item) and e.target.is_root)
            ]
            body = self._delta_body(
                request, drive, "listItem", cursor, position=position, done=done
            )
            body["value"] = values
            return json_response(200, body)

    def _list_entry(
        self,
        request: Request,
        drive: Drive,
        target: Item | Tombstone,
        fields: bool,
        selected: set[str] | None,
    ) -> JSON:
        if isinstance(target, Tombstone):  # [INFER] the drive delta's tombstone, as a row
            return {"id": str(target.list_item_id), "deleted": {"state": "deleted"}}
        return listitems.list_item_json(
            self.tenant, drive, target, base_url=request.base_url, fields=fields,
            selected=selected, collection=True,
        )  # fmt: skip

    def _resync(self, request: Request, drive: Drive) -> ResyncRequired:
        """410 resyncRequired; every other one carries a Location to a fresh enumeration
        (docs), the rest none (real captures), so clients are exercised with both."""
        error = ResyncRequired()
        self._resyncs += 1
        if self._resyncs % 2 == 0:
            error.headers.append(("Location", query.link(request, query.delta_path(request), [])))
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

    def _delta_latest(self, request: Request, drive: Drive, kind: str) -> Response:
        seq = drive.journal.seq
        cursor = deltas.Cursor(base=seq, upto=seq, after=seq, started=self.tenant.now())
        return json_response(
            200,
            {
                "@odata.context": f"{request.base_url}/v1.0/$metadata#Collection({kind})",
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
        body = self._delta_body(request, drive, "driveItem", cursor, position=position, done=done)
        body["value"] = values
        return json_response(200, body)

    def _delta_body(
        self,
        request: Request,
        drive: Drive,
        kind: str,
        cursor: deltas.Cursor,
        *,
        position: int,
        done: bool,
    ) -> JSON:
        """A page's body but its values: the context, and the deltaLink when the round is
        `done`, else the nextLink from `position`."""
        body: JSON = {"@odata.context": f"{request.base_url}/v1.0/$metadata#Collection({kind})"}
        if done:
            final = deltas.Cursor(cursor.upto, cursor.upto, cursor.upto, self.tenant.now())
            body["@odata.deltaLink"] = self._delta_link(request, drive, final, final=True)
        else:
            following = deltas.Cursor(cursor.base, cursor.upto, position, cursor.started)
            body["@odata.nextLink"] = self._delta_link(request, drive, following, final=False)
        return body

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
        return query.link(request, query.delta_path(request), pairs)
