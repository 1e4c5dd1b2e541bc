"""The tenant's content model: sites, document libraries, folders and files, principals,
grants, and each library's change journal (the source of delta).

Items are plain objects linked to their parent; every change appends a numbered entry to
the library's journal and stamps the item with that number, so a delta round is a scan of
the journal between two numbers (see `Journal`). The `Tenant` in tenant.py owns the lock
and performs mutations; this module holds the data and the pure queries over it.
"""

from __future__ import annotations

import bisect
import copy
import enum
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ms365sync.emulator.tenant.columns import ColumnDef, SensitivityLabel, TermIds
from ms365sync.emulator.tenant.content import Content


class Role(enum.Enum):
    """Graph permission roles as SharePoint reports them (never sp.owner / sp.member)."""

    OWNER = "owner"
    WRITE = "write"
    READ = "read"

    @property
    def level(self) -> str:
        """The SharePoint permission level name used in .permissions.json."""
        return {"owner": "Full Control", "write": "Edit", "read": "View"}[self.value]


class PrincipalKind(enum.Enum):
    """Who a grant is for (graph-facts §6.7). The grant key's second part is an Entra object
    id (users, groups, a group's owners), a site group's number, a site user's login name,
    a link id, or "" for the tenant-wide principals."""

    USER = "user"  # an Entra user: a member, or a guest (its UPN holds #EXT#)
    GROUP = "group"  # the members of an Entra (Microsoft 365 / security) group
    GROUP_OWNERS = "groupowners"  # the owners of a Microsoft 365 group (claim ending "_o")
    SITE_GROUP = "sitegroup"
    SITE_USER = "siteuser"  # an account the site knows without an Entra object
    ALL_MEMBERS = "everyone_except_external"  # "Everyone except external users"
    EVERYONE = "everyone"  # "Everyone" (c:0(.s|true)
    LINK = "link"


GrantKey = tuple[PrincipalKind, str]


class UserType(enum.Enum):
    """Entra's `userType`: people of the organisation, or guests invited from outside it."""

    MEMBER = "Member"
    GUEST = "Guest"


@dataclass
class User:
    id: str  # Entra object id (lower-case GUID)
    display_name: str
    email: str  # `mail`; for a member also the user principal name
    user_type: UserType = UserType.MEMBER
    # A guest's UPN is made from its outside address: "alice_fabrikam.com#EXT#@contoso...".
    upn: str = ""

    @property
    def user_principal_name(self) -> str:
        return self.upn or self.email

    @property
    def is_guest(self) -> bool:
        return self.user_type is UserType.GUEST


class GroupKind(enum.Enum):
    """Security groups nest and hold users and security groups; Microsoft 365 groups hold
    users only, have owners, and are never members of another group (graph-facts §15.1)."""

    SECURITY = "security"
    MICROSOFT_365 = "microsoft365"


@dataclass
class Group:
    id: str
    display_name: str
    email: str
    kind: GroupKind = GroupKind.SECURITY
    # Direct members (user and group object ids) and owners (user ids), in the order added.
    members: dict[str, None] = field(default_factory=dict)
    owners: dict[str, None] = field(default_factory=dict)
    created: float = 0.0

    @property
    def is_microsoft_365(self) -> bool:
        return self.kind is GroupKind.MICROSOFT_365


class MemberKind(enum.Enum):
    """What a SharePoint group can hold: users, Entra groups (a Microsoft 365 group by its
    members' claim), a Microsoft 365 group's owners' claim, and the two tenant-wide claims."""

    USER = "user"
    GROUP = "group"
    GROUP_OWNERS = "groupowners"
    EVERYONE = "everyone"
    EVERYONE_EXCEPT_EXTERNAL = "everyone_except_external"


SiteMember = tuple[MemberKind, str]  # (kind, object id; "" for the tenant-wide claims)


@dataclass
class SiteGroup:
    id: int  # principal id, unique only within the site
    title: str  # e.g. "Marketing Owners"; also its login name
    role: Role
    members: dict[SiteMember, None] = field(default_factory=dict)  # in the order added
    description: str = ""


@dataclass
class SiteUser:
    """An account a site knows without an Entra object (graph-facts §6.3): a former
    employee's leftover entry, an app principal, an account of another provider."""

    id: int  # site principal id
    display_name: str
    login_name: str  # an identity claim, e.g. "i:0#.f|membership|former@contoso.com"
    email: str | None = None


@dataclass
class SharingLink:
    id: str
    type: str  # view | edit
    scope: str  # anonymous | organization | users
    share_id: str
    web_url: str
    recipients: list[str] = field(default_factory=list)  # user ids, for scope "users"
    created: float = 0.0

    @property
    def role(self) -> Role:
        return Role.WRITE if self.type == "edit" else Role.READ

    @property
    def label(self) -> str:
        return f"Sharing Link ({self.type}, {self.scope})"


