"""What a file that cannot be mirrored as listed means, and when it is tried again.

Every such file gets one `Issue`: its kind says when the next attempt comes, its cause says
which case of graph-facts §17 it is, in one stable word a consumer can match on.

- transient: tried again by the next run (a lock, a file gone since the listing, the
  network, a download that gave up, a refusal of another kind);
- permanent for the item's version: tried again only when its cTag changes, or once
  `retry_permanent_after` has passed (bytes that never match the listing); a file whose
  sensitivity label encrypts it (a 423 `notAllowed` at download, graph-facts §18.5) only
  when its cTag changes: no amount of waiting decrypts it;
- skipped on purpose: a file SharePoint flags as malware (never downloaded; the listing's
  flag, or a 403 `malwareDetected` at download time, which holds until the item changes)
  and the files inside a package such as a OneNote notebook (unless `include_packages`).

A transient issue is reported by every run that meets it (it is tried every time). A
permanent one is reported by the run that tried and failed; the runs after it do not
ask for the file at all while it waits, and say nothing of it. A skip is reported once,
again only when its cause or the item's version changes. `ms365sync status` lists them all.
`IssueLedger` keeps that bookkeeping for one run.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from ms365sync.errors import DownloadError, GraphError, NotFoundError
from ms365sync.models import MirrorFile
from ms365sync.state.store import FileError, IssueRow, StateStore
from ms365sync.target import VERIFY_MODES, TargetSpec, VerifyMode

__all__ = [
    "Cause",
    "Held",
    "Issue",
    "IssueKind",
    "IssueLedger",
    "describe",
    "held",
    "of_failure",
    "retry_text",
]


class IssueKind(enum.Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    SKIPPED = "skipped"


class Cause(enum.Enum):
    """Which case of graph-facts §17 a file's issue is (the words the change log uses)."""

    MALWARE = "malware"  # the listing flags it (the `malware` facet)
    MALWARE_DETECTED = "malware-detected"  # a download answered 403 malwareDetected
    PACKAGE = "package"  # inside a package (a OneNote notebook ...)
    CONTENT_MISMATCH = "content-mismatch"  # two downloads, same bytes, not the listed ones
    CONTENT_UNSTABLE = "content-unstable"  # two downloads, different bytes, neither listed
    LOCKED = "locked"  # 423: checked out or locked for editing
    ENCRYPTED = "encrypted"  # 423 notAllowed: its sensitivity label encrypts it
    GONE = "gone"  # 404 at download: deleted after the listing
    GAVE_UP = "gave-up"  # the download kept failing without getting further
    REFUSED = "refused"  # Graph or the file's host refused it for another reason
    LOCAL = "local"  # something local is in the way
    OTHER = "other"  # anything else: unsafe names, unread permissions, the network


_KIND = {
    Cause.MALWARE: IssueKind.SKIPPED,
    Cause.MALWARE_DETECTED: IssueKind.SKIPPED,
    Cause.PACKAGE: IssueKind.SKIPPED,
    Cause.CONTENT_MISMATCH: IssueKind.PERMANENT,
    Cause.CONTENT_UNSTABLE: IssueKind.PERMANENT,
    Cause.ENCRYPTED: IssueKind.PERMANENT,
}
# Issues that hold a file back from the plan while its version stays as it was: they were
# met by a download, which would meet them again. (The listing's own skips are found again
# by every run from the tree, and end when the tree says otherwise.)
_HOLDING = frozenset(
    {Cause.MALWARE_DETECTED, Cause.CONTENT_MISMATCH, Cause.CONTENT_UNSTABLE, Cause.ENCRYPTED}
)
# Lasting issues that only a change of the file ends (no retry after a while).
_UNTIL_CHANGED = frozenset({Cause.ENCRYPTED})
# Under which `verify` settings a lasting issue would happen again.
_REFUSING: dict[Cause, frozenset[str]] = {
    Cause.MALWARE_DETECTED: frozenset(VERIFY_MODES),
    Cause.ENCRYPTED: frozenset(VERIFY_MODES),
    Cause.CONTENT_MISMATCH: frozenset({"strict", "size"}),
    Cause.CONTENT_UNSTABLE: frozenset({"consistent", "strict", "size"}),
}
_LOCK_CODES = (
    "resourceLocked",
    "lockMismatch",
    "lockNotFoundOrAlreadyExpired",
    "lockOwnerMismatch",
)


@dataclass(frozen=True)
class Issue:
    """Why one file is not mirrored as listed: a cause and a line for people."""

    cause: Cause
    reason: str

    @property
    def kind(self) -> IssueKind:
        return _KIND.get(self.cause, IssueKind.TRANSIENT)


_DOWNLOAD_CAUSES = {
    "content-mismatch": Cause.CONTENT_MISMATCH,
    "content-unstable": Cause.CONTENT_UNSTABLE,
    "gave-up": Cause.GAVE_UP,
}


def of_failure(exc: BaseException) -> Cause:
    """The cause of a per-file failure."""
    if isinstance(exc, DownloadError):
        return _DOWNLOAD_CAUSES.get(exc.reason, Cause.OTHER)
    if not isinstance(exc, GraphError):
        return Cause.OTHER
    if exc.has_code("malwareDetected") or exc.has_code("virusSuspicious"):
        return Cause.MALWARE_DETECTED
    locked = any(exc.has_code(code) for code in _LOCK_CODES)
    if exc.status == 423 and exc.has_code("notAllowed") and not locked:
        return Cause.ENCRYPTED
    if exc.status == 423 or locked:
        return Cause.LOCKED
    return Cause.GONE if isinstance(exc, NotFoundError) else Cause.REFUSED


