"""Internal value types shared by the planner, the state store, the syncer and the change log.

Everything here is a frozen value: Graph JSON is translated into these at the graph/
boundary, and nothing past it handles raw dictionaries.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RemoteItem:
    """One driveItem as a delta page reported it (latest state wins within a round)."""

    item_id: str
    parent_id: str | None
    name: str | None  # SharePoint omits the name of deleted items
    is_folder: bool
    is_root: bool = False
    deleted: bool = False
    size: int = 0
    etag: str | None = None
    ctag: str | None = None
    quick_xor_hash: str | None = None
    modified: str | None = None  # lastModifiedDateTime as sent (UTC, whole seconds)
    mime_type: str | None = None
    shared: bool = False  # carries a `shared` facet: a permission-hierarchy root
    shared_changed: bool = False  # @microsoft.graph.sharedChanged
    package: bool = False  # neither file nor folder (e.g. a OneNote notebook)
    # The `malware` facet's description ("" when it has none): SharePoint flagged the file.
    malware: str | None = None
    # Its list item's id (sharepointIds.listItemId, selected when metadata is read): the
    # key its columns are joined on (graph-facts §18.2).
    list_item_id: str | None = None


class PrincipalKind(enum.Enum):
    """Who a permission grant is for, in words that need no SharePoint knowledge
    (graph-facts §6.7-6.12). What is not recognised is `UNKNOWN`, which reaches nobody:
    a grant is never read as reaching more people than its entry certainly does."""

    USER = "user"  # one member of the tenant, by Entra object id
    GUEST = "guest"  # one external user invited into the tenant, by Entra object id
    GROUP = "group"  # the members of an Entra group (Microsoft 365 or security)
    GROUP_OWNERS = "group_owners"  # the owners (not the members) of a Microsoft 365 group
    SITE_GROUP = "site_group"  # a SharePoint group of one site
    SITE_USER = "site_user"  # one account the site knows without an Entra object id
    ALL_MEMBERS = "all_members"  # every member of the tenant, no guest (EEEU)
    EVERYONE = "everyone"  # every account signed in to the tenant; guests if it allows
    LINK = "link"  # a sharing link: who it reaches is its `LinkAudience`
    APPLICATION = "application"
    UNKNOWN = "unknown"  # not recognised: reaches nobody


class LinkAudience(enum.Enum):
    """Who a sharing link reaches (graph-facts §6.11)."""

    PUBLIC = "public"  # anyone who has the URL, without signing in (scope anonymous)
    ORGANIZATION = "organization"  # members of the tenant who have the URL; no guest
    RECIPIENTS = "recipients"  # only the people it lists (scope users)
    EXISTING_ACCESS = "existing_access"  # nobody who has no access already
    UNKNOWN = "unknown"  # no scope, or one not listed: nobody beyond its recipients

    @classmethod
    def of_scope(cls, scope: str | None) -> LinkAudience:
        """The audience of a link with Graph's `link.scope` (compared without case)."""
        return _AUDIENCES.get((scope or "").lower(), cls.UNKNOWN)


_AUDIENCES = {
    "anonymous": LinkAudience.PUBLIC,
    "organization": LinkAudience.ORGANIZATION,
    "users": LinkAudience.RECIPIENTS,
    "existingaccess": LinkAudience.EXISTING_ACCESS,
}


@dataclass(frozen=True, slots=True)
class Grant:
    """One grant of an item's permissions, keyed by stable ids (not display names)."""

    kind: PrincipalKind
    principal_id: str  # Entra object id, site group id, a claim, link id ...
    display_name: str
    role: str  # owner | write | read
    email: str | None = None
    login_name: str | None = None
    link_type: str | None = None
    link_scope: str | None = None
    recipients: tuple[str, ...] = ()  # user ids a "users" link was granted to

    @property
    def audience(self) -> LinkAudience | None:
        """A link's audience, from its scope (None for anything but a link)."""
        if self.kind is not PrincipalKind.LINK:
            return None
        return LinkAudience.of_scope(self.link_scope)


@dataclass(frozen=True, slots=True)
class PermissionSet:
    """An item's permissions: the original "Display Name:::Level" labels and the grants."""

    labels: tuple[str, ...]
    grants: tuple[Grant, ...] = ()


def path_key(names: Sequence[str]) -> str:
    """The key of the file at `names` (the folders' names from the library's top down, the
    file's own last): what the change log, .permissions.json, the grants file and the state
    store know the file by, and what the include and exclude patterns are matched against.

    The names joined by "/", where a name's own "\\" is written "\\\\" and its own "/" is
    written "\\/". SharePoint allows neither character in a name, so every name a real
    library can hold keeps its plain path; names from elsewhere (the emulator, a hostile
    server) still get keys of their own. The encoding is injective: in a key every "\\"
    begins a two-character escape and every other "/" separates two names, so `key_names`
    reads the names back, and distinct lists of names never share a key.

    Raises:
        ValueError: `names` is empty (a file has at least its own name).
    """
    if not names:
        raise ValueError("a path key needs at least one name")
    joined = "/".join(names)
    if "\\" not in joined and joined.count("/") == len(names) - 1:
        return joined  # no name holds a separator: the plain path (nearly always)
    return "/".join(name.replace("\\", "\\\\").replace("/", "\\/") for name in names)


