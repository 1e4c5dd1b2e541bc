"""A tenant's rehearsal copy (what a scenario is checked on): the same state and id sequence,
no shared mutable state with the tenant, the class's own rules, and deep trees copied."""

from __future__ import annotations

import pytest

from ms365sync.emulator import BytesContent, Role, Tenant
from ms365sync.emulator.tenant.tenant import MutationError

NOW = 1_700_000_000.0


def _tenant() -> Tenant:
    tenant = Tenant(seed=5, clock=lambda: NOW)
    tenant.add_user("Alice", "alice@contoso.onmicrosoft.com")
    site = tenant.add_site("contoso.sharepoint.com", "/sites/hr", "HR")
    drive = tenant.add_library(site, "Documents")
    tenant.add_file(drive, "a/b.txt", BytesContent(b"hello"))
    return tenant


def test_changes_on_the_copy_leave_the_tenant_untouched() -> None:
    tenant = _tenant()
    drive = tenant.library("hr", "Documents")
    seq = drive.journal.seq
    copy = tenant.rehearsal_copy()
    twin = copy.library("hr", "Documents")
    copy.delete(twin, "a")
    copy.add_folder(twin, "new")
    copy.grant(twin, "", "user:Alice", Role.READ)
    copy.add_user("Bob", "bob@contoso.onmicrosoft.com")
    assert tenant.item(drive, "a/b.txt").content is not None
    assert drive.find("new") is None
    assert drive.journal.seq == seq
    assert [u.display_name for u in tenant.users.values()] == ["Alice"]
    assert len(drive.root.grants or {}) == 3


def test_the_copy_draws_the_ids_the_tenant_would() -> None:
    tenant = _tenant()
    copy = tenant.rehearsal_copy()
    drive, twin = tenant.library("hr", "Documents"), copy.library("hr", "Documents")
    assert copy.add_folder(twin, "x").id == tenant.add_folder(drive, "x").id


def test_the_copy_shares_contents_but_not_items() -> None:
    tenant = _tenant()
    copy = tenant.rehearsal_copy()
    drive, twin = tenant.library("hr", "Documents"), copy.library("hr", "Documents")
    original, copied = tenant.item(drive, "a/b.txt"), copy.item(twin, "a/b.txt")
    assert copied is not original
    assert copied.content is original.content
    assert copied.parent is copy.item(twin, "a")
    assert twin.items[copied.id] is copied
    assert twin.site is copy.sites[twin.site.id]


def test_the_copy_keeps_the_rules_not_methods_replaced_on_the_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = _tenant()

    def refuse(*args: object) -> None:
        raise MutationError("patched")

    monkeypatch.setattr(tenant, "touch", refuse)
    copy = tenant.rehearsal_copy()
    copy.touch(copy.library("hr", "Documents"), "a/b.txt")  # the class's touch, not the patch
    with pytest.raises(MutationError, match="already has"):
        copy.add_folder(copy.library("hr", "Documents"), "A")


def test_a_folder_chain_deeper_than_the_recursion_limit_is_copied() -> None:
    tenant = _tenant()
    tenant.strict_names = False  # the chain's path is far beyond SharePoint's 400 characters
    drive = tenant.library("hr", "Documents")
    tenant.add_file(drive, ["d"] * 1500 + ["leaf.txt"], BytesContent(b"x"))
    copy = tenant.rehearsal_copy()
    leaf = copy.item(copy.library("hr", "Documents"), ["d"] * 1500 + ["leaf.txt"])
    assert leaf.content is not None
    assert leaf.path.count("/") == 1500
