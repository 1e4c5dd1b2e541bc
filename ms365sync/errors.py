"""The whole ms365sync exception tree, each error carrying what a user needs to act on it.

Our exception hierarchy:

* MS365SyncError                 base; `exit_code` (1), `hint`, `retryable`
  + ConfigError                  bad configuration file or value (exit code 2)
  + AuthError                    the identity platform refused or was unreachable (exit code 3)
  + GraphError                   Microsoft Graph answered with an error status
    - ThrottledError             429 / 503: the caller should slow down (`retry_after`)
    - NotFoundError              404: the site, library or item does not exist (any more)
    - AccessDeniedError          403: the app lacks a permission on the resource
    - DeltaExpiredError          410 resyncRequired: the delta token is dead, enumerate again
    - InvalidTokenError          401: the access token was rejected
  + TransportError               no usable HTTP answer: connection drop, timeout, TLS failure
  + DownloadError                a file's bytes could not be fetched intact
  + LocalStorageError            the local disk refused: full, read-only, permission denied
  + StateError                   the per-target state store is unreadable or corrupt
  + SafetyError                  the max-delete guard stopped a run (override with --force)
  + LockError                    another run holds the target's lock
  + ResolutionError              a configured site or library does not exist

Every message is one line and passes through `redact`, so no signed URL, bearer token or
secret-bearing query parameter can reach a log or a terminal through an exception.
This module imports nothing from the rest of the package.
"""

from __future__ import annotations

import errno as errno_codes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

__all__ = [
    "AccessDeniedError",
    "AuthError",
    "ConfigError",
    "DeltaExpiredError",
    "DownloadError",
    "DownloadFailure",
    "GraphError",
    "InvalidTokenError",
    "LocalStorageError",
    "LockError",
    "MS365SyncError",
    "NotFoundError",
    "ResolutionError",
    "SafetyError",
    "StateError",
    "ThrottledError",
    "TransportError",
    "TransportKind",
    "redact",
]

REDACTED = "<redacted>"

# Query or form parameters whose values are credentials. SharePoint signs download and upload
# URLs with `tempauth` (Graph docs driveitem-get-content.md); Azure SAS URLs use `sig`.
_SECRET_PARAMS = (
    "tempauth|sig|signature|access_token|id_token|refresh_token|client_secret|"
    "client_assertion|password|passwd|secret|api_key|apikey|x-amz-signature|x-goog-signature"
)
_PATTERNS = (
    (re.compile(rf"(?i)(?<![\w-])((?:{_SECRET_PARAMS})=)[^&#\s'\"<>]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(\bbearer\s+)[\w.~+/=-]+"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*"), REDACTED),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@"), rf"\1{REDACTED}@"),
)


def redact(text: str) -> str:
    """Return `text` with credentials removed: signed query values, bearer tokens, JWTs, userinfo.

    Works on URLs and on free text (for example an exception message that embeds a URL) and
    never re-encodes anything else, so the result is safe to log.
    """
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class Redacted:
    """`redact(text)`, worked out only when formatted: a log argument that costs nothing
    while its level is off (redacting every request's URL was 2 % of a busy run's time)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __format__(self, spec: str) -> str:
        return format(redact(self.text), spec)

    def __str__(self) -> str:
        return redact(self.text)

    def __repr__(self) -> str:
        return repr(redact(self.text))


def _one_line(text: str) -> str:
    return " ".join(text.split())


class MS365SyncError(Exception):
    """Base of every error ms365sync raises on purpose."""

    exit_code: ClassVar[int] = 1
    default_hint: ClassVar[str | None] = None
    default_retryable: ClassVar[bool] = False

    def __init__(
        self, message: str, *, hint: str | None = None, retryable: bool | None = None
    ) -> None:
        hint = self.default_hint if hint is None else hint
        self.message = _one_line(redact(message))
        self.hint = None if hint is None else _one_line(redact(hint))
        self.retryable = self.default_retryable if retryable is None else retryable
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class ConfigError(MS365SyncError):
    """The configuration file or a value in it is missing or invalid.

    The message is one line: the first problem (and how many more there were). `problems`
    holds every problem found, one line each, in file order; just the message when there
    was one.
    """

    exit_code: ClassVar[int] = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        expected: str | None = None,
        hint: str | None = None,
        problems: Sequence[str] = (),
    ) -> None:
        self.file = None if file is None else Path(file)
        self.key = key
        self.expected = expected
        where = ": ".join(str(part) for part in (self.file, key) if part)
        text = f"{where}: {message}" if where else message
        if expected:
            text = f"{text} (expected {expected})"
        super().__init__(text, hint=hint)
        self.problems = tuple(_one_line(redact(line)) for line in problems) or (self.message,)


class AuthError(MS365SyncError):
    """Getting an access token failed; `aadsts` is the Entra error number when there is one."""

    exit_code: ClassVar[int] = 3

    def __init__(
        self,
        message: str,
        *,
        aadsts: int | None = None,
        error: str | None = None,
        authority: str | None = None,
        correlation_id: str | None = None,
        hint: str | None = None,
        retryable: bool = False,
    ) -> None:
        self.aadsts = aadsts
        self.error = error
        self.authority = authority
        self.correlation_id = correlation_id
        tags = " ".join(part for part in (f"AADSTS{aadsts}" if aadsts else "", error or "") if part)
        text = "authentication failed" + (f" [{tags}]" if tags else "") + f": {message}"
        if authority:
            text = f"{text} (authority {authority})"
        super().__init__(text, hint=hint, retryable=retryable)


class GraphError(MS365SyncError):
    """Microsoft Graph answered a request with an error status (or an unusable body)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        inner_codes: Sequence[str] = (),
        request_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.inner_codes = tuple(inner_codes)
        self.request_id = request_id
        self.method = method
        self.url = None if url is None else redact(url)
        self.retry_after = retry_after
        head = " ".join(str(part) for part in ("Graph", status, code) if part)
        where = " ".join(part for part in (method, self.url) if part)
        rid = f"request-id {request_id}" if request_id else ""
        context = "; ".join(part for part in (where, rid) if part)
        text = f"{head}: {message}" + (f" [{context}]" if context else "")
        super().__init__(text, hint=hint, retryable=retryable)

    @property
    def codes(self) -> tuple[str, ...]:
        """The error code followed by the innerError codes, outermost first."""
        return ((self.code,) if self.code else ()) + self.inner_codes

    def has_code(self, code: str) -> bool:
        """Whether `code` appears anywhere in the code chain (Graph varies its case)."""
        wanted = code.lower()
        return any(candidate.lower() == wanted for candidate in self.codes)


