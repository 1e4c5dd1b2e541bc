"""The tenant's troublesome items (graph-facts §17): which changes are stamped in the journal,
what they do to eTag and cTag, what downloads get, and that a rehearsal copy keeps them."""

from __future__ import annotations

import pytest

from ms365sync.emulator import BytesContent, Tenant
from ms365sync.emulator.tenant.model import Hashes, Served
from ms365sync.emulator.tenant.quirks import DownloadRefusedError, Refusal
from ms365sync.emulator.tenant.tenant import MutationError

NOW = 1_700_000_000.0
PATH = "a/b.txt"


def _tenant() -> Tenant:
    tenant = Tenant(seed=5, clock=lambda: NOW)
    tenant.add_user("Alice", "alice@contoso.onmicrosoft.com")
    site = tenant.add_site("contoso.sharepoint.com", "/sites/hr", "HR")
    drive = tenant.add_library(site, "Documents")
    tenant.add_file(drive, PATH, BytesContent(b"hello"))
    return tenant


@pytest.mark.parametrize(
    ("apply", "stamped"),
    [
        (lambda t, d: t.flag_malware(d, PATH, "EICAR"), True),
        (lambda t, d: t.check_out(d, PATH, "alice@contoso.onmicrosoft.com"), True),
        (lambda t, d: t.lock_file(d, PATH), False),
        (lambda t, d: t.set_vanishes(d, PATH, True), False),
        (lambda t, d: t.set_served(d, PATH, "unstable"), False),
        (lambda t, d: t.set_hashes(d, PATH, "empty"), False),
    ],
)
def test_flags_are_stamped_as_metadata_changes_or_not_at_all(apply: object, stamped: bool) -> None:
    tenant = _tenant()
    drive = tenant.library("hr", "Documents")
    item = tenant.item(drive, PATH)
    seq, etag_v, ctag_v = drive.journal.seq, item.etag_v, item.ctag_v
    apply(tenant, drive)  # type: ignore[operator]
    assert drive.journal.seq == seq + stamped
    assert (item.etag_v, item.ctag_v) == (etag_v + stamped, ctag_v)


def test_downloads_are_refused_for_malware_and_locks_and_vanish_once() -> None:
    tenant = _tenant()
    drive = tenant.library("hr", "Documents")
    item_id = tenant.item(drive, PATH).id
    tenant.flag_malware(drive, PATH)
    with pytest.raises(DownloadRefusedError) as refused:
        tenant.open_download(drive, item_id)
    assert refused.value.refusal is Refusal.MALWARE
    tenant.clear_malware(drive, PATH)
    tenant.lock_file(drive, PATH)
    with pytest.raises(DownloadRefusedError) as refused:
        tenant.open_download(drive, item_id)
    assert refused.value.refusal is Refusal.LOCKED
    tenant.unlock_file(drive, PATH)
    assert tenant.open_download(drive, item_id).read_all() == b"hello"
    tenant.set_vanishes(drive, PATH)
    with pytest.raises(DownloadRefusedError) as refused:
        tenant.open_download(drive, item_id)
    assert refused.value.refusal is Refusal.GONE
    assert drive.find(PATH) is None
    assert item_id in drive.tombstones


def test_check_out_needs_a_known_user_and_flags_need_a_file() -> None:
    tenant = _tenant()
    drive = tenant.library("hr", "Documents")
    with pytest.raises(MutationError):
        tenant.check_out(drive, PATH, "nobody@contoso.onmicrosoft.com")
    with pytest.raises(MutationError, match="is a folder"):
        tenant.flag_malware(drive, "a")


def test_a_rehearsal_copy_keeps_every_quirk() -> None:
    tenant = _tenant()
    drive = tenant.library("hr", "Documents")
    tenant.add_package(drive, "Notebook")
    tenant.flag_malware(drive, PATH, "EICAR")
    tenant.check_out(drive, PATH, "alice@contoso.onmicrosoft.com")
    tenant.lock_file(drive, PATH)
    tenant.set_vanishes(drive, PATH)
    tenant.set_served(drive, PATH, Served.UNSTABLE)
    tenant.set_hashes(drive, PATH, Hashes.MISSING)
    copy = tenant.rehearsal_copy()
    twin_drive = copy.library("hr", "Documents")
    twin = copy.item(twin_drive, PATH)
    assert twin is not tenant.item(drive, PATH)
    assert (twin.malware, twin.locked, twin.vanishes) == ("EICAR", True, True)
    assert twin.checked_out_by == tenant.user("alice@contoso.onmicrosoft.com").id
    assert (twin.served, twin.hashes) == (Served.UNSTABLE, Hashes.MISSING)
    assert copy.item(twin_drive, "Notebook").package_type == "oneNote"
