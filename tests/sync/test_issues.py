"""Per-file issues (sync.issues) and the judgement of a download (sync.fetch): which cause a
failure is, when a file is tried again, what the change log reports once, and how far each
`verify` mode checks the bytes that came."""

from __future__ import annotations

import pytest

from ms365sync.errors import DownloadError, GraphError, NotFoundError
from ms365sync.graph.download import DownloadInfo
from ms365sync.models import PermissionSet, RemoteFile
from ms365sync.state.store import FileError
from ms365sync.sync.fetch import Verification, judge
from ms365sync.sync.issues import Cause, Issue, IssueKind, IssueLedger, of_failure
from ms365sync.target import VerifyMode

LISTED_HASH = "AQAAAAAAAAAAAAAAAAAAAAAAAAA="
OTHER_HASH = "AgAAAAAAAAAAAAAAAAAAAAAAAAA="
DAY = 86_400.0


def _remote(size: int = 10, qxh: str | None = LISTED_HASH) -> RemoteFile:
    return RemoteFile("i1", "a.pdf", "a.pdf", size, "c1", qxh, "e1", None, PermissionSet(()))


def _info(size: int = 10, qxh: str = LISTED_HASH) -> DownloadInfo:
    return DownloadInfo(size, qxh, attempts=1, resumes=0, url_refreshes=0)


@pytest.mark.parametrize(
    ("verify", "remote", "info", "ok", "verification"),
    [
        ("consistent", _remote(), _info(), True, None),
        ("strict", _remote(), _info(), True, None),
        ("consistent", _remote(), _info(qxh=OTHER_HASH), False, None),
        ("strict", _remote(), _info(size=11), False, None),
        ("size", _remote(), _info(qxh=OTHER_HASH), True, Verification.SIZE_ONLY),
        ("size", _remote(), _info(size=11), False, None),
        ("off", _remote(), _info(size=11, qxh=OTHER_HASH), True, Verification.UNVERIFIED),
        # Listed without a hash: the size is all there is, in every checking mode.
        ("consistent", _remote(qxh=None), _info(qxh=OTHER_HASH), True, Verification.SIZE_ONLY),
        ("strict", _remote(qxh=None), _info(qxh=OTHER_HASH), True, Verification.SIZE_ONLY),
        ("strict", _remote(qxh=None), _info(size=9), False, None),
    ],
)
def test_each_verify_mode_checks_as_far_as_it_says(
    verify: VerifyMode,
    remote: RemoteFile,
    info: DownloadInfo,
    ok: bool,
    verification: Verification | None,
) -> None:
    judged = judge(remote, info, verify)
    assert (judged.ok, judged.verification) == (ok, verification)
    assert bool(judged.problem) == (not ok)


def _graph(status: int, code: str, *inner: str, kind: type[GraphError] = GraphError) -> GraphError:
    return kind("refused", status=status, code=code, inner_codes=inner)


@pytest.mark.parametrize(
    ("failure", "cause", "kind"),
    [
        (_graph(403, "malwareDetected"), Cause.MALWARE_DETECTED, IssueKind.SKIPPED),
        (_graph(403, "accessDenied", "virusSuspicious"), Cause.MALWARE_DETECTED, IssueKind.SKIPPED),
        (_graph(423, "accessDenied", "resourceLocked"), Cause.LOCKED, IssueKind.TRANSIENT),
        (_graph(423, "notAllowed"), Cause.ENCRYPTED, IssueKind.PERMANENT),
        (_graph(423, "notAllowed", "resourceLocked"), Cause.LOCKED, IssueKind.TRANSIENT),
        (_graph(423, "resourceLocked"), Cause.LOCKED, IssueKind.TRANSIENT),
        (_graph(409, "resourceModified", "lockMismatch"), Cause.LOCKED, IssueKind.TRANSIENT),
        (_graph(404, "itemNotFound", kind=NotFoundError), Cause.GONE, IssueKind.TRANSIENT),
        (_graph(403, "accessDenied"), Cause.REFUSED, IssueKind.TRANSIENT),
        (
            DownloadError("x", reason="content-unstable", drive_id="d", item_id="i"),
            Cause.CONTENT_UNSTABLE,
            IssueKind.PERMANENT,
        ),
        (
            DownloadError("x", reason="content-mismatch", drive_id="d", item_id="i"),
            Cause.CONTENT_MISMATCH,
            IssueKind.PERMANENT,
        ),
        (
            DownloadError("x", reason="gave-up", drive_id="d", item_id="i"),
            Cause.GAVE_UP,
            IssueKind.TRANSIENT,
        ),
        (
            DownloadError("x", reason="changed", drive_id="d", item_id="i"),
            Cause.OTHER,
            IssueKind.TRANSIENT,
        ),
    ],
)
def test_a_failure_has_one_cause_and_kind(
    failure: Exception, cause: Cause, kind: IssueKind
) -> None:
    assert of_failure(failure) is cause
    assert Issue(cause, "why").kind is kind


