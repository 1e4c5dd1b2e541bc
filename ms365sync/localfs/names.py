"""Pure mapping of SharePoint item names to local names that are safe on Linux, macOS and Windows.

A remote name is kept as it is (after NFC normalisation) when it is already safe. Otherwise it
is *mapped*: every forbidden character becomes `_`, trailing dots and spaces are dropped, a
Windows device name gets a `_` after it, the stem is cut on a character boundary when needed,
and `~` plus ten characters of a SHA-256 of the NFC remote name go before the extension:
`Q1: plan?.docx` becomes `Q1_ plan_~<hash>.docx`. Kept names never look like mapped names (a
kept name containing `~<hash>` is mapped too), so distinct remote names (after NFC) get
distinct local names, and two local names only collide on a case-insensitive file system
when their remote names already do: `collision_key` finds those. No I/O happens here.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ms365sync.models import path_key

__all__ = [
    "NAME_MAX",
    "PATH_MAX",
    "TEMP_TOKEN_CHARS",
    "MappedPath",
    "NameIssue",
    "Rejected",
    "SegmentChange",
    "collision_key",
    "is_temp_name",
    "local_relpath",
    "local_relpath_from_segments",
    "temp_name",
]

NAME_MAX = 255
"""Bytes (UTF-8) in one path segment, the limit of ext4, XFS, APFS and NTFS alike."""
PATH_MAX = 4096
"""Bytes in a whole path including the terminating NUL, the Linux limit."""

_HASH_CHARS = 10  # 50 bits of base32: collisions between siblings are not a practical concern
_MAX_EXT_BYTES = 17  # the dot and up to 16 bytes: ".docx", ".markdown", ".tar.gz" keeps ".gz"
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
_SEPARATORS = frozenset("/\\")
_DEVICE_NAME = re.compile(r"(?i:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])")
_MAPPED = re.compile(rf"~[a-z2-7]{{{_HASH_CHARS}}}(?:\.|\Z)")

TEMP_TOKEN_CHARS = 8
_TEMP_SUFFIX = ".ms365sync-{token}.part"
_TEMP_NAME = re.compile(rf"\A\..+\.ms365sync-[a-z0-9]{{{TEMP_TOKEN_CHARS}}}\.part\Z", re.DOTALL)
_TEMP_OVERHEAD = 1 + len(_TEMP_SUFFIX.format(token="x" * TEMP_TOKEN_CHARS))


class NameIssue(str, enum.Enum):
    """Why a remote name was changed; the value is the text for the change log."""

    EMPTY = "the name is empty"
    DOT_NAME = "'.' and '..' are not file names"
    PATH_SEPARATOR = "contains a path separator ('/' or '\\')"
    CONTROL_CHARACTER = "contains a control character"
    INVALID_UNICODE = "contains an unpaired surrogate (invalid Unicode)"
    FORBIDDEN_CHARACTER = 'contains a character Windows forbids (<>:"|?*)'
    TRAILING_DOT_OR_SPACE = "ends with a dot or a space"
    RESERVED_NAME = "is a Windows device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
    TOO_LONG = f"is longer than {NAME_MAX} bytes in UTF-8"
    NOT_NFC = "was normalised to Unicode NFC"
    LOOKS_MAPPED = "resembles a mapped name (~ and a 10-character hash)"
    LOOKS_TEMPORARY = "resembles an ms365sync temporary file"


@dataclass(frozen=True, slots=True)
class SegmentChange:
    """One remote name that was changed on its way to disk, and why."""

    index: int
    remote: str
    local: str
    issues: tuple[NameIssue, ...]

    @property
    def lossy(self) -> bool:
        """Whether the change is more than NFC normalisation (so a hash suffix was added)."""
        return self.issues != (NameIssue.NOT_NFC,)

    def describe(self) -> str:
        """A one-line note for the change log: `'a:b' -> 'a_b~...': <reasons>`."""
        reasons = "; ".join(issue.value for issue in self.issues)
        return f"{self.remote!r} -> {self.local!r}: {reasons}"


@dataclass(frozen=True, slots=True)
class MappedPath:
    """A remote path mapped to a safe relative local path (POSIX separators, NFC)."""

    rel: str
    segments: tuple[str, ...]
    changes: tuple[SegmentChange, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether any segment differs from its remote name."""
        return bool(self.changes)

    @property
    def note(self) -> str:
        """The changes as one line for the change log's notes, or '' when nothing changed."""
        return " | ".join(change.describe() for change in self.changes)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A remote path (its key, `models.path_key`) that cannot be stored locally at all;
    `reason` is one line."""

    remote: str
    reason: str


def collision_key(local_rel: str) -> str:
    """The key under which two local paths are the same file on a case-insensitive or
    normalising file system (APFS, NTFS, SMB shares): NFC, case-folded, NFC again."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", local_rel).casefold())


