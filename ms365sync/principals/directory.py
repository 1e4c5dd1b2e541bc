"""Reading Entra ID through Graph: users, a group's transitive user members and its owners.

A group's members are read as users only (`/transitiveMembers/microsoft.graph.user`), nested
groups expanded by the service, 999 to a page with only the properties the snapshot keeps
(graph-facts §15). Users named by a grant, or by their principal name in a site group, are
read 20 to a `$batch`. Reading members needs GroupMember.Read.All (or Group.Read.All or
Directory.Read.All); without it Graph answers 403, which `DirectoryError` names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ms365sync.errors import AccessDeniedError, GraphError, TransportError
from ms365sync.graph.client import GraphClient
from ms365sync.outputs.principals import UserEntry

__all__ = ["MEMBER_ROLES", "USER_ROLES", "Directory", "DirectoryError", "Person"]

# The Graph application permissions that let an app read a group's members.
MEMBER_ROLES = "GroupMember.Read.All (or Group.Read.All, Directory.Read.All)"
# ... and that let it read a user by id or principal name.
USER_ROLES = "User.Read.All (or User.ReadBasic.All, Directory.Read.All)"
_USER_FIELDS = "id,displayName,mail,userPrincipalName,userType"
_PAGE = "999"  # the most Graph gives a page of directory objects


@dataclass(frozen=True)
class Person:
    """A user as the snapshot keeps it, with its Entra object id."""

    id: str
    entry: UserEntry


class DirectoryError(Exception):
    """A group's members or a user could not be read; `reason` is one line for the snapshot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Directory:
    """Entra ID as the snapshot reads it, through one Graph client."""

    def __init__(self, client: GraphClient) -> None:
        self._client = client

    def members(self, group_id: str) -> list[Person]:
        """The group's users, through every nested group.

        Raises:
            DirectoryError: Graph refused or failed (the reason names a missing permission).
        """
        return self._people(f"groups/{quote(group_id)}/transitiveMembers/microsoft.graph.user")

    def owners(self, group_id: str) -> list[Person]:
        """The group's owners that are users.

        Raises:
            DirectoryError: as `members`.
        """
        return self._people(f"groups/{quote(group_id)}/owners/microsoft.graph.user")

    def users(self, keys: Iterable[str]) -> dict[str, Person | DirectoryError]:
        """Users by object id or principal name, 20 to a `$batch`; key -> the user, or why
        it could not be read (a user deleted since a grant named them: 404)."""
        urls = {key: f"users/{quote(key)}?$select={_USER_FIELDS}" for key in dict.fromkeys(keys)}
        found: dict[str, Person | DirectoryError] = {}
        for key, result in self._client.batch(urls, cost=1).items():
            if result.error is not None:
                found[key] = _refused(result.error, f"user {key}", USER_ROLES)
            elif isinstance(result.body, Mapping):
                found[key] = _person(result.body)
            else:
                found[key] = DirectoryError(f"user {key}: Graph answered no user")
        return found

    def _people(self, path: str) -> list[Person]:
        params = {"$select": _USER_FIELDS, "$top": _PAGE}
        try:
            return [_person(row) for row in self._client.iter_collection(path, params, cost=1)]
        except (GraphError, TransportError) as exc:
            raise _refused(
                exc, path.split("/microsoft.graph", maxsplit=1)[0], MEMBER_ROLES
            ) from exc


def _person(row: Mapping[str, object]) -> Person:
    def text(key: str) -> str | None:
        value = row.get(key)
        return value if isinstance(value, str) and value else None

    upn = text("userPrincipalName")
    # A guest: userType says so; without it (a caller that may not read it), the principal
    # name an invitation gives (graph-facts §15.2).
    guest = text("userType") == "Guest" or (upn is not None and "#ext#" in upn.lower())
    entry = UserEntry(
        display_name=text("displayName") or upn or str(row.get("id")),
        email=text("mail"),
        user_principal_name=upn,
        guest=guest,
    )
    return Person(id=str(row.get("id")), entry=entry)


def _refused(exc: GraphError | TransportError, what: str, roles: str) -> DirectoryError:
    if isinstance(exc, AccessDeniedError):
        return DirectoryError(f"{what}: the app may not read it; grant {roles}")
    return DirectoryError(f"{what}: {exc}")
