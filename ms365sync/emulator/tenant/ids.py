"""Realistic, deterministic identifiers: composite site ids, `b!` drive ids, `01...` item ids,
GUIDs and base64url login-name permission ids, all drawn from one seeded generator.

Formats follow what decoding real ids shows (graph-facts §2.2, §2.5, §3.1, §6.2): a drive id is
`b!` + unpadded base64url of three GUIDs in .NET byte order (site collection, web, list); an
item id is `01` + unpadded base32 of a 4-byte per-drive prefix and the item's GUID.
"""

from __future__ import annotations

import base64
import random
import threading
import uuid


class IdFactory:
    """Seeded source of GUIDs and short random values (thread-safe)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, object]) -> IdFactory:
        """A twin that goes on drawing the same sequence, with its own lock."""
        twin = IdFactory(0)
        with self._lock:
            twin._rng.setstate(self._rng.getstate())
        return twin

    def guid(self) -> uuid.UUID:
        with self._lock:
            return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def randbytes(self, count: int) -> bytes:
        with self._lock:
            return self._rng.randbytes(count)

    def randint(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)


def b64url(data: bytes) -> str:
    """Unpadded base64url, the encoding of drive ids and permission ids."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def site_id(hostname: str, collection: uuid.UUID, web: uuid.UUID) -> str:
    """The composite site id with lower-case GUIDs, as real responses carry it."""
    return f"{hostname},{collection},{web}"


def drive_id(collection: uuid.UUID, web: uuid.UUID, list_guid: uuid.UUID) -> str:
    return "b!" + b64url(collection.bytes_le + web.bytes_le + list_guid.bytes_le)


def item_id(drive_prefix: bytes, guid: uuid.UUID) -> str:
    """`01` + base32 (upper-case, no padding) of the drive prefix and the item GUID: 34 chars."""
    raw = base64.b32encode(drive_prefix + guid.bytes_le).decode("ascii").rstrip("=")
    return "01" + raw


def login_id(login_name: str) -> str:
    """Permission ids of SharePoint principals are the base64url of their login names."""
    return b64url(login_name.encode("utf-8"))


def user_login(upn: str) -> str:
    return f"i:0#.f|membership|{upn.lower()}"


def group_login(group_id: str) -> str:
    """The claim of a Microsoft 365 group's members (graph-facts §6.7)."""
    return f"c:0o.c|federateddirectoryclaimprovider|{group_id}"


# The login names SharePoint gives the principals a site group can hold (graph-facts §16.3).
EVERYONE_LOGIN = "c:0(.s|true"


def group_owners_login(group_id: str) -> str:
    """The claim of a Microsoft 365 group's owners."""
    return f"{group_login(group_id)}_o"


def security_group_login(group_id: str) -> str:
    return f"c:0t.c|tenant|{group_id}"


def everyone_except_external_login(tenant_id: str) -> str:
    return f"c:0-.f|rolemanager|spo-grid-all-users/{tenant_id}"


def guest_upn(mail: str, domain: str) -> str:
    """A guest's user principal name: the outside address with "@" as "_", then "#EXT#@"
    and the inviting tenant's domain (graph-facts §6.9, §15.2)."""
    return f"{mail.replace('@', '_')}#EXT#@{domain}"
