"""The directory endpoints a membership snapshot uses: a group, its members, transitive
members and owners (with OData casts and `$count`), and a user (graph-facts §15).

Members are listed in object-id order, so a `$skiptoken` is simply "after this id" and paging
stays consistent while members come and go; each group's sorted lists are cached until its
tenant's `membership_version` changes, so paging a 2,000-member group costs one expansion.
"""

from __future__ import annotations

import bisect
import uuid
from urllib.parse import urlencode

from ms365sync.emulator.msgraph import directory_render as dr
from ms365sync.emulator.msgraph.exceptions import (
    AuthorizationRequestDenied,
    NotSupported,
    RequestBadRequest,
    ResourceNotFound,
)
from ms365sync.emulator.msgraph.resources import (
    JSON,
    DownloadUrlFn,
    FaultFn,
    GraphResources,
    no_faults,
)
from ms365sync.emulator.tenant.membership import transitive_member_ids
from ms365sync.emulator.tenant.model import Group, User
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.http import (
    Headers,
    Request,
    Response,
    json_response,
    parse_query_pairs,
)

_UNEMULATED = ("$filter", "$search", "$orderby", "$expand")
_EVENTUAL = "eventual"


class DirectoryResponses(GraphResources):
    """`/groups/{id}`, `/groups/{id}/members|transitiveMembers|owners`, `/users/{id}`."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        download_url: DownloadUrlFn | None = None,
        fault: FaultFn = no_faults,
    ) -> None:
        super().__init__(tenant, download_url=download_url, fault=fault)
        # (group id, relation) -> (membership version, object ids in order)
        self._member_lists: dict[tuple[str, str], tuple[int, list[str]]] = {}

    # ------------------------------------------------------------------ handlers

    def get_group(self, request: Request, group_id: str) -> Response:
        with self.tenant.lock:
            self._require_groups(request)
            group = self._group(group_id)
            selected = dr.parse_select(request.query.get("$select"), dr.GROUP_PROPERTIES, "group")
            context = f"{request.base_url}/v1.0/$metadata#groups/$entity"
            return json_response(200, {"@odata.context": context, **dr.group_json(group, selected)})

    def get_user(self, request: Request, user_ref: str) -> Response:
        with self.tenant.lock:
            app = self._app(request)
            if app is not None and not app.reads_users:
                raise AuthorizationRequestDenied()
            user = self._user(user_ref)
            selected = dr.parse_select(request.query.get("$select"), dr.USER_PROPERTIES, "user")
            context = f"{request.base_url}/v1.0/$metadata#users/$entity"
            return json_response(200, {"@odata.context": context, **dr.user_json(user, selected)})

    def group_members(
        self, request: Request, group_id: str, cast: str | None = None, count: str | None = None
    ) -> Response:
        return self._relation(request, group_id, "members", cast, count)

    def group_transitive_members(
        self, request: Request, group_id: str, cast: str | None = None, count: str | None = None
    ) -> Response:
        return self._relation(request, group_id, "transitiveMembers", cast, count)

    def group_owners(
        self, request: Request, group_id: str, cast: str | None = None, count: str | None = None
    ) -> Response:
        return self._relation(request, group_id, "owners", cast, count)

    # ------------------------------------------------------------------ collections

    def _relation(
        self, request: Request, group_id: str, relation: str, cast: str | None, count: str | None
    ) -> Response:
        _refuse_unemulated(request)
        with self.tenant.lock:
            self._require_groups(request)
            group = self._group(group_id)
            ids = self._sorted_ids(group, relation.lower())
            if cast is not None:
                ids = [i for i in ids if (i in self.tenant.users) == (cast.lower() == "user")]
            if count is not None:
                _require_eventual(request, "Count")
                body = str(len(ids)).encode()
                return Response(200, Headers([("Content-Type", "text/plain")]), body)
            return self._page(request, ids, cast)

    def _page(self, request: Request, ids: list[str], cast: str | None) -> Response:
        top = dr.page_size(request)
        after = dr.decode_cursor(request.query.get("$skiptoken"))
        start = 0 if after is None else bisect.bisect_right(ids, after)
        chosen = ids[start : start + top]
        selected = self._selection(request, cast)
        body: JSON = {"@odata.context": _context(request, cast, selected)}
        if request.query.get("$count", "").lower() == "true":
            _require_eventual(request, "$count")
            body["@odata.count"] = len(ids)
        if start + top < len(ids):
            body["@odata.nextLink"] = _next_link(request, dr.encode_cursor(chosen[-1]))
        body["value"] = [self._member_json(request, i, selected, cast) for i in chosen]
        return json_response(200, body)

    def _selection(self, request: Request, cast: str | None) -> list[str] | None:
        if cast is None:
            allowed, type_name = dr.USER_PROPERTIES | dr.GROUP_PROPERTIES, "directoryObject"
        elif cast.lower() == "user":
            allowed, type_name = dr.USER_PROPERTIES, "user"
        else:
            allowed, type_name = dr.GROUP_PROPERTIES, "group"
        return dr.parse_select(request.query.get("$select"), allowed, type_name)

    def _member_json(
        self, request: Request, object_id: str, selected: list[str] | None, cast: str | None
    ) -> JSON:
        user = self.tenant.users.get(object_id)
        if user is not None:
            app = self._app(request)
            readable = app is None or app.reads_users
            names = _own(selected, dr.USER_PROPERTIES)
            payload, odata_type = dr.user_json(user, names, readable=readable), dr.USER_TYPE
        else:
            names = _own(selected, dr.GROUP_PROPERTIES)
            group = self.tenant.groups[object_id]
            payload, odata_type = dr.group_json(group, names), dr.GROUP_TYPE
        return payload if cast is not None else {"@odata.type": odata_type, **payload}

    def _sorted_ids(self, group: Group, relation: str) -> list[str]:
        """The relation's object ids in order, cached per membership version."""
        key = (group.id, relation)
        version = self.tenant.membership_version
        cached = self._member_lists.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        if relation == "members":
            ids = list(group.members)
        elif relation == "owners":
            ids = list(group.owners)
        else:
            ids = transitive_member_ids(self.tenant, group)
        ordered = sorted(ids)
        self._member_lists[key] = (version, ordered)
        return ordered

    # ------------------------------------------------------------------ lookups

    def _require_groups(self, request: Request) -> None:
        app = self._app(request)
        if app is not None and not app.reads_groups:
            raise AuthorizationRequestDenied()

    def _group(self, group_id: str) -> Group:
        try:
            key = str(uuid.UUID(group_id))
        except ValueError:
            raise RequestBadRequest(f"Invalid object identifier '{group_id}'.") from None
        group = self.tenant.groups.get(key)
        if group is None:
            raise ResourceNotFound(group_id)
        return group

    def _user(self, user_ref: str) -> User:
        lowered = user_ref.lower()
        found = self.tenant.users.get(lowered)
        if found is None and "@" in lowered:
            found = next(
                (u for u in self.tenant.users.values() if u.user_principal_name.lower() == lowered),
                None,
            )
        if found is None:
            raise ResourceNotFound(user_ref)
        return found