_DESCRIBED = {
    Cause.MALWARE_DETECTED: (
        "SharePoint detected malware in it and refused the download (403 malwareDetected)"
    ),
    Cause.LOCKED: "locked or checked out for editing (423 Locked); the local copy is kept",
    Cause.ENCRYPTED: (
        "encrypted by its sensitivity label: SharePoint refused the download (423 notAllowed)"
    ),
    Cause.GONE: "deleted after it was listed (404 at download); the next listing will say so",
}


def describe(cause: Cause, exc: BaseException) -> str:
    """A failure's line for the change log: the known cases in plain words, the rest as
    the error says."""
    return _DESCRIBED.get(cause) or str(exc)


def retry_text(kind: IssueKind, cause: Cause | None, retry_at: float | None) -> str:
    """When the file is tried again, in words (the change log's `retry`)."""
    if kind is IssueKind.TRANSIENT:
        return "next run"
    if cause is Cause.MALWARE:
        return "when SharePoint no longer flags it"
    if cause is Cause.PACKAGE:
        return "never (include_packages = true mirrors it)"
    if retry_at is None:
        return "when the file changes"
    return f"when the file changes, or after {_iso(retry_at)}"


def _iso(moment: float) -> str:
    when = datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class IssueLedger:
    """One run's per-file issues against the stored ones: which files wait (left out of
    the plan without a request), what the change log reports, what the store keeps."""

    stored: Mapping[str, FileError]
    now: float
    retry_after: float  # seconds a permanent issue waits when the file does not change
    current: dict[str, IssueRow] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)  # keys whose stored row stays as it is

    def waiting(self, versions: Mapping[str, str | None], verify: VerifyMode) -> dict[str, str]:
        """The files held back this run (item id -> the cause's word): a download met a
        lasting issue with the version the tree still lists, its time is not up, and the
        `verify` setting would refuse the bytes again. `versions` maps item ids to their
        cTag in the tree."""
        held: dict[str, str] = {}
        for key, row in self.stored.items():
            if row.cause is None or Cause(row.cause) not in _HOLDING:
                continue
            if verify not in _REFUSING[Cause(row.cause)]:
                continue  # the setting changed: this run would keep what it is served
            if key not in versions or versions[key] != row.ctag:
                continue  # the file changed, or left the tree
            if row.retry_at is not None and row.retry_at <= self.now:
                continue  # its time is up: tried again
            held[key] = row.cause
        return held

    def hold(self, key: str) -> None:
        """Keep a waiting file's stored issue as it is (this run did not try it)."""
        self.kept.add(key)

    def add(self, key: str, path: str, issue: Issue, ctag: str | None) -> str | None:
        """Record this run's issue for `key`; the text of its `retry` when the change log
        reports it, None when it was reported before (an unchanged skip)."""
        kind = issue.kind
        lasting = kind is IssueKind.PERMANENT and issue.cause not in _UNTIL_CHANGED
        retry_at = self.now + self.retry_after if lasting else None
        self.current[key] = IssueRow(
            path, issue.reason, kind.value, issue.cause.value, ctag, retry_at
        )
        before = self.stored.get(key)
        if (
            kind is IssueKind.SKIPPED
            and issue.cause not in _HOLDING
            and before is not None
            and (before.kind, before.ctag) == (kind.value, ctag)
            and _case(before.cause) == _case(issue.cause.value)
        ):
            return None
        return retry_text(kind, issue.cause, retry_at)


def _case(cause: str | None) -> str | None:
    """A cause, with the two ways of learning of malware taken as one case: a file refused
    at download time and flagged by the next listing is reported once."""
    return Cause.MALWARE.value if cause == Cause.MALWARE_DETECTED.value else cause


@dataclass(frozen=True)
class Held:
    """The files of the tree a run does not fetch: those inside packages (item id -> the
    package's key), when packages are not mirrored, which are out of the mirror's scope
    like filtered-out files, and those waiting after a lasting failure (item id -> its
    cause's word), which keep what the mirror holds of them, as do files flagged as
    malware."""

    packages: Mapping[str, str] = field(default_factory=dict)
    waiting: Mapping[str, str] = field(default_factory=dict)
    # The mirror's records of the files it keeps as they are (waiting, or flagged as malware
    # after they were mirrored): their content and place stay, their permissions follow.
    records: Mapping[str, MirrorFile] = field(default_factory=dict)


def ledger(state: StateStore, now: float, retry_after: float) -> IssueLedger:
    """This run's ledger over the issues the store keeps."""
    return IssueLedger({row.item_id: row for row in state.errors()}, now, retry_after)


def held(state: StateStore, ledger: IssueLedger | None, spec: TargetSpec) -> Held:
    """The files a run of `spec` does not fetch: inside packages (unless included), and,
    with a `ledger`, those waiting after a lasting failure."""
    packages = {} if spec.include_packages else state.package_files()
    if ledger is None:
        return Held(packages=packages)
    versions = state.item_versions(ledger.stored)
    waiting = ledger.waiting(versions, spec.verify)
    records = state.mirror_records([*waiting, *state.flagged_files()])
    return Held(packages=packages, waiting=waiting, records=records)
