"""The synthetic generator's troublesome-item knobs (graph-facts §17): exact, disjoint counts,
knobs at 0 leave the tenant as it was, and the listing shows what each file got."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ms365sync.emulator import Emulator, item_quirks, synthetic_tenant
from ms365sync.emulator.tenant.model import Item
from ms365sync.emulator.tenant.tenant import Tenant

NOW = 1_700_000_000.0
KNOBS = {
    "irm_share": "rewritten",
    "unstable_share": "unstable",
    "missing_hash_share": "missing-hash",
    "empty_hash_share": "empty-hash",
    "malware_share": "malware",
    "locked_share": "locked",
    "checked_out_share": "checked-out",
    "zero_byte_share": "zero-byte",
}


def _files(tenant: Tenant) -> list[Item]:
    """Every file outside the notebooks."""
    return [
        item
        for drive in tenant.drives()
        for item in drive.files()
        if item.parent is None or item.parent.package_type is None
    ]


def _listing(tenant: Tenant) -> list[dict[str, Any]]:
    """Every library's full delta listing, as a client would see it."""
    emulator = Emulator(tenant)
    app = emulator.registration
    session = emulator.session()
    token = session.post(
        f"https://login.microsoftonline.com/{tenant.tenant_id}/oauth2/v2.0/token",
        data={
            "client_id": app.client_id,
            "client_secret": app.secrets[0],
            "scope": "https://graph.microsoft.com/.default",
            "grant_type": "client_credentials",
        },
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    rows: list[dict[str, Any]] = []
    for drive in tenant.drives():
        url = f"https://graph.microsoft.com/v1.0/drives/{drive.id}/root/delta"
        while url:
            page = session.get(url).json()
            rows.extend(
                {k: v for k, v in entry.items() if k != "@microsoft.graph.downloadUrl"}
                for entry in page["value"]
            )
            url = page.get("@odata.nextLink", "")
    return rows


def test_knobs_at_zero_leave_the_tenant_unchanged() -> None:
    plain = synthetic_tenant(120, seed=7, clock=lambda: NOW, size_max=2048)
    zeroed = synthetic_tenant(
        120, seed=7, clock=lambda: NOW, size_max=2048, irm_share=0, packages=0
    )
    assert _listing(plain) == _listing(zeroed)


def test_each_knob_gives_an_exact_disjoint_share() -> None:
    tenant = synthetic_tenant(
        200,
        libraries=2,
        seed=3,
        clock=lambda: NOW,
        size_max=2048,
        **dict.fromkeys(KNOBS, 0.05),
    )
    files = _files(tenant)
    assert len(files) == 200
    got = Counter(name for item in files for name in item_quirks(item))
    assert got == Counter(dict.fromkeys(KNOBS.values(), 10))
    assert all(len(item_quirks(item)) <= 1 for item in files)


def test_packages_are_notebooks_of_two_sections() -> None:
    tenant = synthetic_tenant(20, libraries=2, seed=1, clock=lambda: NOW, packages=3)
    notebooks = [
        item for drive in tenant.drives() for item in drive.root.walk() if item.package_type
    ]
    assert len(notebooks) == 3
    for notebook in notebooks:
        assert sorted(notebook.children) == [
            "Open Notebook.onetoc2",
            "Section 1.one",
            "Section 2.one",
        ]
        assert item_quirks(notebook) == ("package",)


def test_quirks_are_deterministic_and_visible_in_the_listing() -> None:
    def build() -> Tenant:
        return synthetic_tenant(
            60, seed=9, clock=lambda: NOW, size_max=2048, malware_share=0.1, missing_hash_share=0.1
        )

    first, second = build(), build()
    assert [item_quirks(i) for i in _files(first)] == [item_quirks(i) for i in _files(second)]
    listing = _listing(first)
    assert sum("malware" in row for row in listing) == 6
    assert sum("file" in row and "hashes" not in row["file"] for row in listing) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"irm_share": 1.5}, "irm_share must be between 0 and 1"),
        ({"locked_share": -0.1}, "locked_share must be between 0 and 1"),
        ({"irm_share": 0.6, "malware_share": 0.6}, "add up to 1.2"),
        ({"packages": -1}, "packages must be >= 0"),
    ],
)
def test_impossible_knobs(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthetic_tenant(10, **kwargs)
