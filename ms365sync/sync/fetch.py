"""One file's content, checked against its listing as the target's `verify` setting says.

SharePoint serves some files with other bytes than it lists (graph-facts §17.1: libraries
with IRM, Office and PDF files it rewrites, notebook sections), and the listing may lack
a hash altogether (§17.2). So a download is judged here, not in the Graph layer:

- "consistent" (the default): the size, then the quickXorHash when listed. A mismatch
  earns a second download through a fresh URL, after reading the item again: if the item
  changed meanwhile, the second download is judged against its new listing; if not, and
  the second download gives exactly the bytes of the first, the service serves them
  consistently and they are kept (`mismatch-accepted`). Bytes that differ between the two
  downloads are never kept (`content-unstable`: permanent for this version of the item).
- "strict": as "consistent", but mismatching bytes are never kept (`content-mismatch`).
- "size": the size only. "off": nothing.

A file listed without a hash is checked by its size in every mode (`size-only`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import BinaryIO

from ms365sync.errors import DownloadError, DownloadFailure, NotFoundError
from ms365sync.graph.client import GraphClient
from ms365sync.graph.convert import iso
from ms365sync.graph.download import DownloadInfo, same_hash
from ms365sync.localfs.mirror import Mirror
from ms365sync.localfs.tempfile import TempFile
from ms365sync.models import RemoteFile
from ms365sync.sync.stop import Abandoned
from ms365sync.target import DOWNLOAD_GIVE_UP_S, VerifyMode

__all__ = ["Fetcher", "Verification", "judge"]


class Verification(enum.Enum):
    """How far a placed file's bytes were checked, when not fully (the change log's word)."""

    MISMATCH_ACCEPTED = "mismatch-accepted"  # served consistently, but not as listed
    SIZE_ONLY = "size-only"  # no hash to compare (none listed, or verify = "size")
    UNVERIFIED = "unverified"  # verify = "off"


@dataclass(frozen=True)
class Judged:
    """A download against its listing: `ok`, and how far it was checked."""

    ok: bool
    verification: Verification | None = None
    problem: str = ""


def judge(remote: RemoteFile, info: DownloadInfo, verify: VerifyMode) -> Judged:
    """Whether what came (`info`) is the listed version of `remote`, as far as `verify`
    checks it."""
    if verify == "off":
        return Judged(True, Verification.UNVERIFIED)
    if info.size != remote.size:
        return Judged(False, problem=f"{info.size} bytes served, {remote.size} listed")
    if verify == "size" or remote.quick_xor_hash is None:
        return Judged(True, Verification.SIZE_ONLY)
    if not same_hash(remote.quick_xor_hash, info.quick_xor_hash):
        return Judged(False, problem="the quickXorHash differs from the listed one")
    return Judged(True)


@dataclass(frozen=True)
class Got:
    """A verified download: the version it is (re-read when it changed), where its bytes
    are, how many came, their quickXorHash, and how far they were checked."""

    remote: RemoteFile
    temp: TempFile
    size: int
    quick_xor_hash: str
    verification: Verification | None


@dataclass
class Fetcher:
    """Downloads one file at a time into temporary files beside their destinations."""

    client: GraphClient
    mirror: Mirror
    drive_id: str
    verify: VerifyMode = "consistent"
    give_up: float = DOWNLOAD_GIVE_UP_S
    writing: Callable[[], AbstractContextManager[None]] | None = None  # the stop's fence
    fenced: Callable[[TempFile], BinaryIO] | None = None

    def fetch(self, remote: RemoteFile, url: str | None) -> Got:
        """Download `remote` (through `url`, listed with it, when given) and judge it.

        Raises:
            DownloadError: the bytes are not the listed ones (reason "content-mismatch" or
                "content-unstable" when the item did not change, "changed" when it changed
                during the download), or the download gave up.
            NotFoundError, GraphError, TransportError: the download was refused or failed.
            Abandoned: a stop abandoned the download.
            LocalStorageError: the temporary file could not be written.
        """
        temp, first = self._download(remote, url)
        verdict = judge(remote, first, self.verify)
        if verdict.ok:
            return Got(remote, temp, first.size, first.quick_xor_hash, verdict.verification)
        self.drop(temp)
        # Read the item again: it may have changed since it was listed. Then fetch through
        # /content, never the listed URL (it may still serve what was listed).
        fresh = self._reread(remote)
        temp, second = self._download(fresh, None)
        again = judge(fresh, second, self.verify)
        if again.ok:
            return Got(fresh, temp, second.size, second.quick_xor_hash, again.verification)
        unchanged = _version(fresh) == _version(remote)
        same_bytes = (first.size, first.quick_xor_hash) == (second.size, second.quick_xor_hash)
        if unchanged and same_bytes and self.verify == "consistent":
            accepted = Verification.MISMATCH_ACCEPTED
            return Got(fresh, temp, second.size, second.quick_xor_hash, accepted)
        self.drop(temp)
        if not unchanged:
            raise self._error(
                fresh, "changed", f"it changed while it was downloaded ({again.problem})"
            )
        if same_bytes:
            text = f"two downloads served the same bytes, not the listed ones ({again.problem})"
            if self.verify == "strict":
                text += '; verify = "consistent" would keep them'
            raise self._error(fresh, "content-mismatch", text)
        text = f"two downloads served different bytes, neither the listed ones ({again.problem})"
        raise self._error(fresh, "content-unstable", text)

    def _download(self, remote: RemoteFile, url: str | None) -> tuple[TempFile, DownloadInfo]:
        with self._writing():
            temp = self.mirror.open_temp(remote.local_path)
        try:
            info = self.client.download(
                self.drive_id,
                remote.item_id,
                self.fenced(temp) if self.fenced is not None else temp.file,
                expected_size=remote.size,
                expected_hash=remote.quick_xor_hash,
                url=url,
                give_up=self.give_up,
                name=remote.path,
                verify=False,
            )
        except BaseException:
            self.drop(temp)
            raise
        return temp, info

    def _writing(self) -> AbstractContextManager[None]:
        if self.writing is None:
            return nullcontext()
        return self.writing()

    def drop(self, temp: TempFile) -> None:
        """Discard a temporary file, unless the fence is closed (the journal has it)."""
        try:
            with self._writing():
                self.mirror.discard(temp)
        except Abandoned:
            pass

    def _reread(self, remote: RemoteFile) -> RemoteFile:
        item = self.client.get_item(self.drive_id, remote.item_id)
        if item.file is None:
            raise NotFoundError(f"item {remote.item_id} is no longer a file", status=404)
        return replace(
            remote,
            size=item.size or 0,
            ctag=item.c_tag,
            etag=item.e_tag,
            quick_xor_hash=item.quick_xor_hash,
            modified=iso(item.last_modified_date_time),
        )

    def _error(self, remote: RemoteFile, reason: DownloadFailure, message: str) -> DownloadError:
        return DownloadError(
            message,
            reason=reason,
            drive_id=self.drive_id,
            item_id=remote.item_id,
        )


def _version(remote: RemoteFile) -> tuple[int, str | None, str | None]:
    return remote.size, remote.ctag, remote.quick_xor_hash