class Served(str, enum.Enum):
    """How downloads serve a file compared with its listing (graph-facts §17.1)."""

    AS_LISTED = "as-listed"  # the listed bytes: size and quickXorHash match
    REWRITTEN = "rewritten"  # other bytes, the same on every download (SharePoint/IRM rewrite)
    UNSTABLE = "unstable"  # other bytes, different on every download (rclone #9767)


class Hashes(str, enum.Enum):
    """How the listing shows a file's hashes (graph-facts §17.2)."""

    LISTED = "listed"  # "hashes": {"quickXorHash": ...}
    MISSING = "missing"  # the file facet has no hashes key
    EMPTY = "empty"  # "hashes": {}


class ChangeKind(enum.IntEnum):
    CHANGE = 1  # created, content or metadata edited, renamed, moved
    SHARING = 2  # permissions changed
    DELETE = 3


class Item:
    """A folder or file (or the library root) in a document library; a package (a OneNote
    notebook) is a folder-like item with `package_type` set.

    The troublesome-item properties (graph-facts §17) default to "well behaved": `served`
    and `hashes` say how downloads and listings present the file, `malware` is the malware
    facet's description, `checked_out_by` the user id holding a check-out, `locked` a
    co-authoring lock (downloads answer 423), `vanishes` deletes the item on its first
    download request, and `download_count` numbers the downloads of an unstable file.
    """

    __slots__ = (
        "change_seq",
        "checked_out_by",
        "children",
        "columns",
        "content",
        "created",
        "created_by",
        "ctag_v",
        "download_count",
        "etag_v",
        "grants",
        "guid",
        "hashes",
        "id",
        "is_folder",
        "label",
        "list_item_id",
        "locked",
        "malware",
        "mime_type",
        "modified",
        "modified_by",
        "name",
        "package_type",
        "parent",
        "served",
        "sharing_marked",
        "sharing_seq",
        "total_size",
        "vanishes",
    )

    def __init__(
        self,
        *,
        item_id: str,
        guid: uuid.UUID,
        name: str,
        parent: Item | None,
        is_folder: bool,
        now: float,
        author: str,
        content: Content | None = None,
        mime_type: str = "",
        list_item_id: int = 0,
    ) -> None:
        self.id = item_id
        self.guid = guid
        self.name = name
        self.parent = parent
        self.is_folder = is_folder
        self.children: dict[str, Item] = {}
        self.content = content
        self.mime_type = mime_type
        self.etag_v = 1
        self.ctag_v = 1
        self.created = self.modified = now
        self.created_by = self.modified_by = author
        self.change_seq = 0
        self.sharing_seq = 0
        self.sharing_marked = False
        # None: inherits from the parent. Otherwise this item is the root of a permission
        # hierarchy and these are all of its grants.
        self.grants: dict[GrantKey, Role] | None = None
        self.total_size = content.size if content is not None else 0
        # The integer id of the list item behind this driveItem (0: the root folder, which is
        # no list item); sharepointIds.listItemId.
        self.list_item_id = list_item_id
        self.package_type: str | None = None
        self.served = Served.AS_LISTED
        self.hashes = Hashes.LISTED
        self.malware: str | None = None
        self.checked_out_by: str | None = None
        self.locked = False
        self.vanishes = False
        self.download_count = 0
        # The library's custom columns set on this item, by internal name, each value in
        # the shape Graph's `fields` gives it (graph-facts §18); the built-in columns
        # (FileLeafRef, Created, ...) are rendered from the item itself.
        self.columns: dict[str, Any] = {}
        self.label: SensitivityLabel | None = None  # its sensitivity label (§18.5)

    def __deepcopy__(self, memo: dict[int, Any]) -> Item:
        """Copy the whole tree this item is in, without recursing once per level (a folder
        chain can be deeper than Python's recursion limit); returns this item's copy."""
        top = self
        while top.parent is not None:
            top = top.parent
        nodes = list(top.walk())
        if id(self) not in {id(node) for node in nodes}:
            nodes.extend(self.walk())  # a detached subtree: its own copy
        fresh = [node for node in nodes if id(node) not in memo]
        for node in fresh:
            memo[id(node)] = Item.__new__(Item)
        for node in fresh:
            twin = memo[id(node)]
            for slot in Item.__slots__:
                value = getattr(node, slot)
                if slot == "children":
                    value = {name: memo[id(child)] for name, child in value.items()}
                elif slot == "parent" and value is not None:
                    value = memo[id(value)] if id(value) in memo else copy.deepcopy(value, memo)
                else:
                    value = copy.deepcopy(value, memo)
                setattr(twin, slot, value)
        twin_of_self: Item = memo[id(self)]
        return twin_of_self

    @property
    def is_root(self) -> bool:
        return self.parent is None

    @property
    def is_package(self) -> bool:
        return self.package_type is not None

    @property
    def size(self) -> int:
        return self.total_size

    @property
    def path(self) -> str:
        """Library-relative POSIX path ("" for the root)."""
        parts: list[str] = []
        node: Item | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/".join(reversed(parts))

    def ancestors(self) -> Iterator[Item]:
        """Parent, grandparent, ... up to and including the root."""
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def walk(self) -> Iterator[Item]:
        """This item and every descendant, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())

    def permission_root(self) -> Item:
        """The nearest item (this one or an ancestor) that holds its own grants."""
        node: Item | None = self
        while node is not None:
            if node.grants is not None:
                return node
            node = node.parent
        raise AssertionError("the library root always holds grants")


@dataclass
class Tombstone:
    """What is left of a deleted item: enough for delta to report its removal."""

    id: str
    guid: uuid.UUID
    is_folder: bool
    parent_id: str
    seq: int
    deleted: float
    etag_v: int
    list_item_id: int = 0  # the list item it was (its listItemId), for the list's delta


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    item_id: str
    kind: ChangeKind
    time: float


class Journal:
    """Append-only log of a library's changes, numbered from 1.

    An entry is *current* while it is still the latest entry of its kind for its item; older
    entries are skipped when scanned. Delta tokens name positions in this log and carry the
    `epoch` they were issued in; bumping it kills every token issued so far, and only those.
    """

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []
        self.seq = 0
        self.epoch = 0  # tokens issued in an earlier epoch answer 410

    def append(self, item_id: str, kind: ChangeKind, now: float) -> int:
        self.seq += 1
        self.entries.append(JournalEntry(self.seq, item_id, kind, now))
        return self.seq

    def after(self, seq: int) -> Iterator[JournalEntry]:
        """Entries with a number greater than `seq`, in order."""
        start = bisect.bisect_right(self.entries, seq, key=lambda entry: entry.seq)
        entries = self.entries
        for index in range(start, len(entries)):
            yield entries[index]

    def seq_at(self, when: float) -> int:
        """The last position reached at time `when` (0 before the first change)."""
        index = bisect.bisect_right(self.entries, when, key=lambda entry: entry.time)
        return self.entries[index - 1].seq if index else 0


class Drive:
    """A document library."""

    def __init__(
        self,
        *,
        drive_id: str,
        site: Site,
        list_guid: uuid.UUID,
        prefix: bytes,
        title: str,
        url_segment: str,
        now: float,
        root: Item,
    ) -> None:
        self.id = drive_id
        self.site = site
        self.list_guid = list_guid
        self.prefix = prefix
        self.title = title
        self.url_segment = url_segment
        self.description = ""
        self.created = self.modified = now
        self.root = root
        self.items: dict[str, Item] = {root.id: root}
        self.tombstones: dict[str, Tombstone] = {}
        self.links: dict[str, SharingLink] = {}  # every sharing link, by id
        self.journal = Journal()
        self.resync_pending = False  # the next token-bearing delta request answers 410
        self.last_list_item_id = 0  # list item ids are numbered from 1 per library
        self.system = False  # hidden from /drives unless `system` is selected
        # Its typed custom columns by internal name, in the order defined (graph-facts §18).
        self.columns: dict[str, ColumnDef] = {}
        self.terms = TermIds()

    @property
    def web_url(self) -> str:
        return f"{self.site.web_url}/{_quote_segment(self.url_segment)}"

    def find(self, path: str) -> Item | None:
        """The item at a library-relative path ("" or "/" is the root), or None."""
        node = self.root
        for part in (p for p in path.strip("/").split("/") if p):
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def files(self) -> Iterator[Item]:
        return (item for item in self.root.walk() if not item.is_folder)


class Site:
    """A SharePoint site (the root web of a site collection)."""

    def __init__(
        self,
        *,
        hostname: str,
        path: str,
        display_name: str,
        collection: uuid.UUID,
        web: uuid.UUID,
        now: float,
    ) -> None:
        self.hostname = hostname
        self.path = path  # server-relative, e.g. /sites/marketing
        self.display_name = display_name
        self.description = ""
        self.collection = collection
        self.web = web
        self.id = f"{hostname},{collection},{web}"
        self.created = self.modified = now
        self.groups: dict[Role, SiteGroup] = {}
        self.users: dict[str, SiteUser] = {}  # accounts without an Entra object, by login
        self.drives: dict[str, Drive] = {}
        # The Microsoft 365 group of a group-connected site (a "team site"), or None.
        self.group_id: str | None = None

    @property
    def name(self) -> str:
        """The URL leaf, e.g. "marketing" for /sites/marketing."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def web_url(self) -> str:
        return f"https://{self.hostname}{_quote_path(self.path)}"

    def drive_named(self, name: str) -> Drive | None:
        """A library by its title or its URL segment (case-insensitive)."""
        lowered = name.lower()
        for drive in self.drives.values():
            if lowered in (drive.title.lower(), drive.url_segment.lower()):
                return drive
        return None


def _quote_segment(segment: str) -> str:
    return quote(segment, safe="")


def _quote_path(path: str) -> str:
    return quote(path, safe="/")
