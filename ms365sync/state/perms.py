"""Permission sets in the state: their stored form and the `perms` table.

A permission set is stored as two JSON texts, its labels and its grants (in the `perms` and
`mirror` tables alike). This module is the one codec between them and `models.Grant`; the
short keys of the stored grants ("name", "login") are the store's on-disk format since its
first version and are spelled here only.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence

from ms365sync.models import Grant, PermissionSet, PrincipalKind

__all__ = ["PermTables", "decode_grants", "decode_permissions", "encode_grants", "encode_labels"]


def encode_labels(labels: Sequence[str]) -> str:
    """The stored labels (equal labels are equal text: the tree compares them in SQL)."""
    return json.dumps(list(labels))


def encode_grants(grants: Sequence[Grant]) -> str:
    return json.dumps(
        [
            {
                "kind": g.kind.value,
                "id": g.principal_id,
                "name": g.display_name,
                "role": g.role,
                "email": g.email,
                "login": g.login_name,
                "link_type": g.link_type,
                "link_scope": g.link_scope,
                "recipients": list(g.recipients),
            }
            for g in grants
        ],
        separators=(",", ":"),
    )


@functools.lru_cache(maxsize=4096)
def decode_grants(grants: str) -> tuple[Grant, ...]:
    """The grants stored as `grants` (cached: files share a handful of grant lists)."""
    return tuple(
        Grant(
            kind=PrincipalKind(g["kind"]),
            principal_id=g["id"],
            display_name=g["name"],
            role=g["role"],
            email=g["email"],
            login_name=g["login"],
            link_type=g["link_type"],
            link_scope=g["link_scope"],
            recipients=tuple(g["recipients"]),
        )
        for g in json.loads(grants)
    )


@functools.lru_cache(maxsize=4096)
def decode_permissions(labels: str, grants: str) -> PermissionSet:
    """The permission set stored as JSON. Cached: most files of a library share a handful of
    permission sets, and decoding each row again dominated a no-op run's cost."""
    return PermissionSet(labels=tuple(json.loads(labels)), grants=decode_grants(grants))


class PermTables:
    """The perms table of a `StateStore`: permission sets read from Graph, by item."""

    _db: sqlite3.Connection

    def store_permissions(self, item_id: str, permissions: PermissionSet, now: float) -> None:
        self._db.execute(
            "INSERT INTO perms(item_id, labels, grants, read_at) VALUES(?,?,?,?) "
            "ON CONFLICT(item_id) DO UPDATE SET labels=excluded.labels, grants=excluded.grants, "
            "read_at=excluded.read_at",
            (item_id, encode_labels(permissions.labels), encode_grants(permissions.grants), now),
        )

    def permissions(self) -> dict[str, PermissionSet]:
        """Every stored permission set by item id (sources only are ever looked up)."""
        return {
            row[0]: decode_permissions(row[1], row[2])
            for row in self._db.execute("SELECT item_id, labels, grants FROM perms")
        }

    def prune_permissions(self) -> None:
        self._db.execute("DELETE FROM perms WHERE item_id NOT IN (SELECT item_id FROM items)")