class ThrottledError(GraphError):
    """Graph throttled the request (429 or 503); wait `retry_after` seconds before retrying."""

    default_retryable: ClassVar[bool] = True
    default_hint: ClassVar[str | None] = (
        "another application may share this tenant's SharePoint budget; lower the concurrency"
    )


class NotFoundError(GraphError):
    """The requested site, library or item does not exist (or is no longer visible)."""


class AccessDeniedError(GraphError):
    """The application lacks a permission on the requested resource."""

    default_hint: ClassVar[str | None] = (
        "grant the app Sites.Read.All (or Sites.Selected on this site) with admin consent"
    )


class DeltaExpiredError(GraphError):
    """The stored delta link is no longer valid (410 resyncRequired); enumerate from scratch."""

    default_hint: ClassVar[str | None] = "a full enumeration of the library is needed"


class InvalidTokenError(GraphError):
    """Graph rejected the access token (401), even after one renewal."""

    default_hint: ClassVar[str | None] = (
        "check the app registration, the tenant, the cloud and the system clock"
    )


TransportKind = Literal["connection", "timeout", "tls", "protocol", "invalid-url"]


class TransportError(MS365SyncError):
    """No usable HTTP answer: the connection dropped, timed out, or TLS verification failed."""

    default_retryable: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        kind: TransportKind = "connection",
        method: str | None = None,
        url: str | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.kind = kind
        self.method = method
        self.url = None if url is None else redact(url)
        where = " ".join(part for part in (method, self.url) if part)
        text = f"{kind} error: {message}" + (f" [{where}]" if where else "")
        if kind == "tls" and hint is None:
            hint = "check the CA bundle (ca_bundle) and the system clock"
        super().__init__(text, hint=hint, retryable=retryable)


DownloadFailure = Literal[
    "size-mismatch",
    "hash-mismatch",
    "gave-up",
    "bad-response",
    "not-seekable",
    "content-mismatch",  # two downloads served the same bytes, not the listed ones
    "content-unstable",  # two downloads served different bytes, neither the listed ones
    "changed",  # the item changed while it was being downloaded
]


class DownloadError(MS365SyncError):
    """A file's content could not be fetched intact: it differs from what was listed, or the
    download gave up ("gave-up") after failing for too long without getting further."""

    default_retryable: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        reason: DownloadFailure,
        drive_id: str,
        item_id: str,
        expected: str | int | None = None,
        actual: str | int | None = None,
        hint: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.reason = reason
        self.drive_id = drive_id
        self.item_id = item_id
        self.expected = expected
        self.actual = actual
        text = f"download of item {item_id} in drive {drive_id} failed ({reason}): {message}"
        if expected is not None or actual is not None:
            text = f"{text} (expected {expected}, got {actual})"
        super().__init__(text, hint=hint, retryable=retryable)

    @property
    def content_changed(self) -> bool:
        """Whether the whole body came but not the listed one (size or quickXorHash differ):
        the file changed after it was listed, so read the item again before retrying."""
        return self.reason in ("size-mismatch", "hash-mismatch")


_ERRNO_HINTS = {
    errno_codes.ENOSPC: "the disk is full: free space or move the target",
    errno_codes.EDQUOT: "the disk quota is exhausted: free space or raise the quota",
    errno_codes.EROFS: "the file system is read-only: remount it read-write or move the target",
    errno_codes.EACCES: "permission denied: check the owner and mode of the target directory",
    errno_codes.EPERM: "operation not permitted: check the owner and mode of the target directory",
    errno_codes.ENAMETOOLONG: "a path is too long for this file system",
}


