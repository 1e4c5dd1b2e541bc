"""Users and groups as Graph's directory renders them, `$select` over them, and the
directory's paging: `$top` in 1..999 (100 by default) and opaque `$skiptoken` cursors.

Facts (graph-facts §15.3): a user comes with its default properties unless `$select` names
others; a member listed in a directoryObject collection carries `@odata.type` (not under an
OData cast); an app that may not read users gets its user members with `id` alone and every
other property null.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from typing import Any

from ms365sync.emulator.msgraph.exceptions import RequestBadRequest, UnsupportedQuery
from ms365sync.emulator.msgraph.render import iso
from ms365sync.emulator.tenant.model import Group, User
from ms365sync.emulator.transport.http import Request

JSON = dict[str, Any]

DEFAULT_PAGE = 100
MAX_PAGE = 999

USER_DEFAULT = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
)  # fmt: skip
USER_PROPERTIES = frozenset(
    {
        *USER_DEFAULT, "accountEnabled", "city", "companyName", "country", "createdDateTime",
        "creationType", "department", "employeeId", "externalUserState",
        "externalUserStateChangeDateTime", "identities", "mailNickname", "onPremisesSyncEnabled",
        "otherMails", "proxyAddresses", "userType", "deletedDateTime",
    }
)  # fmt: skip
GROUP_PROPERTIES = frozenset(
    {
        "id", "deletedDateTime", "classification", "createdDateTime", "creationOptions",
        "description", "displayName", "expirationDateTime", "groupTypes", "isAssignableToRole",
        "mail", "mailEnabled", "mailNickname", "membershipRule", "membershipRuleProcessingState",
        "onPremisesSyncEnabled", "preferredDataLocation", "proxyAddresses", "renewedDateTime",
        "resourceBehaviorOptions", "resourceProvisioningOptions", "securityEnabled",
        "securityIdentifier", "theme", "visibility",
    }
)  # fmt: skip
USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
_CURSOR_MAGIC = b"DSpt"  # real directory skip tokens decode to this prefix too


def parse_select(raw: str | None, allowed: frozenset[str], type_name: str) -> list[str] | None:
    """The `$select`ed names in order, or None; a name no directory object has is refused as
    Graph's OData parser refuses it."""
    if raw is None:
        return None
    chosen = [part.strip() for part in raw.split(",") if part.strip()]
    for name in chosen:
        if name not in allowed:
            raise RequestBadRequest(
                "Parsing OData Select and Expand failed: Could not find a property named "
                f"'{name}' on type 'microsoft.graph.{type_name}'."
            )
    return chosen


def user_json(user: User, selected: list[str] | None, *, readable: bool = True) -> JSON:
    """A user with its default or selected properties; with `readable` False only its id."""
    names = selected if selected is not None else list(USER_DEFAULT)
    if not readable:
        return {name: (user.id if name == "id" else None) for name in names}
    values = _user_values(user)
    return {name: values.get(name) for name in names}


def _user_values(user: User) -> JSON:
    given, _, surname = user.display_name.partition(" ")
    guest = user.is_guest
    return {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": given or None,
        "mail": user.email,
        "surname": surname or None,
        "userPrincipalName": user.user_principal_name,
        "id": user.id,
        "accountEnabled": True,
        "creationType": "Invitation" if guest else None,
        "externalUserState": "Accepted" if guest else None,
        "identities": [],
        "mailNickname": user.user_principal_name.split("@", 1)[0],
        "otherMails": [user.email] if guest else [],
        "proxyAddresses": [f"SMTP:{user.email}"],
        "userType": user.user_type.value,
    }


def group_json(group: Group, selected: list[str] | None) -> JSON:
    """A group with every property v1.0 returns by default, or the selected ones."""
    values = _group_values(group)
    names = selected if selected is not None else sorted(GROUP_PROPERTIES, key=_group_order)
    return {name: values.get(name) for name in names}


def _group_order(name: str) -> tuple[int, str]:
    return (0 if name == "id" else 1, name)


def _group_values(group: Group) -> JSON:
    unified = group.is_microsoft_365
    mail = group.email or None
    return {
        "id": group.id,
        "createdDateTime": iso(group.created),
        "creationOptions": [],
        "description": None,
        "displayName": group.display_name,
        "groupTypes": ["Unified"] if unified else [],
        "mail": mail,
        "mailEnabled": unified or mail is not None,
        "mailNickname": (group.email or group.display_name).split("@", 1)[0],
        "proxyAddresses": [f"SMTP:{mail}"] if mail else [],
        "renewedDateTime": iso(group.created),
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": [],
        "securityEnabled": not unified,
        "securityIdentifier": security_identifier(group.id),
        "visibility": "Private" if unified else None,
    }


def security_identifier(object_id: str) -> str:
    """The SID Entra derives from an object id: S-1-12-1 and the GUID's bytes as four
    little-endian 32-bit numbers."""
    parts = struct.unpack("<4I", uuid.UUID(object_id).bytes_le)
    return "S-1-12-1-" + "-".join(str(part) for part in parts)


# --------------------------------------------------------------------- paging


def page_size(request: Request) -> int:
    """`$top` (1..999) or 100; raises GraphError 400 Request_UnsupportedQuery otherwise."""
    raw = request.query.get("$top")
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise UnsupportedQuery(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_PAGE} inclusive."
        )
    return int(raw)


def encode_cursor(last_id: str) -> str:
    """An opaque `$skiptoken` resuming after the object `last_id` (ids are listed in order)."""
    raw = _CURSOR_MAGIC + struct.pack("<H", 1) + uuid.UUID(last_id).bytes
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str | None) -> str | None:
    """The object id a `$skiptoken` resumes after (None without one); raises GraphError 400."""
    if token is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 22 or not raw.startswith(_CURSOR_MAGIC):
        raise RequestBadRequest("The specified page token value has expired or is not valid.")
    return str(uuid.UUID(bytes=raw[6:]))