def key_names(key: str) -> tuple[str, ...]:
    """The names `path_key` made `key` from: `key_names(path_key(names)) == tuple(names)`.

    Raises:
        ValueError: `key` is not one `path_key` makes (a "\\" not followed by "\\" or "/").
    """
    if "\\" not in key:
        return tuple(key.split("/"))
    names: list[str] = []
    name: list[str] = []
    chars = iter(key)
    for char in chars:
        if char == "/":
            names.append("".join(name))
            name = []
        elif char == "\\":
            escaped = next(chars, "")
            if escaped not in {"\\", "/"}:
                raise ValueError(f"{key!r} is not a path key: a '\\' escapes only '\\' or '/'")
            name.append(escaped)
        else:
            name.append(char)
    names.append("".join(name))
    return tuple(names)


@dataclass(frozen=True, slots=True)
class FileVersion:
    """What the remote side and the mirror's record both know of one version of a file."""

    item_id: str
    path: str  # the file's key (`path_key` of its names): library-relative, "/" between names
    local_path: str  # the safe relative path under data/ (equal to path unless mapped)
    size: int
    ctag: str | None
    quick_xor_hash: str | None
    etag: str | None
    modified: str | None


VERSION_FIELDS = tuple(field.name for field in dataclasses.fields(FileVersion))


@dataclass(frozen=True, slots=True)
class RemoteFile(FileVersion):
    """A remote file the mirror should hold, with its path resolved and filters applied."""

    permissions: PermissionSet | None  # None: could not be read this run
    # Held at the version and place the mirror recorded (a file not fetched now, see
    # sync.issues): only its permissions are brought up to date.
    pinned: bool = False
    # Its document metadata (`sync.metadata`: columns, content type, people, label) as
    # canonical JSON; None: not read (the target asks for none).
    metadata: str | None = None


@dataclass(frozen=True, slots=True)
class MirrorFile(FileVersion):
    """A file ms365sync placed in data/ and reported, as recorded in the state store."""

    mtime_ns: int  # what the file's mtime was set to, to spot local edits
    permissions: PermissionSet
    # The inode number of the file in data/ as placed: only that very file may have its time
    # set in place. None: not known (recorded by an older version, or not placed yet).
    ino: int | None = None
    # The size of the copy in data/ when it is not the listed `size`: SharePoint served other
    # bytes than it lists, consistently, and they were accepted (graph-facts §17.1).
    local_size: int | None = None
    # The document metadata last reported for this file (as `RemoteFile.metadata`); None:
    # none was (the target reads none, or it was recorded before it did).
    metadata: str | None = None

    @property
    def disk_size(self) -> int:
        """The size the copy in data/ has as placed."""
        return self.size if self.local_size is None else self.local_size

    @classmethod
    def placed(
        cls,
        remote: RemoteFile,
        mtime_ns: int,
        ino: int | None = None,
        local_size: int | None = None,
    ) -> MirrorFile:
        """The record of `remote` once its copy is in data/ with this mtime (and inode, and
        size when it differs from the listed one)."""
        if remote.permissions is None:
            raise ValueError(f"{remote.path}: a file is recorded only with its permissions")
        version: dict[str, Any] = {name: getattr(remote, name) for name in VERSION_FIELDS}
        if local_size == remote.size:
            local_size = None
        return cls(
            **version,
            mtime_ns=mtime_ns,
            permissions=remote.permissions,
            ino=ino,
            local_size=local_size,
            metadata=remote.metadata,
        )


@dataclass(frozen=True, slots=True)
class LocalStat:
    """Size and modification time of a regular file in the mirror (and, when the mirror
    read it for one file, its inode number)."""

    size: int
    mtime_ns: int
    ino: int | None = None


def as_recorded(stat: LocalStat | None, size: int, mtime_ns: int) -> bool:
    """The one answer to "is the local copy as ms365sync left it?": it exists with the size
    and the mtime (to the nanosecond) that ms365sync recorded when it placed the file.
    Anything else is a local edit or a loss, which a run repairs from the remote copy."""
    return stat is not None and stat.size == size and stat.mtime_ns == mtime_ns


class ActionKind(enum.Enum):
    DOWNLOAD_NEW = "download_new"  # reported as added
    DOWNLOAD_CHANGED = "download_changed"  # reported as modified
    MOVE = "move"  # reported as deleted (old path) + added (new path, moved_from)
    DELETE = "delete"  # reported as deleted
    PERMISSIONS = "permissions"  # reported as a permission-only change
    METADATA = "metadata"  # eTag-only change: recorded silently
    COLUMNS = "columns"  # document metadata alone changed: a metadata-only change
    REPAIR = "repair"  # local copy missing or edited: restored, logged as a repair
    SKIP = "skip"  # cannot be mirrored (unsafe name, collision, unknown permissions)


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan. `remote` is the new state, `mirror` the recorded one."""

    kind: ActionKind
    remote: RemoteFile | None = None
    mirror: MirrorFile | None = None
    content_changed: bool = False
    reason: str = ""

    @property
    def path(self) -> str:
        target = self.remote or self.mirror
        assert target is not None
        return target.path

    @property
    def item_key(self) -> str:
        target = self.remote or self.mirror
        assert target is not None
        return target.item_id


@dataclass(frozen=True)
class PermissionChanges:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    current: tuple[str, ...]

    @classmethod
    def between(cls, before: tuple[str, ...], after: tuple[str, ...]) -> PermissionChanges:
        old, new = set(before), set(after)
        return cls(tuple(sorted(new - old)), tuple(sorted(old - new)), tuple(after))

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass
class RunCounters:
    """Numbers for the run summary (mutable while the run goes on)."""

    downloaded_files: int = 0
    downloaded_bytes: int = 0
    moved: int = 0
    permission_reads: int = 0
    untracked_local_files: int = 0
    delta_pages: int = 0
    full_enumeration: bool = False
    files_to_fetch: int = 0  # the plan's new, changed and repaired files
    files_fetched: int = 0  # ... done (downloaded, or the right content found in place)
    notes: list[str] = field(default_factory=list)