def local_relpath(remote_path: str, *, root: str | os.PathLike[str] | None = None) -> str:
    """Map a library-relative POSIX remote path (`/Folder/file.docx`) to a safe local path.

    The path is split at every "/": it is names joined plainly, not a key (`models.path_key`
    escapes a "/" inside a name); `local_relpath_from_segments` takes the names themselves.

    Raises ValueError when the path is empty, has an empty segment (`a//b`) or is rejected
    (see `local_relpath_from_segments`).
    """
    text = remote_path.removeprefix("/")
    segments = text.split("/")
    if not text or "" in segments:
        raise ValueError(f"remote path {remote_path!r} has an empty segment")
    result = local_relpath_from_segments(segments, root=root)
    if isinstance(result, Rejected):
        raise ValueError(result.reason)
    return result.rel


def local_relpath_from_segments(
    segments: Sequence[str], *, root: str | os.PathLike[str] | None = None
) -> MappedPath | Rejected:
    """Map remote names (one per folder level, the file last) to a safe local relative path.

    Every name maps to something, even `..` or an empty name; the whole path is Rejected only
    when there are no segments or when, given `root` (the directory the path will live in, as
    it will be used), the full path of the file or of its temporary file would not fit in
    PATH_MAX. Raises nothing.
    """
    if not segments:
        return Rejected("", "empty remote path")
    remote = path_key(segments)
    local: list[str] = []
    changes: list[SegmentChange] = []
    for index, name in enumerate(segments):
        mapped, issues = _map_name(name)
        local.append(mapped)
        if mapped != name:
            changes.append(SegmentChange(index, name, mapped, issues))
    rel = "/".join(local)
    needed = 0 if root is None else _path_bytes(root, local)
    if needed > PATH_MAX:
        reason = (
            f"remote path {_shorten(remote)!r} is too deep: its local path needs {needed - 1} "
            f"bytes, more than the {PATH_MAX - 1} the file system allows"
        )
        return Rejected(remote, reason)
    return MappedPath(rel, tuple(local), tuple(changes))


def temp_name(name: str, token: str) -> str:
    """The hidden temporary name beside `name` (`.<name>.ms365sync-<token>.part`), with
    `name` cut on a character boundary so the result fits in NAME_MAX bytes.

    Raises ValueError unless `token` is TEMP_TOKEN_CHARS lower-case letters or digits.
    """
    if len(token) != TEMP_TOKEN_CHARS or not re.fullmatch(r"[a-z0-9]+", token):
        raise ValueError(f"bad temporary-file token {token!r}")
    return "." + _truncate(name, NAME_MAX - _TEMP_OVERHEAD) + _TEMP_SUFFIX.format(token=token)


def is_temp_name(name: str) -> bool:
    """Whether `name` is exactly the shape `temp_name` produces (case-sensitive)."""
    return _TEMP_NAME.match(name) is not None


# Names made only of these ASCII characters (no "~": mapped names carry "~<hash>") need no
# Unicode work; most real names are like this, and mapping is on every run's hot path.
_PLAIN = re.compile(r"[A-Za-z0-9 _\-+,;=@'()\[\]{}!#$%&^`.]+")


def _plainly_safe(name: str) -> bool:
    return (
        len(name) <= NAME_MAX
        and _PLAIN.fullmatch(name) is not None
        and name[-1] not in ". "
        and _DEVICE_NAME.fullmatch(name.split(".", 1)[0].rstrip(" ")) is None
        and not is_temp_name(name)
    )


