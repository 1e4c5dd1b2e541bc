"""The SharePoint REST endpoints over one tenant: a site's groups, their members, the site's
users, in SharePoint's own entities (SP.Group, SP.User; graph-facts §16.3).

The gateway (gateway.py) has authenticated the request, found its site (`locate`) and put it
in `request.context["site"]`, with the negotiated format in `request.context["odata"]`.
"""

from __future__ import annotations

import hashlib
import re

from ms365sync.emulator.sprest import render
from ms365sync.emulator.sprest.exceptions import (
    GroupNotFound,
    InvalidClientQuery,
    UserNotFound,
    WebNotFound,
)
from ms365sync.emulator.sprest.render import Complex, Entity, ODataFormat, Selection
from ms365sync.emulator.sprest.urls import ROUTES
from ms365sync.emulator.tenant.membership import member_login, member_principal_id, member_title
from ms365sync.emulator.tenant.model import (
    MemberKind,
    PrincipalKind,
    Role,
    Site,
    SiteGroup,
    SiteMember,
)
from ms365sync.emulator.tenant.tenant import Tenant
from ms365sync.emulator.transport.hosts import SHAREPOINT_SUFFIXES, split_host
from ms365sync.emulator.transport.http import Request, Response, Router, json_response

_SITE_API = re.compile(r"(?P<site>/(?:sites|teams)/[^/]+)/_api(?P<rest>/.*)?", re.IGNORECASE)
_ROLES = {"owner": Role.OWNER, "member": Role.WRITE, "visitor": Role.READ}
_NAME_ID_ISSUER = "urn:federation:microsoftonline"
_UNEMULATED = ("$filter", "$orderby", "$skip", "$skiptoken")
GROUPS = "SP.ApiData.Groups"
USERS = "SP.ApiData.Users"