_IN_THE_WAY = frozenset({errno_codes.ELOOP, errno_codes.ENOTDIR, errno_codes.EISDIR})


class LocalStorageError(MS365SyncError):
    """The local file system refused an operation (disk full, read-only, permission denied).

    `in_the_way`: what stopped it is one entry of someone else's (a symbolic link on the
    path, a folder where a file goes or the reverse, a special file), which fails that one
    file, not the target. Set from the errno (ELOOP, ENOTDIR, EISDIR) or by the caller.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        errno: int | None = None,
        hint: str | None = None,
        in_the_way: bool = False,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.errno = errno
        self.in_the_way = in_the_way or errno in _IN_THE_WAY
        name = errno_codes.errorcode.get(errno, str(errno)) if errno is not None else None
        text = f"{self.path}: {message}" if self.path else message
        if name:
            text = f"{text} [{name}]"
        if hint is None and errno is not None:
            hint = _ERRNO_HINTS.get(errno)
        super().__init__(text, hint=hint)

    @classmethod
    def from_oserror(
        cls, exc: OSError, *, path: str | Path | None = None, action: str = "write"
    ) -> LocalStorageError:
        """Build the error for `exc`, naming `path` (or the path the OSError names)."""
        target = path if path is not None else exc.filename
        reason = exc.strerror or exc.__class__.__name__
        return cls(f"cannot {action}: {reason}", path=target, errno=exc.errno)


class StateError(MS365SyncError):
    """The per-target state store is unreadable, corrupt or from an unknown version."""

    default_hint: ClassVar[str | None] = (
        "move the state store aside; the next run then re-enumerates the library"
    )

    def __init__(
        self, message: str, *, path: str | Path | None = None, hint: str | None = None
    ) -> None:
        self.path = None if path is None else Path(path)
        text = f"state store {self.path}: {message}" if self.path else f"state store: {message}"
        super().__init__(text, hint=hint)


class CorruptStateError(StateError):
    """SQLite says the state store is damaged (or not a database): it is set aside and the
    library listed again, with the mirror's records recovered from .permissions.json."""


class SafetyError(MS365SyncError):
    """The max-delete guard stopped the run: it would delete more files than allowed.

    `setting` names the configuration key that set the limit (`max_delete`,
    `max_delete_percent`), with its `value`; None when the plan would empty the mirror,
    which always needs --force.
    """

    def __init__(
        self,
        *,
        target: str,
        would_delete: int,
        limit: int,
        total: int | None = None,
        setting: str | None = None,
        value: float | None = None,
    ) -> None:
        self.target = target
        self.would_delete = would_delete
        self.limit = limit
        self.total = total
        self.setting = setting
        self.value = value
        super().__init__(
            f"target {target!r}: refusing to delete {self.counted}: {self.reason}",
            hint="rerun with --force if these deletions are intended",
        )

    @property
    def share(self) -> float | None:
        """The deletions as a percentage of the mirrored files (None: total unknown)."""
        if not self.total:
            return None
        return 100.0 * self.would_delete / self.total

    @property
    def counted(self) -> str:
        """ "3 of 18 local files (17%)": the count and the share."""
        if self.total is None:
            return f"{self.would_delete} local files"
        share = self.share
        percent = f" ({share:.0f}%)" if share is not None else ""
        return f"{self.would_delete} of {self.total} local files{percent}"

    @property
    def reason(self) -> str:
        """Which setting refuses, with its value and what it allows."""
        if self.setting is None:
            return "that empties the mirror, which always needs --force"
        value = f"{self.value:g}" if self.value is not None else "?"
        if self.setting.endswith("percent"):
            return f"more than {self.setting} = {value}% allows (at most {self.limit} files)"
        return f"more than {self.setting} = {value} allows"


class LockError(MS365SyncError):
    """Another run holds the lock on the target directory."""

    def __init__(self, *, path: str | Path, holder: str | None = None) -> None:
        self.path = Path(path)
        self.holder = holder
        by = f" by {holder}" if holder else ""
        text = f"{self.path} is locked{by}: another ms365sync run is using this target"
        hint = f"wait for the other run to finish, or delete {self.path} if that run is gone"
        super().__init__(text, hint=hint)


_SHOWN_CHOICES = 10


class ResolutionError(MS365SyncError):
    """A configured site or library was not found; `available` lists what does exist."""

    def __init__(
        self,
        *,
        kind: Literal["site", "library"],
        name: str,
        scope: str | None = None,
        available: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.name = name
        self.scope = scope
        self.available = tuple(available)
        where = f" in {scope}" if scope else ""
        text = f"{kind} {name!r} not found{where}"
        hint = None
        if self.available:
            shown = ", ".join(repr(choice) for choice in self.available[:_SHOWN_CHOICES])
            more = len(self.available) - _SHOWN_CHOICES
            hint = f"available: {shown}" + (f" and {more} more" if more > 0 else "")
            text = f"{text}; {hint}"
        super().__init__(text, hint=hint)