def _stored(
    kind: str, cause: str, ctag: str | None = "c1", retry_at: float | None = None
) -> FileError:
    return FileError("i1", "a.pdf", "why", 1, kind, cause, ctag, retry_at, 0.0)


def test_a_lasting_failure_waits_for_a_new_version_or_its_time() -> None:
    now = 10 * DAY
    unstable = _stored("permanent", "content-unstable", retry_at=now + DAY)
    ledger = IssueLedger({"i1": unstable}, now, 7 * DAY)
    assert ledger.waiting({"i1": "c1"}, "consistent") == {"i1": "content-unstable"}
    assert ledger.waiting({"i1": "c2"}, "consistent") == {}  # the file changed: tried again
    assert ledger.waiting({}, "consistent") == {}  # it left the tree
    due = IssueLedger({"i1": _stored("permanent", "content-unstable", retry_at=now)}, now, DAY)
    assert due.waiting({"i1": "c1"}, "consistent") == {}  # its time is up
    # What another `verify` would keep is tried again under it.
    strict = IssueLedger({"i1": _stored("permanent", "content-mismatch")}, now, DAY)
    assert strict.waiting({"i1": "c1"}, "strict") == {"i1": "content-mismatch"}
    assert strict.waiting({"i1": "c1"}, "consistent") == {}
    assert ledger.waiting({"i1": "c1"}, "off") == {}
    flagged = IssueLedger({"i1": _stored("skipped", "malware-detected")}, now, DAY)
    assert flagged.waiting({"i1": "c1"}, "consistent") == {
        "i1": "malware-detected"
    }  # until it changes
    # Skips the listing decides, and transient failures, never hold a file back.
    for kind, cause in (("skipped", "malware"), ("skipped", "package"), ("transient", "locked")):
        assert (
            IssueLedger({"i1": _stored(kind, cause)}, now, DAY).waiting({"i1": "c1"}, "consistent")
            == {}
        )


def test_a_skip_is_reported_once_a_failure_each_time_it_is_met() -> None:
    now = 5.0
    ledger = IssueLedger({"i1": _stored("skipped", "malware")}, now, DAY)
    assert ledger.add("i1", "a.pdf", Issue(Cause.MALWARE, "flagged"), "c1") is None
    assert ledger.add("i1", "a.pdf", Issue(Cause.MALWARE, "flagged"), "c2") is not None
    assert ledger.add("i2", "b.one", Issue(Cause.PACKAGE, "inside"), "c1") is not None
    assert ledger.add("i3", "c.txt", Issue(Cause.LOCKED, "locked"), "c1") == "next run"
    retry = ledger.add("i4", "d.pdf", Issue(Cause.CONTENT_UNSTABLE, "differs"), "c1")
    assert retry == "when the file changes, or after 1970-01-02T00:00:05Z"
    assert ledger.current["i4"].retry_at == now + DAY
    assert ledger.current["i3"].retry_at is None
