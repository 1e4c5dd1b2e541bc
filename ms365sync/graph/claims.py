"""SharePoint login names (claims) and who they stand for (graph-facts §6.7-6.10).

A login name is `<i|c>:0<claim type><value type><auth mode>|<issuer>|<value>`: an `i:` claim
names one account, a `c:` claim may stand for many. Each claim that widens access is
recognised only by its exact form; any other `c:` claim is `UNKNOWN` and reaches nobody, so
a claim this module does not know can never become "everyone" (the fail-closed rule of
docs/rag.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from ms365sync.models import PrincipalKind

__all__ = ["Claim", "claim_in_permission_id", "read_claim"]

_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CLAIM = re.compile(r"[ic]:0", re.IGNORECASE)
# The GUID after "spo-grid-all-users/" is normally the tenant id, but not always, and still
# means the members of the site's own tenant (§6.8): it is not compared.
_ALL_MEMBERS = re.compile(rf"c:0-\.f\|rolemanager\|spo-grid-all-users(/{_GUID})?", re.IGNORECASE)
_EVERYONE = re.compile(re.escape("c:0(.s|true"), re.IGNORECASE)
_M365_GROUP = re.compile(
    rf"c:0o\.c\|federateddirectoryclaimprovider\|({_GUID})(_o)?", re.IGNORECASE
)
_SECURITY_GROUP = re.compile(rf"c:0t\.c\|tenant\|({_GUID})", re.IGNORECASE)
_MEMBERSHIP = re.compile(r"i:0#\.f\|membership\|([^|]+)", re.IGNORECASE)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_TENANT_WIDE = ((_EVERYONE, PrincipalKind.EVERYONE), (_ALL_MEMBERS, PrincipalKind.ALL_MEMBERS))


@dataclass(frozen=True, slots=True)
class Claim:
    """Who a login name stands for; `group_id` is the Entra group's id for a group's members
    or owners."""

    kind: PrincipalKind
    group_id: str | None = None


def read_claim(login: str) -> Claim | None:
    """Who `login` stands for (§6.7); None when it is no claim at all (a site group's title,
    a display name given as the login name)."""
    if not _CLAIM.match(login):
        return None
    for pattern, kind in _TENANT_WIDE:
        if pattern.fullmatch(login):
            return Claim(kind)
    group = _M365_GROUP.fullmatch(login) or _SECURITY_GROUP.fullmatch(login)
    if group is not None:
        owners = group.re is _M365_GROUP and group.group(2) is not None
        kind = PrincipalKind.GROUP_OWNERS if owners else PrincipalKind.GROUP
        return Claim(kind, group.group(1).lower())
    member = _MEMBERSHIP.fullmatch(login)
    if member is not None:
        # A guest's principal name is "<mail>#EXT#@<tenant domain>" (§6.9).
        guest = "#ext#" in member.group(1).lower()
        return Claim(PrincipalKind.GUEST if guest else PrincipalKind.USER)
    # Another role or provider, whose reach is not known: nobody. Another identity: one
    # account of another provider.
    return Claim(PrincipalKind.UNKNOWN if login[0] in "cC" else PrincipalKind.SITE_USER)


def claim_in_permission_id(permission_id: str) -> str | None:
    """The login name a principal entry's id encodes (its unpadded base64url, §6.2), when it
    is a claim; what only the deprecated `grantedTo` names can be recognised by it."""
    if not _BASE64URL.fullmatch(permission_id):
        return None
    try:
        raw = base64.urlsafe_b64decode(permission_id + "=" * (-len(permission_id) % 4))
        login = raw.decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return login if _CLAIM.match(login) and login.isprintable() else None