class SharePointRestService:
    """Site groups and site users of one tenant, on `self.router` (paths after `/_api`)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.router = Router()
        for method, pattern, handler, cost in ROUTES:
            self.router.add(method, pattern, getattr(self, handler), cost=cost, flags=re.I)

    def locate(self, request: Request) -> tuple[Site, str]:
        """The site a request is for and its path after `/_api`.

        On a SharePoint host the site is found by host and path; on any other host (the
        emulator's loopback origin) by path alone (graph-facts §16.7). Raises WebNotFound.
        """
        found = _SITE_API.fullmatch(request.path)
        if found is None:
            raise WebNotFound()
        path, rest = found.group("site"), found.group("rest") or "/"
        name, _ = split_host(request.host)
        with self.tenant.lock:
            if name.endswith(SHAREPOINT_SUFFIXES):
                site = self.tenant.site_by_path(name, path)
                candidates = [] if site is None else [site]
            else:
                wanted = path.lower()
                candidates = [s for s in self.tenant.sites.values() if s.path.lower() == wanted]
        if len(candidates) > 1:
            raise InvalidClientQuery(
                f"Sites on {len(candidates)} host names have the path {path}; the emulator "
                "cannot tell them apart on its loopback origin (use the SharePoint host name)."
            )
        if not candidates:
            raise WebNotFound()
        return candidates[0], rest

    # ------------------------------------------------------------------ handlers

    def site_groups(self, request: Request) -> Response:
        site = _site(request)
        with self.tenant.lock:
            expand = _expanded(request)
            entities = [self._group_entity(site, g, expand) for g in _groups_by_id(site)]
            return self._collection(request, site, GROUPS, entities)

    def site_group(self, request: Request, group_id: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            group = _group_by_id(site, int(group_id))
            entity = self._group_entity(site, group, _expanded(request))
            return self._single(request, site, GROUPS, entity)

    def site_group_named(self, request: Request, name: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            group = _group_by_name(site, name)
            entity = self._group_entity(site, group, _expanded(request))
            return self._single(request, site, GROUPS, entity)

    def associated_group(self, request: Request, role: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            group = site.groups[_ROLES[role.lower()]]
            entity = self._group_entity(site, group, _expanded(request))
            return self._single(request, site, GROUPS, entity)

    def site_group_users(self, request: Request, group_id: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            return self._users(request, site, _group_by_id(site, int(group_id)))

    def site_group_named_users(self, request: Request, name: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            return self._users(request, site, _group_by_name(site, name))

    def associated_group_users(self, request: Request, role: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            return self._users(request, site, site.groups[_ROLES[role.lower()]])

    def site_users(self, request: Request) -> Response:
        site = _site(request)
        with self.tenant.lock:
            entities = [self._user_entity(site, m) for m in self._site_principals(site)]
            return self._collection(request, site, USERS, entities)

    def site_user(self, request: Request, user_id: str) -> Response:
        site = _site(request)
        with self.tenant.lock:
            for member in self._site_principals(site):
                if member_principal_id(self.tenant, member) == int(user_id):
                    return self._single(request, site, USERS, self._user_entity(site, member))
        raise UserNotFound()

    # ------------------------------------------------------------------ entities

    def _users(self, request: Request, site: Site, group: SiteGroup) -> Response:
        entities = [self._user_entity(site, member) for member in group.members]
        return self._collection(request, site, USERS, entities)

    def _group_entity(self, site: Site, group: SiteGroup, expand: list[str]) -> Entity:
        """An SP.Group, with its `$expand`ed Users or Owner (expansions do not nest)."""
        owners = site.groups[Role.OWNER]
        entity = Entity(
            "SP.Group",
            f"Web/SiteGroups/GetById({group.id})",
            {
                "Id": group.id,
                "IsHiddenInUI": False,
                "LoginName": group.title,
                "Title": group.title,
                "PrincipalType": 8,
                "AllowMembersEditMembership": False,
                "AllowRequestToJoinLeave": False,
                "AutoAcceptRequestToJoinLeave": False,
                "Description": group.description,
                "OnlyAllowMembersViewMembership": False,
                "OwnerTitle": owners.title,
                "RequestToJoinLeaveEmailSetting": None,
            },
            ("Owner", "Users"),
        )
        for name in expand:
            if name == "users":
                entity.expanded["Users"] = [self._user_entity(site, m) for m in group.members]
            elif name == "owner":
                entity.expanded["Owner"] = self._group_entity(site, owners, [])
            else:
                raise InvalidClientQuery(f"The property '{name}' cannot be expanded.")
        return entity

    def _user_entity(self, site: Site, member: SiteMember) -> Entity:
        """A site-group member as an SP.User: people with PrincipalType 1, groups and
        claims with 4 (SharePoint's "security group")."""
        kind, ref = member
        tenant = self.tenant
        principal_id = member_principal_id(tenant, member)
        user = tenant.users.get(ref) if kind is MemberKind.USER else None
        email = ""
        if user is not None:
            email = user.email
        elif kind in (MemberKind.GROUP, MemberKind.GROUP_OWNERS):
            group = tenant.groups[ref]
            email = group.email if group.is_microsoft_365 else ""
        is_admin = kind is MemberKind.GROUP_OWNERS and site.group_id == ref
        user_id = None
        if user is not None:
            user_id = Complex(
                "SP.UserIdInfo", {"NameId": _name_id(user.id), "NameIdIssuer": _NAME_ID_ISSUER}
            )
        return Entity(
            "SP.User",
            f"Web/GetUserById({principal_id})",
            {
                "Id": principal_id,
                "IsHiddenInUI": False,
                "LoginName": member_login(tenant, member),
                "Title": member_title(tenant, member),
                "PrincipalType": 1 if user is not None else 4,
                "Email": email,
                "Expiration": "",
                "IsEmailAuthenticationGuestUser": False,
                "IsShareByEmailGuestUser": False,
                "IsSiteAdmin": is_admin,
                "UserId": user_id,
                "UserPrincipalName": None if user is None else user.user_principal_name,
            },
            ("Alerts", "Groups"),
        )

    def _site_principals(self, site: Site) -> list[SiteMember]:
        """Everyone the site knows as a user: its groups' members and every user and Entra
        group granted on an item of its libraries or named by a sharing link, by id."""
        known: dict[SiteMember, None] = {}
        for group in site.groups.values():
            known.update(dict.fromkeys(group.members))
        for drive in site.drives.values():
            for item in drive.root.walk():
                for kind, ref in item.grants or {}:
                    if kind is PrincipalKind.USER:
                        known[(MemberKind.USER, ref)] = None
                    elif kind is PrincipalKind.GROUP:
                        known[(MemberKind.GROUP, ref)] = None
            for link in drive.links.values():
                known.update(dict.fromkeys((MemberKind.USER, r) for r in link.recipients))
        return sorted(known, key=lambda member: member_principal_id(self.tenant, member))

    # ------------------------------------------------------------------ answers

    def _collection(
        self, request: Request, site: Site, entity_set: str, entities: list[Entity]
    ) -> Response:
        _refuse_unemulated(request)
        top = request.query.get("$top")
        if top is not None:
            if not top.isdigit():
                raise InvalidClientQuery(f"Invalid value '{top}' for $top.")
            entities = entities[: int(top)]
        fmt, web = _format(request), _web(request, site)
        selection = _selection(request, entities[0] if entities else None)
        payload = render.collection(fmt, web, entity_set, entities, selection)
        return json_response(200, payload, content_type=fmt.content_type)

    def _single(self, request: Request, site: Site, entity_set: str, entity: Entity) -> Response:
        fmt, web = _format(request), _web(request, site)
        payload = render.single(fmt, web, entity_set, entity, _selection(request, entity))
        return json_response(200, payload, content_type=fmt.content_type)


# ---------------------------------------------------------------------- helpers


def _site(request: Request) -> Site:
    site = request.context["site"]
    assert isinstance(site, Site)
    return site


def _format(request: Request) -> ODataFormat:
    fmt = request.context.get("odata", ODataFormat.MINIMAL)
    assert isinstance(fmt, ODataFormat)
    return fmt


def _web(request: Request, site: Site) -> str:
    """The site's URL on the request's own origin, so the links in an answer work there."""
    return f"{request.base_url}{site.path}"


def _selection(request: Request, entity: Entity | None) -> Selection:
    return render.parse_select(request.query.get("$select"), entity)


def _expanded(request: Request) -> list[str]:
    raw = request.query.get("$expand", "")
    return [part.strip().lower() for part in raw.split(",") if part.strip()]


def _groups_by_id(site: Site) -> list[SiteGroup]:
    return sorted(site.groups.values(), key=lambda group: group.id)


def _group_by_id(site: Site, group_id: int) -> SiteGroup:
    for group in site.groups.values():
        if group.id == group_id:
            return group
    raise GroupNotFound()


def _group_by_name(site: Site, name: str) -> SiteGroup:
    for group in site.groups.values():
        if group.title.lower() == name.lower():
            return group
    raise GroupNotFound()


def _name_id(object_id: str) -> str:
    """A user's NameId: 16 hex digits, like the PUIDs SharePoint shows, stable per user."""
    return "1003" + hashlib.sha1(object_id.encode(), usedforsecurity=False).hexdigest()[:12]


def _refuse_unemulated(request: Request) -> None:
    for option in _UNEMULATED:
        if option in request.query:
            raise InvalidClientQuery(
                f"The emulator does not support {option} on SharePoint REST collections."
            )