def _map_name(name: str) -> tuple[str, tuple[NameIssue, ...]]:
    """The local name for one remote name and the issues that changed it."""
    if _plainly_safe(name):
        return name, ()
    nfc = unicodedata.normalize("NFC", name)
    safe, issues = _sanitise(nfc)
    if len(_utf8(nfc)) > NAME_MAX:
        issues.append(NameIssue.TOO_LONG)
    if not issues:
        if _MAPPED.search(collision_key(nfc)):
            issues.append(NameIssue.LOOKS_MAPPED)
        elif is_temp_name(nfc):
            issues.append(NameIssue.LOOKS_TEMPORARY)
    local = _with_hash(safe, nfc) if issues else nfc
    if nfc != name:
        issues.insert(0, NameIssue.NOT_NFC)
    return local, tuple(issues)


def _sanitise(name: str) -> tuple[str, list[NameIssue]]:
    """Replace forbidden characters, drop trailing dots and spaces, defuse device names."""
    issues: list[NameIssue] = []
    chars: list[str] = []
    for char in name:
        issue = _char_issue(char)
        if issue is not None and issue not in issues:
            issues.append(issue)
        chars.append("_" if issue is not None else char)
    text = "".join(chars)
    if not name:
        issues.append(NameIssue.EMPTY)
    elif name in {".", ".."}:
        issues.append(NameIssue.DOT_NAME)
    elif text != text.rstrip(". "):
        issues.append(NameIssue.TRAILING_DOT_OR_SPACE)
    text = text.rstrip(". ") or "_"
    device = _DEVICE_NAME.fullmatch(text.split(".", 1)[0].rstrip(" "))
    if device:
        issues.append(NameIssue.RESERVED_NAME)
        text = text[: device.end()] + "_" + text[device.end() :]
    return text, issues


def _char_issue(char: str) -> NameIssue | None:
    if char in _SEPARATORS:
        return NameIssue.PATH_SEPARATOR
    if char in _WINDOWS_FORBIDDEN:
        return NameIssue.FORBIDDEN_CHARACTER
    category = unicodedata.category(char)
    if category == "Cc":
        return NameIssue.CONTROL_CHARACTER
    if category == "Cs":
        return NameIssue.INVALID_UNICODE
    return None


def _with_hash(safe: str, original_nfc: str) -> str:
    """`<stem>~<hash><ext>`, the stem cut so the whole fits in NAME_MAX bytes."""
    digest = hashlib.sha256(original_nfc.encode("utf-8", "surrogatepass")).digest()
    tag = "~" + base64.b32encode(digest).decode("ascii")[:_HASH_CHARS].lower()
    dot = safe.rfind(".")
    ext = safe[dot:] if dot > 0 and " " not in safe[dot:] else ""
    if len(_utf8(ext)) > _MAX_EXT_BYTES:
        ext = ""
    stem = safe[: len(safe) - len(ext)]
    budget = NAME_MAX - len(_utf8(tag)) - len(_utf8(ext))
    result = unicodedata.normalize("NFC", _truncate(stem, budget) + tag + ext)
    while len(_utf8(result)) > NAME_MAX:  # NFC of a cut stem can grow in rare scripts
        budget -= 4
        result = unicodedata.normalize("NFC", _truncate(stem, budget) + tag + ext)
    return result


def _truncate(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `max_bytes`."""
    return _utf8(text)[:max_bytes].decode("utf-8", "ignore")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _path_bytes(root: str | os.PathLike[str], local: Sequence[str]) -> int:
    """Bytes in the longest path this file needs: itself or its temporary file, plus a NUL."""
    parent = [os.fsencode(root), *(_utf8(part) for part in local[:-1])]
    name = _utf8(local[-1])
    longest = max(len(name), min(NAME_MAX, len(name) + _TEMP_OVERHEAD))
    return sum(len(part) + 1 for part in parent) + longest + 1


def _shorten(text: str, keep: int = 60) -> str:
    """`text` with its middle elided when it is too long to read in one line."""
    return text if len(text) <= 2 * keep else f"{text[:keep]}...{text[-keep:]}"