def _own(selected: list[str] | None, allowed: frozenset[str]) -> list[str] | None:
    """The selected names a kind of object has (a user does not list `groupTypes`)."""
    return None if selected is None else [name for name in selected if name in allowed]


def _context(request: Request, cast: str | None, selected: list[str] | None) -> str:
    entity = "directoryObjects" if cast is None else f"{cast.lower()}s"
    if selected is not None:
        entity += "(" + ",".join(selected) + ")"
    return f"{request.base_url}/v1.0/$metadata#{entity}"


def _next_link(request: Request, token: str) -> str:
    """The same request on its own origin with a new `$skiptoken` (graph-facts §15.3)."""
    pairs = [(k, v) for k, v in parse_query_pairs(request.query_string) if k != "$skiptoken"]
    pairs.append(("$skiptoken", token))
    return f"{request.base_url}{request.raw_path}?" + urlencode(pairs, safe="$,()")


def _require_eventual(request: Request, what: str) -> None:
    """`$count` needs `ConsistencyLevel: eventual` (graph-facts §15.3)."""
    if (request.headers.get("ConsistencyLevel") or "").strip().lower() != _EVENTUAL:
        raise RequestBadRequest(f"{what} is not currently supported.")


def _refuse_unemulated(request: Request) -> None:
    for option in _UNEMULATED:
        if option in request.query:
            raise NotSupported(
                f"The emulator does not support {option} on directory objects.", status=501
            )
